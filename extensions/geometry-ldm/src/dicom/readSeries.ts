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
 * The pixel module is taken per instance: each frame is decoded with its own
 * BitsAllocated / BitsStored / PixelRepresentation and rescaled with its own
 * slope and intercept (validateCtSlices refuses mixed BitsAllocated or
 * PixelRepresentation and a HighBit other than BitsStored - 1).
 */
import {
  GeometryError,
  regularGeometry,
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
import { parseInstanceMetadata, validateCtSlices, type InstanceHeader } from './instanceMetadata';
import { headerParameter } from './multipart';
import { retrieveSeriesMetadata } from './qido';
import { getMultipart, type DicomwebTransport } from './transport';

export interface ReadSeriesOptions {
  /** Codecs by transfer syntax (default: defaultCodecs()). */
  readonly codecs?: FrameCodecs;
  /** What to do with non-uniform spacing or gantry tilt: a typed error (default) or exact resampling. */
  readonly irregular?: 'error' | 'resample';
  readonly tolerances?: Partial<GeometryTolerances>;
  /** Parallel frame requests (default 4). */
  readonly concurrency?: number;
  readonly onProgress?: (framesDone: number, framesTotal: number) => void;
}

export interface ReadSeriesResult {
  readonly volume: Volume;
  /** Geometry of the stored slices (for a resampled read: of the stack; `resampled` says so). */
  readonly geometry: {
    readonly dims: RegularGeometry['dims'];
    readonly stack: SliceStack;
    readonly report: RegularGeometry['report'];
    readonly resampled: boolean;
  };
  /** Instance headers in k order (ascending along the slice normal). */
  readonly instances: readonly InstanceHeader[];
  /** Transfer syntaxes the frames arrived in. */
  readonly transferSyntaxUids: readonly string[];
  /** Bytes of frame data received. */
  readonly bytesReceived: number;
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

/** Runs `fn` over 0..n-1 with at most `limit` in flight; the first failure rejects (no new work starts). */
export async function forEachLimit(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, n)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/** Header checks and geometry only (no pixel data): throws the typed error a full read would. */
export function seriesGeometry(
  headers: readonly InstanceHeader[],
  options: Pick<ReadSeriesOptions, 'irregular' | 'tolerances'> = {},
): { geometry: RegularGeometry | null; stack: SliceStack; report: RegularGeometry['report'] } {
  validateCtSlices(headers);
  const slices = headers.map((h) => ({
    imagePositionPatient: h.imagePositionPatientMm,
    imageOrientationPatient: h.imageOrientationPatient,
    pixelSpacing: h.pixelSpacingMm,
    rows: h.rows,
    columns: h.columns,
    sliceThickness: h.sliceThicknessMm,
    id: h.sopInstanceUid ?? undefined,
  }));
  try {
    const g = regularGeometry(slices, { tolerances: options.tolerances, allowSingleSlice: true });
    return { geometry: g, stack: g.stack, report: g.report };
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
      return {
        geometry: null,
        stack: g.stack,
        report: { ...g.report, nonUniform: e.code === 'non-uniform-spacing' || g.report.nonUniform },
      };
    }
    throw toDicomError(e);
  }
}

export async function readSeries(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
  options: ReadSeriesOptions = {},
): Promise<ReadSeriesResult> {
  const codecs = options.codecs ?? defaultCodecs();
  const metadata = await retrieveSeriesMetadata(transport, studyInstanceUid, seriesInstanceUid);
  if (metadata.length === 0) {
    throw new DicomError('not-found', `series ${seriesInstanceUid} has no instances`, { seriesInstanceUid });
  }
  const headers = metadata.map(parseInstanceMetadata);
  const { geometry, stack, report } = seriesGeometry(headers, options);
  const ordered = stack.order.map((n) => headers[n]);
  const [nx, ny, nz] = stack.dims;
  const sliceSize = nx * ny;
  const data = new Float32Array(sliceSize * nz);
  const frameInfo = (h: InstanceHeader): FrameInfo => ({
    rows: h.rows!,
    columns: h.columns!,
    bitsAllocated: h.bitsAllocated!,
    bitsStored: h.bitsStored ?? h.bitsAllocated!,
    pixelRepresentation: h.pixelRepresentation ?? 0,
    samplesPerPixel: 1,
  });
  const syntaxes = new Set<string>();
  let bytesReceived = 0;
  let done = 0;
  const enc = encodeURIComponent;
  await forEachLimit(nz, options.concurrency ?? 4, async (k) => {
    const h = ordered[k];
    const path = `studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}/instances/${enc(h.sopInstanceUid!)}/frames/1`;
    const { parts, contentType } = await getMultipart(transport, path);
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
    syntaxes.add(ts);
    bytesReceived += part.body.length;
    const stored = await decodeFrame(part.body, ts, frameInfo(h), codecs, `instance ${h.sopInstanceUid}`);
    const slope = h.rescaleSlope;
    const intercept = h.rescaleIntercept;
    const off = k * sliceSize;
    for (let n = 0; n < sliceSize; n++) data[off + n] = stored[n] * slope + intercept;
    options.onProgress?.(++done, nz);
  });
  let volume: Volume;
  if (geometry) {
    volume = makeVolume(stack.dims, geometry.affine, data, 'HU');
  } else {
    volume = resampleSliceStack(stack, data, {});
  }
  return {
    volume,
    geometry: { dims: stack.dims, stack, report, resampled: geometry == null },
    instances: ordered,
    transferSyntaxUids: [...syntaxes],
    bytesReceived,
  };
}
