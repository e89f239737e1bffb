/**
 * WADO-RS series -> Volume (unit 'HU', Float32) with exact geometry.
 *
 * metadata -> typed headers -> checks (CT, single-frame, UIDs, geometry tags,
 * one grid) -> slice stack sorted along the normal -> frames fetched in the
 * stored transfer syntax (transfer-syntax=*) and decoded on the client ->
 * stored * RescaleSlope + RescaleIntercept (float64 maths, stored as float32).
 *
 * Non-uniform spacing and gantry tilt end in typed errors by default
 * (`irregular: 'error'`): 'gantry-tilt' whenever the stack is tilted (also when
 * its gaps vary too: details.nonUniform says so), else 'non-uniform-spacing'.
 * With `irregular: 'resample'` the stack is resampled exactly onto a regular,
 * orthogonal grid (volume/sliceStackResample.ts).
 *
 * Before any geometry: instances whose ImageType says LOCALIZER are dropped (a scout that
 * shares the series is not a slice of it), fewer than `minSlices` (default 4) slices are
 * refused ('too-few-slices'), and a hole in the stack (geometry/sliceHoles.ts: a gap over
 * 1.5x the median spacing and the slice thickness) is refused ('slice-gap', naming where)
 * unless `bridgeGaps` is set: then the result lists the bridged holes.
 * After reading, the HU must be plausible CT (huPlausibility.ts) or 'implausible-values'.
 *
 * The pixel module is taken per instance: each frame is decoded with its own
 * BitsAllocated / BitsStored / PixelRepresentation and rescaled with its own
 * slope and intercept (validateCtSlices refuses mixed BitsAllocated or
 * PixelRepresentation and a HighBit other than BitsStored - 1).
 */
import {
  GeometryError,
  regularGeometry,
  sliceHoles,
  type SliceHole,
  sliceStack,
  stackReport,
  type GeometryTolerances,
  type RegularGeometry,
  type SliceStack,
} from '../geometry';
import { makeVolume, type Volume } from '../volume/volume';
import { resampleSliceStack } from '../volume/sliceStackResample';
import { defaultCodecs } from './codecs';
import { decodeFrame, TRANSFER_SYNTAX, type FrameCodecs, type FrameInfo } from './decodeFrame';
import { DicomError, type DicomErrorCode } from './errors';
import { checkPlausibleHu, HuConversion } from './huPlausibility';
import { expandEnhancedFrames, sliceName } from './enhancedCt';
import {
  isLocalizer,
  parseInstanceMetadata,
  validateCtSlices,
  type InstanceHeader,
} from './instanceMetadata';
import { forEachLimit } from './forEachLimit';
import { plainVolumeMemory, type VolumeMemory } from './volumeMemory';
import { ChunkedBytes } from './chunkedBytes';
import { headerParameter, type MultipartPart } from './multipart';
import { retrieveSeriesMetadata } from './qido';
import {
  ACCEPT_ANY_FRAME,
  ACCEPT_ANY_INSTANCE,
  ACCEPT_EXPLICIT_LE_FRAME,
  getMultipart,
  type DicomwebTransport,
} from './transport';
import { part10Frame, part10PixelData, type Part10PixelData } from './part10PixelData';
import { TAG } from './dicomJson';

const NATIVE_SYNTAXES: ReadonlySet<string> = new Set([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
  TRANSFER_SYNTAX.explicitBig,
]);

/**
 * PixelPaddingValue as the decoded stored values show it: its VR (US or SS) follows
 * PixelRepresentation, but files in the wild write the bit pattern of a negative value as US
 * (LIDC: 63536 for -2000); compare in the frame's signedness.
 */
function storedPadding(h: InstanceHeader): number | null {
  const p = h.pixelPaddingValue;
  if (p == null) return null;
  const bits = h.bitsAllocated ?? 16;
  const span = 2 ** bits;
  if (h.pixelRepresentation === 1 && p >= span / 2) return p - span;
  if (h.pixelRepresentation !== 1 && p < 0) return p + span;
  return p;
}

