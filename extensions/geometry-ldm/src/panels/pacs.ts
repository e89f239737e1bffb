/**
 * The panels' PACS I/O over the viewer's own DICOMweb root (same origin: the
 * server or nginx proxies to the PACS and adds its credentials; the browser
 * holds none). Requests go through dicomweb-client (the library OHIF's own
 * DICOMweb data source uses) unless a `fetch` is injected (tests, or callers
 * that want the plain-fetch transport). Reading uses the shared reader (readSeriesLayout, then readSeriesPixels of the
 * slices a job needs: frames in their
 * stored transfer syntax, decoded here with the Cornerstone codecs whose wasm
 * the server serves under `codecWasmUrl`, into the page's volume memory, whose
 * pages a Web Worker faults in on a cross-origin-isolated page); writing uses the shared writers
 * (writeDerivedSeries, writeSyntheticStudy) and STOW with a verified report.
 */
import { defaultCodecs } from '../dicom/codecs';
import { createBrowserDecodePool } from '../dicom/browserDecodePool';
import { pageVolumeMemory } from '../dicom/browserVolumeMemory';
import { pooledCodecs } from '../dicom/decodePool';
import {
  readSeriesLayout,
  readSeriesPixels,
  type ReadSeriesResult,
  type SeriesLayout,
} from '../dicom/readSeries';
import { createDicomwebClientTransport } from '../dicom/dicomwebClientTransport';
import { createFetchTransport, type DicomwebTransport, type HeaderProvider } from '../dicom/transport';
import { deterministicUid, newUid } from '../dicom/uids';
import type { StowOptions } from '../dicom/stow';
import {
  prepareDerivedSeries,
  storeDerivedSeries,
  type DerivedSeriesRequest,
  type DerivedSeriesResult,
  type ModelInfo,
  type PreparedDerivedSeries,
} from '../dicom/writeDerivedSeries';
import {
  writeSyntheticStudy,
  type GenerationParameters,
  type SyntheticStudyResult,
} from '../dicom/writeSyntheticStudy';
import type { Volume } from '../volume/volume';

export interface PacsOptions {
  /** DICOMweb root, e.g. `${location.origin}/dicom-web`. */
  readonly root: string;
  /** Directory URL of openjpegwasm_decode.wasm and charlswasm_decode.wasm (ends with '/'). */
  readonly codecWasmUrl: string;
  /** Extra request headers (an OIDC token in deployments that use one; none locally). */
  readonly headers?: HeaderProvider;
  /** Use the plain-fetch transport with this fetch instead of dicomweb-client. */
  readonly fetch?: typeof fetch;
  /** STOW-RS batching and retries (defaults: stow.ts). */
  readonly stow?: Pick<StowOptions, 'maxBatchInstances' | 'maxBatchBytes' | 'retries' | 'backoffMs'>;
  /**
   * URL of decode-worker.js: compressed frames are decoded by one such worker per core
   * (dicom/browserDecodePool.ts); without it, or where workers cannot start, in this thread.
   */
  readonly decodeWorkerUrl?: string;
}

export interface SyntheticSample {
  readonly volume: Volume;
  readonly seed: number;
  readonly index: number;
}

/** Generation parameters of a run (each sample adds its own seed and index). */
export type RunParameters = Pick<
  GenerationParameters,
  'grid' | 'spacingMm' | 'fov' | 'rotationDeg' | 'sampler' | 'model'
> &
  Readonly<Record<string, unknown>>;

/** What fixes a synthetic save's UIDs and dates: a random key per run and the first attempt's time. */
export interface SaveIdentity {
  readonly key: string;
  readonly createdAt: Date;
}

export const newSaveIdentity = (): SaveIdentity => ({ key: newUid(), createdAt: new Date() });