/** The PixelData BulkDataURI of an instance as a path under the DICOMweb root (null when the server gives none). */
function pixelDataBulkPath(h: InstanceHeader): string | null {
  const uri = (h.json[TAG.PixelData] as { BulkDataURI?: unknown } | undefined)?.BulkDataURI;
  if (typeof uri !== 'string') return null;
  const at = uri.indexOf('studies/');
  return at >= 0 ? uri.slice(at) : null;
}

/** The pixel module does not describe PixelData of `length` bytes: the typed error, else null. */
function nativeLengthError(h: InstanceHeader, length: number): DicomError | null {
  const expected = h.rows! * h.columns! * (h.bitsAllocated! / 8) * h.numberOfFrames;
  if (length === expected || length === expected + 1) return null;
  return new DicomError(
    'decode-failed',
    `instance ${h.sopInstanceUid}: PixelData holds ${length} bytes, but Rows ${h.rows} x Columns ${h.columns} x ` +
      `BitsAllocated ${h.bitsAllocated}${h.numberOfFrames > 1 ? ` x ${h.numberOfFrames} frames` : ''} needs ${expected}: the pixel module does not describe the data`,
    { instance: h.sopInstanceUid, bytes: length, expected },
  );
}

/**
 * WADO-RS frames/1 of a native instance is cut from PixelData by the header's Rows x Columns x
 * BitsAllocated, so a header that misdescribes the data (16-bit data declared 8-bit) still
 * yields a frame of the expected size, of garbage. One instance per series is checked against
 * its whole PixelData value (bulk data): all instances share the pixel module (validateCtSlices).
 * A server that offers no bulk data skips the check. (Series-level retrieval has every
 * instance's whole PixelData and checks each.)
 */
async function checkNativePixelDataLength(transport: DicomwebTransport, h: InstanceHeader): Promise<void> {
  const path = pixelDataBulkPath(h);
  if (!path) return;
  let length: number;
  try {
    const { parts } = await getMultipart(
      transport,
      path,
      'multipart/related; type="application/octet-stream"',
    );
    if (parts.length !== 1) return;
    length = parts[0].body.length;
  } catch {
    return;
  }
  const error = nativeLengthError(h, length);
  if (error) throw error;
}

/** Series-level retrieval is used up to this many estimated bytes (its answer is held whole). */
export const SERIES_RETRIEVAL_MAX_BYTES = 256 * 2 ** 20;

/**
 * Every instance of a series in one WADO-RS request (as stored: transfer-syntax=*), by SOP
 * Instance UID. Null when the PACS refuses it (any error but 401/403: Orthanc answers 500 for
 * syntaxes it cannot send as stored), the request fails, or the answer holds no usable
 * instance: the caller reads frame by frame then.
 */
async function retrieveSeriesPixelData(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
  bounds: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<SeriesPixelData | null> {
  const enc = encodeURIComponent;
  const path = `studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}`;
  let parts: MultipartPart<ChunkedBytes>[];
  try {
    // no retries: a refusal (Orthanc's 500 for a syntax it cannot send as stored) is final, and
    // the per-frame reading that follows retries on its own
    ({ parts } = await getMultipart(transport, path, ACCEPT_ANY_INSTANCE, bounds));
  } catch (e) {
    if ((e as { code?: string }).code === 'pacs-unauthorized') throw e;
    return null;
  }
  const bySop = new Map<string, Part10PixelData>();
  let bytes = 0;
  for (const part of parts) {
    const p = part10PixelData(part.body);
    if (!p || !p.sopInstanceUid) continue;
    bySop.set(p.sopInstanceUid, p);
    bytes += p.native ? p.native.length : p.encapsulated!.fragments.reduce((n, f) => n + f.length, 0);
  }
  return bySop.size ? { bySop, bytes } : null;
}

interface SeriesPixelData {
  readonly bySop: Map<string, Part10PixelData>;
  readonly bytes: number;
}

/**
 * A series-level request started before the metadata arrived (readSeries): `data` settles to
 * the answer or null, never rejects unless the PACS refused the credentials; `drop()` aborts
 * it when the metadata says it is not wanted.
 */
interface PrefetchedSeries {
  readonly data: Promise<SeriesPixelData | null>;
  drop(): void;
}

export interface ReadSeriesOptions {
  /** Codecs by transfer syntax (default: defaultCodecs()). */
  readonly codecs?: FrameCodecs;
  /** What to do with non-uniform spacing or gantry tilt: a typed error (default) or exact resampling. */
  readonly irregular?: 'error' | 'resample';
  readonly tolerances?: Partial<GeometryTolerances>;
  /** Interpolate across holes in the stack instead of refusing them (default false). */
  readonly bridgeGaps?: boolean;
  /**
   * 'plausible-ct' (default): refuse HU far outside what CT holds (huPlausibility.ts).
   * 'none': any values (round-trip checks of stored test volumes; never for a job's source).
   */
  readonly valueCheck?: 'plausible-ct' | 'none';
  /** Fewer slices than this are refused (default 4). */
  readonly minSlices?: number;
  /** Retries of a frame request after a network error or HTTP 5xx (default 3; 4xx is never retried). */
  readonly retries?: number;
  /** First retry delay in ms, doubled each time (default 250). */
  readonly backoffMs?: number;
  /** Parallel frame requests and decodes (default 4). */
  readonly concurrency?: number;
  /**
   * How pixel data is fetched. 'series': one series-level request for every instance (one
   * round trip; measured about twice the rate of per-frame requests on loopback, BENCHMARKS.md);
   * 'frames': one request per frame. 'auto' (default): 'series' when the whole series is read
   * and its frames are estimated at most SERIES_RETRIEVAL_MAX_BYTES, else 'frames'. A refused
   * series-level request, or an instance it cannot use, falls back to frames.
   */
  readonly retrieval?: 'auto' | 'series' | 'frames';
  /** Largest series read with one series-level request (default SERIES_RETRIEVAL_MAX_BYTES). */
  readonly seriesRetrievalMaxBytes?: number;
  readonly onProgress?: (framesDone: number, framesTotal: number) => void;
  /** Where the HU volume is allocated (default: a fresh Float32Array; volumeMemory.ts). */
  readonly volumeMemory?: VolumeMemory;
}

export interface ReadSeriesResult {
  readonly volume: Volume;
  /** Geometry of the stored slices (for a resampled read: of the stack; `resampled` says so). */
  readonly geometry: {
    readonly dims: RegularGeometry['dims'];
    readonly stack: SliceStack;
    readonly report: RegularGeometry['report'];
    readonly resampled: boolean;
    /** Holes interpolated across (only with bridgeGaps; empty otherwise). */
    readonly bridgedGaps: readonly SliceHole[];
    /** LOCALIZER instances left out of the volume. */
    readonly localizersDropped: number;
  };
  /** Instance headers in k order (ascending along the slice normal). */
  readonly instances: readonly InstanceHeader[];
  /** Transfer syntaxes the frames arrived in. */
  readonly transferSyntaxUids: readonly string[];
  /** True when the PACS refused frames as stored and sent them transcoded to explicit VR little endian. */
  readonly transcodedByPacs?: boolean;
  /** Bytes of frame data received (pixel data only: no headers). */
  readonly bytesReceived: number;
  /** How the frames came: one series-level request, one request per frame, or both (fallbacks). */
  readonly retrieval: 'series' | 'frames' | 'mixed';
}

const GEOMETRY_CODE: Record<string, DicomErrorCode> = {
  'missing-tag': 'missing-geometry',
  'contradictory-tags': 'mixed-series',
  'single-slice': 'missing-geometry',
  'non-uniform-spacing': 'non-uniform-spacing',
  'gantry-tilt': 'gantry-tilt',
  'mixed-orientation': 'mixed-series',
  'duplicate-position': 'mixed-series',
  'misaligned-slice': 'mixed-series',
  'singular-affine': 'missing-geometry',
};

/** GeometryError -> DicomError with the matching code (other errors pass through). */
export function toDicomError(e: unknown): unknown {
  if (e instanceof GeometryError) {
    return new DicomError(GEOMETRY_CODE[e.code] ?? 'missing-geometry', e.message, {
      ...e.details,
      geometryCode: e.code,
    });
  }
  return e;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A read that a PACS failed transiently (network error, HTTP 5xx) is tried again, as STOW is
 * (stow.ts): one busy moment of the PACS must not end a job of many frames. 4xx answers and
 * decoding problems are final.
 */
export async function withRetries<T>(fn: () => Promise<T>, retries: number, backoffMs: number): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      const status = (e as { details?: { status?: number } }).details?.status;
      const transient = code === 'network' || (code === 'pacs-error' && (status ?? 0) >= 500);
      if (!transient || attempt >= retries) {
        if (transient && e instanceof DicomError)
          throw new DicomError(e.code, `${e.message} (after ${attempt + 1} attempts)`, {
            ...e.details,
            attempts: attempt + 1,
          });
        throw e;
      }
      await sleep(backoffMs * 2 ** attempt);
    }
  }
}