export interface Pacs {
  readonly transport: DicomwebTransport;
  /** A series' headers and geometry, judged (no pixel data): a job sizes its region from it. */
  readLayout(
    studyInstanceUid: string,
    seriesInstanceUid: string,
    options?: { readonly bridgeGaps?: boolean },
  ): Promise<SeriesLayout>;
  /**
   * The pixels of a layout: every slice, or only slices [slab.start, slab.start + slab.count) of
   * a regular series (a region's slices; a series that must be resampled is read whole).
   */
  readPixels(
    layout: SeriesLayout,
    onProgress?: (done: number, total: number) => void,
    options?: {
      readonly bridgeGaps?: boolean;
      readonly slab?: { readonly start: number; readonly count: number };
    },
  ): Promise<ReadSeriesResult>;
  /** Builds the derived series (numbers from the PACS); sends nothing. */
  prepareDerived(req: DerivedSeriesRequest): Promise<PreparedDerivedSeries>;
  /** Stores prepared series; again after a failure, it completes the same series. */
  storeDerived(
    prepared: PreparedDerivedSeries,
    options?: { readonly withUncertainty?: boolean },
  ): Promise<DerivedSeriesResult>;
  /**
   * All samples of one generation run as series of ONE new synthetic study. Its UIDs and dates
   * derive from `identity`: the same identity again (Save after a failed Save) completes the
   * same study instead of writing a second one.
   */
  saveSynthetic(
    samples: readonly SyntheticSample[],
    generation: RunParameters,
    onSeries?: (done: number, total: number) => void,
    identity?: SaveIdentity,
  ): Promise<SyntheticStudyResult[]>;
}

export function createPacs(options: PacsOptions): Pacs {
  const headers = options.headers ? { headers: options.headers } : {};
  const transport = options.fetch
    ? createFetchTransport({ root: options.root, ...headers, fetch: options.fetch })
    : createDicomwebClientTransport({ root: options.root, ...headers });
  const inPlace = defaultCodecs({
    openjpeg: { wasmUrl: `${options.codecWasmUrl}openjpegwasm_decode.wasm` },
    charls: { wasmUrl: `${options.codecWasmUrl}charlswasm_decode.wasm` },
  });
  const codecs = options.decodeWorkerUrl
    ? pooledCodecs(createBrowserDecodePool(options.decodeWorkerUrl, options.codecWasmUrl), inPlace)
    : inPlace;
  return {
    transport,
    readLayout: (study, series, options) =>
      readSeriesLayout(transport, study, series, {
        irregular: 'resample',
        bridgeGaps: Boolean(options?.bridgeGaps),
      }),
    readPixels: (layout, onProgress, options) =>
      // geometry, resampling and gaps were decided by the layout (readLayout's options)
      readSeriesPixels(transport, layout, {
        codecs,
        // a cross-origin-isolated page faults the volume's pages in on a second thread
        volumeMemory: pageVolumeMemory(),
        ...(options?.slab ? { slab: options.slab } : {}),
        ...(onProgress ? { onProgress } : {}),
      }),
    prepareDerived: (req) => prepareDerivedSeries(transport, req),
    storeDerived: (prepared, opts) => storeDerivedSeries(transport, prepared, { ...options.stow, ...opts }),
    async saveSynthetic(samples, generation, onSeries, identity = newSaveIdentity()) {
      // One study, one frame of reference and one synthetic patient for the whole run.
      const uid = (what: string) => deterministicUid(`${identity.key}/${what}`);
      const study = uid('study');
      const frameOfReference = uid('frame-of-reference');
      const patientId = `SYNTH-${study.slice(-12)}`;
      const out: SyntheticStudyResult[] = [];
      for (const s of samples) {
        out.push(
          await writeSyntheticStudy(
            transport,
            {
              volume: s.volume,
              generation: { ...generation, seed: s.seed, sample: s.index },
              patient: { kind: 'synthetic', id: patientId },
              uids: {
                study,
                series: uid(`series/${s.index}`),
                frameOfReference,
                instance: (k) => uid(`series/${s.index}/instance/${k}`),
              },
              createdAt: identity.createdAt,
            },
            options.stow,
          ),
        );
        onSeries?.(out.length, samples.length);
      }
      return out;
    },
  };
}

export function modelInfo(card: { name: string; version: string }, what: string): ModelInfo {
  return { name: `${card.name} ${what}`, version: card.version };
}