/** Header checks and geometry only (no pixel data): throws the typed error a full read would. */
export const DEFAULT_MIN_SLICES = 4;

export interface SeriesGeometry {
  readonly geometry: RegularGeometry | null;
  readonly stack: SliceStack;
  readonly report: RegularGeometry['report'];
  /** The instances that make the volume (localizers dropped), in the input order: stack.order indexes them. */
  readonly headers: readonly InstanceHeader[];
  readonly localizersDropped: number;
  /** Holes in the stack (bridged: only returned when options.bridgeGaps). */
  readonly holes: readonly SliceHole[];
}

function holeMessage(h: SliceHole, ordered: readonly InstanceHeader[], all: number): string {
  const a = ordered[h.k] ? sliceName(ordered[h.k]) : null;
  const b = ordered[h.k + 1] ? sliceName(ordered[h.k + 1]) : null;
  return (
    `a gap of ${h.gapMm.toFixed(1)} mm between the slices at ${h.fromMm.toFixed(1)} and ${h.toMm.toFixed(1)} mm ` +
    `along the slice normal (${(h.gapMm / h.medianGapMm).toFixed(1)}x the usual ${h.medianGapMm.toFixed(1)} mm; ` +
    `slices ${h.k + 1} and ${h.k + 2} of ${all}${a && b ? `, instances ${a} and ${b}` : ''})`
  );
}

export function seriesGeometry(
  allHeaders: readonly InstanceHeader[],
  options: Pick<ReadSeriesOptions, 'irregular' | 'tolerances' | 'bridgeGaps' | 'minSlices'> = {},
): SeriesGeometry {
  const headers = allHeaders.filter((h) => !isLocalizer(h));
  const localizersDropped = allHeaders.length - headers.length;
  if (allHeaders.length > 0 && headers.length === 0) {
    throw new DicomError('not-image', 'the series holds only LOCALIZER images (scouts), no slices', {
      localizers: localizersDropped,
    });
  }
  validateCtSlices(headers);
  const minSlices = options.minSlices ?? DEFAULT_MIN_SLICES;
  if (headers.length < minSlices) {
    throw new DicomError(
      'too-few-slices',
      `only ${headers.length} slice${headers.length === 1 ? '' : 's'}` +
        (localizersDropped
          ? ` (after leaving out ${localizersDropped} localizer image${localizersDropped === 1 ? '' : 's'})`
          : '') +
        `: a volume needs at least ${minSlices}`,
      { slices: headers.length, minSlices, localizersDropped },
    );
  }
  const slices = headers.map((h) => ({
    imagePositionPatient: h.imagePositionPatientMm,
    imageOrientationPatient: h.imageOrientationPatient,
    pixelSpacing: h.pixelSpacingMm,
    rows: h.rows,
    columns: h.columns,
    sliceThickness: h.sliceThicknessMm,
    id: sliceName(h) ?? undefined,
  }));
  let holes: SliceHole[] = [];
  if (slices.length >= 3) {
    let stack0: SliceStack;
    try {
      stack0 = sliceStack(slices, options.tolerances);
    } catch (e) {
      throw toDicomError(e);
    }
    const ordered = stack0.order.map((n) => headers[n]);
    holes = sliceHoles(
      stack0.distancesMm,
      ordered.map((h) => h.sliceThicknessMm),
    );
    if (holes.length > 0 && !options.bridgeGaps) {
      throw new DicomError(
        'slice-gap',
        `the series has ${holes.length === 1 ? 'a hole' : `${holes.length} holes`}: ` +
          holes.map((h) => holeMessage(h, ordered, slices.length)).join('; ') +
          ': slices are missing there. Choose another series, or bridge the gap explicitly ' +
          '(interpolated across; the derived series will say so)',
        { holes, medianGapMm: holes[0].medianGapMm },
      );
    }
  }
  const done = (r: Omit<SeriesGeometry, 'headers' | 'localizersDropped' | 'holes'>): SeriesGeometry => ({
    ...r,
    headers,
    localizersDropped,
    holes,
  });
  try {
    const g = regularGeometry(slices, { tolerances: options.tolerances, allowSingleSlice: true });
    return done({ geometry: g, stack: g.stack, report: g.report });
  } catch (e) {
    const irregular =
      e instanceof GeometryError && (e.code === 'non-uniform-spacing' || e.code === 'gantry-tilt');
    if (irregular && options.irregular !== 'resample') {
      // Both facts, whichever check fired first: tilt is the one named (it is the more basic property).
      const stack = sliceStack(slices, options.tolerances);
      const r = stackReport(stack, options.tolerances);
      const gaps = `slice gaps ${Math.min(...stack.gapsMm).toFixed(3)} to ${Math.max(...stack.gapsMm).toFixed(3)} mm`;
      const details = {
        tiltDeg: r.tiltDeg,
        nonUniform: r.nonUniform,
        gapsMm: stack.gapsMm,
        meanGapMm: r.meanGapMm,
        geometryCode: (e as GeometryError).code,
      };
      if (r.tilted) {
        throw new DicomError(
          'gantry-tilt',
          `gantry tilt of ${r.tiltDeg.toFixed(2)} degrees` +
            (r.nonUniform ? ` and non-uniform spacing (${gaps})` : '') +
            `: read with irregular: 'resample'`,
          details,
        );
      }
      throw new DicomError(
        'non-uniform-spacing',
        `non-uniform slice spacing (${gaps}): read with irregular: 'resample'`,
        details,
      );
    }
    if (irregular) {
      const g = regularGeometry(slices, {
        tolerances: { ...options.tolerances, spacingRelative: Infinity },
        allowTilt: true,
      });
      return done({
        geometry: null,
        stack: g.stack,
        report: { ...g.report, nonUniform: e.code === 'non-uniform-spacing' || g.report.nonUniform },
      });
    }
    throw toDicomError(e);
  }
}

/**
 * A series' instance metadata, judged: the slice stack, its regular geometry (null when it must
 * be resampled), the instances in k order. No pixel data is fetched: callers size a job (region,
 * target grid) from this, then read only the slices they need (readSeriesPixels).
 */
export interface SeriesLayout {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly series: SeriesGeometry;
  /** Headers in k order (ascending along the slice normal). */
  readonly ordered: readonly InstanceHeader[];
}

export async function readSeriesLayout(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
  options: ReadSeriesOptions = {},
): Promise<SeriesLayout> {
  const metadata = await retrieveSeriesMetadata(transport, studyInstanceUid, seriesInstanceUid);
  if (metadata.length === 0) {
    throw new DicomError('not-found', `series ${seriesInstanceUid} has no instances`, { seriesInstanceUid });
  }
  const series = seriesGeometry(
    // an Enhanced CT instance becomes one header per frame
    metadata.map(parseInstanceMetadata).flatMap(expandEnhancedFrames),
    options,
  );
  return {
    studyInstanceUid,
    seriesInstanceUid,
    series,
    ordered: series.stack.order.map((n) => series.headers[n]),
  };
}

/**
 * Whole series: metadata and pixels. With a transport that can drop a request
 * (`transport.abortable`) and series-level retrieval allowed, the series-level request starts
 * together with the metadata request (one round trip less; on loopback it saved 13 ms on a
 * 16 MB series and nothing on a 70 MB one, where the PACS's CPU is the bound: BENCHMARKS.md),
 * bounded by seriesRetrievalMaxBytes so that a series too large for it never fills memory; the
 * metadata then decides whether its answer is used.
 */
export async function readSeries(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
  options: ReadSeriesOptions = {},
): Promise<ReadSeriesResult> {
  let prefetched: PrefetchedSeries | undefined;
  if (transport.abortable && (options.retrieval ?? 'auto') !== 'frames') {
    const controller = new AbortController();
    // 'auto' bounds the answer: frames up to the limit plus their Part 10 headers (a few kB each)
    const limit = options.seriesRetrievalMaxBytes ?? SERIES_RETRIEVAL_MAX_BYTES;
    const data = retrieveSeriesPixelData(transport, studyInstanceUid, seriesInstanceUid, {
      signal: controller.signal,
      maxBytes: options.retrieval === 'series' ? undefined : Math.ceil(limit * 1.05) + 2 ** 20,
    });
    data.catch(() => undefined); // a refusal is read (or dropped) below: never unhandled
    prefetched = { data, drop: () => controller.abort() };
  }
  let layout: SeriesLayout;
  try {
    layout = await readSeriesLayout(transport, studyInstanceUid, seriesInstanceUid, options);
  } catch (e) {
    prefetched?.drop();
    throw e;
  }
  return readSeriesPixelsWith(transport, layout, options, prefetched);
}

export interface SlabOptions {
  /**
   * Read only slices [start, start + count) (k order) of a regular series: the volume is that
   * slab (its affine moved to its first slice), `instances` its headers, and no other frame is
   * fetched. Ignored for a series that must be resampled (every slice is then needed).
   */
  readonly slab?: { readonly start: number; readonly count: number };
}

export function readSeriesPixels(
  transport: DicomwebTransport,
  layout: SeriesLayout,
  options: ReadSeriesOptions & SlabOptions = {},
): Promise<ReadSeriesResult> {
  return readSeriesPixelsWith(transport, layout, options);
}

async function readSeriesPixelsWith(
  transport: DicomwebTransport,
  layout: SeriesLayout,
  options: ReadSeriesOptions & SlabOptions,
  prefetched?: PrefetchedSeries,
): Promise<ReadSeriesResult> {
  const { studyInstanceUid, seriesInstanceUid } = layout;
  const codecs = options.codecs ?? defaultCodecs();
  const { geometry, stack: fullStack, report, holes, localizersDropped } = layout.series;
  const slab = geometry && options.slab ? options.slab : null;
  if (slab && !(slab.start >= 0 && slab.count >= 1 && slab.start + slab.count <= fullStack.dims[2]))
    throw new DicomError(
      'invalid-input',
      `slices ${slab.start}..${slab.start + slab.count - 1} are outside the series (0..${fullStack.dims[2] - 1})`,
    );
  const ordered = slab ? layout.ordered.slice(slab.start, slab.start + slab.count) : layout.ordered;
  const stack: SliceStack = slab
    ? {
        ...fullStack,
        order: fullStack.order.slice(slab.start, slab.start + slab.count),
        positions: fullStack.positions.slice(slab.start, slab.start + slab.count),
        distancesMm: fullStack.distancesMm.slice(slab.start, slab.start + slab.count),
        gapsMm: fullStack.gapsMm.slice(slab.start, slab.start + slab.count - 1),
        dims: [fullStack.dims[0], fullStack.dims[1], slab.count],
      }
    : fullStack;
  const hu = new HuConversion();
  const [nx, ny, nz] = stack.dims;
  const sliceSize = nx * ny;
  // released however the read ends (a prefaulting host stops its helper)
  const memory = (options.volumeMemory ?? plainVolumeMemory).allocate(sliceSize * nz);
  try {
    const { data } = memory;
    const frameInfo = (h: InstanceHeader): FrameInfo => ({
      rows: h.rows!,
      columns: h.columns!,
      bitsAllocated: h.bitsAllocated!,
      bitsStored: h.bitsStored ?? h.bitsAllocated!,
      pixelRepresentation: h.pixelRepresentation ?? 0,
      samplesPerPixel: 1,
    });
    const syntaxes = new Set<string>();
    // settled to a value at once: a failure is thrown after the frames, never left unhandled
    let lengthChecked: Promise<unknown> | null = null;
    let bytesReceived = 0;
    let done = 0;
    const enc = encodeURIComponent;
    // Frames come as stored (`*`); a PACS that cannot serve a syntax as stored (Orthanc answers 500
    // for deflated or big endian data) is asked for explicit VR little endian instead, from then on.
    let accept = ACCEPT_ANY_FRAME;
    let fellBack = false;
    const fetchFrame = async (path: string) => {
      const get = (a: string) =>
        withRetries(() => getMultipart(transport, path, a), options.retries ?? 3, options.backoffMs ?? 250);
      if (accept !== ACCEPT_ANY_FRAME) return get(accept);
      try {
        return await get(ACCEPT_ANY_FRAME);
      } catch (e) {
        const status = (e as { details?: { status?: number } }).details?.status ?? 0;
        // 406/400/415: the syntax was not acceptable; 500: Orthanc's answer for a stored syntax it
        // cannot send as is. 502-504 mean the PACS is unavailable: no fallback, the error stands.
        const refused =
          (e as { code?: string }).code === 'pacs-error' && [400, 406, 415, 500].includes(status);
        if (!refused) throw e;
        const r = await get(ACCEPT_EXPLICIT_LE_FRAME);
        accept = ACCEPT_EXPLICIT_LE_FRAME;
        fellBack = true;
        return r;
      }
    };
    const retrieval = options.retrieval ?? 'auto';
    const estimate = ordered.reduce((n, h) => n + h.rows! * h.columns! * (h.bitsAllocated! / 8), 0);
    const whole = ordered.length === layout.ordered.length;
    const maxBytes = options.seriesRetrievalMaxBytes ?? SERIES_RETRIEVAL_MAX_BYTES;
    const wanted = retrieval === 'series' || (retrieval === 'auto' && whole && estimate <= maxBytes);
    if (!wanted) prefetched?.drop();
    // a prefetch that hit its byte bound (or was refused) is not asked again: frames follow
    const series = !wanted
      ? null
      : prefetched
        ? await prefetched.data
        : await retrieveSeriesPixelData(transport, studyInstanceUid, seriesInstanceUid);
    let framesFetched = 0;
    /** Frame buffers free for reuse (gathers of frames that arrived spread over chunks). */
    const scratch: Uint8Array[] = [];
    /** Slice k's frame as received: from the series-level answer, else its own request. */
    const frameOf = async (h: InstanceHeader): Promise<{ bytes: Uint8Array | ChunkedBytes; ts: string }> => {
      const local = series?.bySop.get(h.sopInstanceUid!);
      if (local) {
        const frameBytes = h.rows! * h.columns! * (h.bitsAllocated! / 8);
        if (local.native) {
          const error = nativeLengthError(h, local.native.length);
          if (error) throw error;
        }
        const bytes = part10Frame(local, (h.frameNumber ?? 1) - 1, h.numberOfFrames, frameBytes);
        if (bytes) return { bytes, ts: local.transferSyntaxUid };
      }
      framesFetched++;
      const path = `studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}/instances/${enc(h.sopInstanceUid!)}/frames/${h.frameNumber ?? 1}`;
      const { parts, contentType } = await fetchFrame(path);
      if (parts.length !== 1) {
        throw new DicomError(
          'decode-failed',
          `instance ${h.sopInstanceUid}: expected 1 frame part, got ${parts.length}`,
          {
            instance: h.sopInstanceUid,
          },
        );
      }
      const part = parts[0];
      const ts =
        headerParameter(part.headers['content-type'] ?? '', 'transfer-syntax') ??
        headerParameter(headerParameter(contentType, 'type') ?? '', 'transfer-syntax') ??
        h.transferSyntaxUid ??
        TRANSFER_SYNTAX.explicitLittle;
      if (!lengthChecked && NATIVE_SYNTAXES.has(ts))
        lengthChecked = checkNativePixelDataLength(transport, h).then(
          () => null,
          (e: unknown) => e,
        );
      return { bytes: part.body, ts };
    };
    await forEachLimit(nz, options.concurrency ?? 4, async (k) => {
      const h = ordered[k];
      const { bytes: received, ts } = await frameOf(h);
      syntaxes.add(ts);
      bytesReceived += received.length;
      // a frame spread over received chunks is gathered into a buffer this task reuses (one per
      // frame in flight): the stored values are converted before the buffer goes back
      let spare: Uint8Array | null = null;
      let bytes = received instanceof ChunkedBytes ? received.view() : received;
      if (!bytes) {
        const free = scratch.pop();
        spare = free && free.length >= received.length ? free : new Uint8Array(received.length);
        bytes = (received as ChunkedBytes).contiguous(spare);
      }
      try {
        const stored = await decodeFrame(bytes, ts, frameInfo(h), codecs, `instance ${sliceName(h)}`);
        const slope = h.rescaleSlope!; // validateCtSlices refused absent / invalid ones
        const intercept = h.rescaleIntercept!;
        const off = k * sliceSize;
        hu.convert(stored, slope, intercept, data.subarray(off, off + sliceSize), storedPadding(h));
        memory.written(off + sliceSize);
      } finally {
        if (spare) scratch.push(spare);
      }
      options.onProgress?.(++done, nz);
    });
    const lengthError = await lengthChecked;
    if (lengthError) throw lengthError;
    if (options.valueCheck !== 'none') checkPlausibleHu(hu.tally(), `series ${seriesInstanceUid}`);
    let volume: Volume;
    if (geometry) {
      // a slab starts `slab.start` slice steps along the k axis from the series' origin
      const a = [...geometry.affine];
      const k0 = slab?.start ?? 0;
      for (const r of [0, 1, 2]) a[4 * r + 3] += k0 * a[4 * r + 2];
      volume = makeVolume(stack.dims, a as unknown as typeof geometry.affine, data, 'HU');
    } else {
      volume = resampleSliceStack(stack, data, {});
    }
    return {
      volume,
      geometry: {
        dims: stack.dims,
        stack,
        report,
        resampled: geometry == null,
        bridgedGaps: holes,
        localizersDropped,
      },
      instances: ordered,
      transferSyntaxUids: [...syntaxes],
      bytesReceived,
      retrieval: !series ? 'frames' : framesFetched === 0 ? 'series' : 'mixed',
      ...(fellBack ? { transcodedByPacs: true } : {}),
    };
  } finally {
    memory.release();
  }
}

/** What the read did to the stack that the user must know (for logs, panels and derived series). */
export function readNotes(r: Pick<ReadSeriesResult, 'geometry'>): string[] {
  const g = r.geometry;
  const out: string[] = [];
  if (g.localizersDropped > 0)
    out.push(`${g.localizersDropped} localizer image${g.localizersDropped === 1 ? '' : 's'} left out`);
  for (const h of g.bridgedGaps)
    out.push(
      `gap of ${h.gapMm.toFixed(1)} mm (${h.fromMm.toFixed(1)} to ${h.toMm.toFixed(1)} mm along the slice normal) bridged by interpolation`,
    );
  return out;
}
