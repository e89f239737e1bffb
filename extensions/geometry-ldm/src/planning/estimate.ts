/**
 * Time and memory estimates shown before a job starts.
 *
 * Time: from a CALIBRATION measured on this machine with the chosen backend
 * (calibration.ts): the wall time of one encoder call, one UNet call and one
 * decoder call at two small grids. Each stage is fitted as
 * `seconds = fixed + perVoxel * imageVoxels` (least squares, both terms >= 0;
 * one point: proportional), and a job is the sum over its model calls, which
 * the pipelines make in a known number (superResolve.ts, generate.ts).
 * Until this machine is measured, the same fit runs on the model's recorded
 * per-call costs (priorCosts.ts), and the panel labels the time approximate.
 *
 * Memory: the float32 buffers the pipeline allocates, counted from the grids
 * (worker and main thread, at the worst moment), plus the DICOM encoding when
 * saving, plus the network's activations inside onnxruntime estimated the way
 * the engine sizes its tiles (inference/tilingLimits.ts): bytes per image
 * voxel of the largest activation times the image voxels of the largest
 * encoder/decoder call (the whole padded grid, or one tile).
 */
import { autoBatchSize } from '../inference/batching';
import { DEFAULT_BYTES_PER_IMAGE_VOXEL } from '../inference/tilingLimits';
import type { TilingPolicy } from '../inference/tiling';
import { voxelCount, type Dims3 } from '../geometry/conventions';
import { LATENT_FACTOR, type LatentFactor } from '../geometry/coordinateChannels';

export type CostStage = 'encode' | 'unet' | 'decode';

/** One calibration measurement: seconds per model call at a grid of `imageVoxels`. */
export interface CalibrationPoint {
  readonly imageVoxels: number;
  readonly seconds: Readonly<Record<CostStage, number>>;
}

export interface Calibration {
  /** What was measured: backend and model (a calibration is only valid for both). */
  readonly key: string;
  readonly points: readonly CalibrationPoint[];
  /** The super-resolution modes without latent diffusion (ai, classical); absent in older calibrations. */
  readonly planes?: PlaneCosts;
  /** ISO date of the measurement. */
  readonly measuredAt: string;
}

/**
 * Costs of the 'ai' and 'classical' super-resolution modes on one machine and backend: the
 * refiner (a network call per batch of planes), the measurement-consistency projection (array
 * work in JS, volume/acquisition.ts) and the rest of the pipeline (trilinear upsampling,
 * statistics, moving volumes between threads), which scales with the output voxels.
 */
export interface PlaneCosts {
  /** Seconds of one refiner pass (every plane, one sample) over `voxels` output voxels. */
  readonly refinerPasses: readonly { readonly voxels: number; readonly seconds: number }[];
  /** Seconds per unit of projection work (Acquisition.projectionWork). */
  readonly secondsPerProjectionWork: number;
  /** Seconds per output voxel of the pipeline's other work (per job, not per sample). */
  readonly secondsPerOutputVoxel: number;
}

export interface LinearFit {
  readonly fixed: number;
  readonly perVoxel: number;
}

/** Least-squares fit of y = fixed + perVoxel * x with both terms clamped to >= 0. */
export function fitLinear(points: readonly { x: number; y: number }[]): LinearFit {
  const pts = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.x > 0 && p.y >= 0);
  if (pts.length === 0) throw new RangeError('no calibration points');
  const xs = new Set(pts.map((p) => p.x));
  if (xs.size === 1) {
    const y = pts.reduce((s, p) => s + p.y, 0) / pts.length;
    return { fixed: 0, perVoxel: y / pts[0].x };
  }
  const n = pts.length;
  const mx = pts.reduce((s, p) => s + p.x, 0) / n;
  const my = pts.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of pts) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  let perVoxel = sxy / sxx;
  let fixed = my - perVoxel * mx;
  if (perVoxel < 0) {
    // Timing noise made the larger grid faster: fall back to a constant.
    return { fixed: my, perVoxel: 0 };
  }
  if (fixed < 0) {
    // Proportional fit through the origin instead.
    perVoxel = pts.reduce((s, p) => s + p.x * p.y, 0) / pts.reduce((s, p) => s + p.x * p.x, 0);
    fixed = 0;
  }
  return { fixed, perVoxel };
}

export interface CostModel {
  seconds(stage: CostStage, imageVoxels: number): number;
}

export function costModel(calibration: Calibration): CostModel {
  const fits = {} as Record<CostStage, LinearFit>;
  for (const stage of ['encode', 'unet', 'decode'] as const) {
    fits[stage] = fitLinear(calibration.points.map((p) => ({ x: p.imageVoxels, y: p.seconds[stage] })));
  }
  return {
    seconds: (stage, voxels) => fits[stage].fixed + fits[stage].perVoxel * voxels,
  };
}

/** Model calls of a super-resolution job (superResolve.ts): 1 encode, N*cycles*steps UNet, N decodes. */
export function superResolveCalls(settings: {
  samples: number;
  cycles: number;
  ddimSteps: number;
}): Record<CostStage, number> {
  return {
    encode: 1,
    unet: settings.samples * settings.cycles * settings.ddimSteps,
    decode: settings.samples,
  };
}

/** The generation panel's cadence of previews while sampling: three looks at the estimate (plus the result). */
export function generationPreviewEvery(steps: number): number {
  return Math.max(1, Math.ceil(steps / 4));
}

/**
 * Model calls of a generation job (generate.ts): N*steps UNet (twice that with classifier-free
 * guidance: a second call under the null condition each step), N decodes, and with
 * `previewEvery` one more decode per preview (every k-th step but the last, which the
 * result's decode shows).
 */
export function generateCalls(settings: {
  samples: number;
  steps: number;
  previewEvery?: number;
  /** Samples per model call (previews decode the first sample of each batch); default 1. */
  batchSize?: number;
  /** The model guides generation (manifest generation.guidanceScale other than 1). */
  guided?: boolean;
}): Record<CostStage, number> {
  const previews = settings.previewEvery ? Math.floor((settings.steps - 1) / settings.previewEvery) : 0;
  const batches = Math.ceil(settings.samples / Math.max(1, settings.batchSize ?? 1));
  return {
    encode: 0,
    unet: settings.samples * settings.steps * (settings.guided ? 2 : 1),
    decode: settings.samples + batches * previews,
  };
}

/**
 * The batch size the engine's 'auto' default picks for a job under `tiling` (the policy the
 * worker reported or the user chose); 1 when no policy is known.
 */
export function expectedBatchSize(dims: Dims3, samples: number, tiling?: TilingPolicy | null): number {
  return tiling ? autoBatchSize(tiling.maxImageVoxelsPerCall, dims, samples) : 1;
}

/** Where a time estimate comes from: a calibration on this machine, or the model's recorded costs. */
export type TimeBasis = 'measured' | 'prior';

/** What a job's time is spent on: the model calls, the projection, and the rest of the pipeline. */
export type TimeStage = CostStage | 'refine' | 'project' | 'other';

export interface TimeEstimate {
  readonly seconds: number;
  readonly byStage: Readonly<Partial<Record<TimeStage, number>>>;
}

export function estimateTime(
  model: CostModel,
  paddedDims: Dims3,
  calls: Readonly<Record<CostStage, number>>,
): TimeEstimate {
  const n = voxelCount(paddedDims);
  const byStage = {
    encode: calls.encode * model.seconds('encode', n),
    unet: calls.unet * model.seconds('unet', n),
    decode: calls.decode * model.seconds('decode', n),
  };
  return { seconds: byStage.encode + byStage.unet + byStage.decode, byStage };
}

/**
 * The work of the measurement-consistency projection of a job (Acquisition.projectionWork):
 * a projection of n >= 1 steps is `once` + (n - 1) x `perIteration`; a back-projection
 * `backProjectionOnce` + (n - 1) x `perIteration`, or `upsample` when n = 0.
 */
export interface ProjectionWork {
  readonly once: number;
  readonly backProjectionOnce: number;
  readonly perIteration: number;
  readonly upsample: number;
}

/** Work units of one projection of `iterations` steps. */
export function projectionUnits(work: ProjectionWork, iterations: number): number {
  return iterations > 0 ? work.once + (iterations - 1) * work.perIteration : 0;
}

/** The back-projection (the trilinear upsampling projected `iterations` times). */
export function backProjectionSeconds(
  work: ProjectionWork,
  iterations: number,
  secondsPerWork: number,
): number {
  const units =
    iterations > 0 ? work.backProjectionOnce + (iterations - 1) * work.perIteration : work.upsample;
  return units * secondsPerWork;
}

/**
 * Time of an 'ai' or 'classical' super-resolution (superResolve.ts): the back-projection (one
 * upsampling and `iterations` projection steps), then per sample one refiner pass and one
 * projection ('ai'), plus the per-voxel rest. `projection` null: no slice model, no projection.
 */
export function estimatePlaneModeTime(
  costs: PlaneCosts,
  job: {
    readonly mode: 'ai' | 'classical';
    readonly outputVoxels: number;
    readonly samples: number;
    readonly iterations: number;
    readonly projection: ProjectionWork | null;
  },
): TimeEstimate {
  const w = job.projection;
  const projectOnce = w ? projectionUnits(w, job.iterations) * costs.secondsPerProjectionWork : 0;
  const backProject = w ? backProjectionSeconds(w, job.iterations, costs.secondsPerProjectionWork) : 0;
  const samples = job.mode === 'ai' ? Math.max(1, job.samples) : 0;
  const refinerFit = fitLinear(costs.refinerPasses.map((p) => ({ x: p.voxels, y: p.seconds })));
  const byStage = {
    refine: samples * (refinerFit.fixed + refinerFit.perVoxel * job.outputVoxels),
    project: backProject + samples * projectOnce,
    other: costs.secondsPerOutputVoxel * job.outputVoxels,
  };
  return { seconds: byStage.refine + byStage.project + byStage.other, byStage };
}

// ------------------------------------------------------------------ memory

const F32 = 4;

export interface MemoryEstimate {
  /** Peak bytes of pipeline buffers in the inference worker. */
  readonly workerBytes: number;
  /** The network's largest activation(s) inside onnxruntime (estimate, see the module comment). */
  readonly activationBytes: number;
  /** Peak bytes on the page (volumes kept for display and saving). */
  readonly pageBytes: number;
  readonly totalBytes: number;
}

/** Activation estimate for encoder/decoder calls over `imageVoxels` under a tiling policy. */
export function activationBytes(
  imageVoxels: number,
  tiling?: TilingPolicy | null,
  bytesPerImageVoxel = DEFAULT_BYTES_PER_IMAGE_VOXEL,
): number {
  const perCall = tiling ? Math.min(imageVoxels, tiling.maxImageVoxelsPerCall) : imageVoxels;
  return bytesPerImageVoxel * perCall;
}

/**
 * Super-resolution buffers (superResolve.ts + engineHost.ts), float32, as
 * persistent + the larger of the two peak phases.
 * Worker, persistent: the source (kept for a WebGPU -> wasm retry), the padded
 * trilinear upsampling, its model-intensity copy, the 3 coordinate channels,
 * the running mean and M2, kept samples. Decode phase: the decoded batch, one
 * sample's copy and its HU version, the cropped sample, the latents (8
 * channels at 1/factor^3 of the voxels: encoded, batch, noise, next). End phase:
 * mean, std and the cropped upsampling built before they are sent.
 * Page: the series as read plus the crop sent to the worker, then the three
 * result volumes plus, while saving, 16-bit pixel data twice (dataset + Part 10
 * bytes) for the series being written.
 */
export function estimateSuperResolveMemory(args: {
  readonly seriesDims: Dims3;
  readonly sourceDims: Dims3;
  readonly paddedDims: Dims3;
  readonly outputDims: Dims3;
  readonly batchSize?: number;
  readonly keepSamples?: number;
  readonly tiling?: TilingPolicy | null;
  /** The manifest's latent.factor (image voxels per latent voxel along each axis); default LATENT_FACTOR. */
  readonly latentFactor?: LatentFactor;
}): MemoryEstimate {
  const perLatent = (args.latentFactor ?? LATENT_FACTOR) ** 3;
  const nSeries = voxelCount(args.seriesDims);
  const nSrc = voxelCount(args.sourceDims);
  const nPad = voxelCount(args.paddedDims);
  const nOut = voxelCount(args.outputDims);
  const batch = Math.max(1, args.batchSize ?? 1);
  const latent = (8 * nPad) / perLatent;
  const persistent =
    nSrc + nPad * (1 + 1 + 3) + (3 * nPad) / perLatent + 2 * nOut + (args.keepSamples ?? 0) * nOut;
  const decodePhase = batch * nPad + 2 * nPad + nOut + latent * (1 + 3 * batch);
  const endPhase = 3 * nOut;
  const workerBytes = F32 * (persistent + Math.max(decodePhase, endPhase));
  const pageBytes = Math.max(F32 * (nSeries + nSrc), F32 * 3 * nOut + 2 * 2 * nOut);
  const act = activationBytes(nPad, args.tiling);
  return { workerBytes, activationBytes: act, pageBytes, totalBytes: workerBytes + act + pageBytes };
}

/**
 * The AI and classical modes (superResolve.ts: no latent grid, no encoder or decoder). Worker:
 * the source and float32 copies of the result: classical 5 (upsampling, back-projection, result,
 * std, the projection's residuals), AI 8 (adds the refined sample, the running M2 and the
 * unprojected mean). Activations: the refiner's calls carry 2^18 voxels of planes or one larger
 * plane, about a dozen 48-channel float32 images of that alive in onnxruntime (measured:
 * BENCHMARKS.md cli-memory). Page: the series as read plus the crop sent, then the volumes the
 * result carries (mean, std, trilinear, classical; AI adds the unprojected mean and the panel's
 * AI minus classical) plus, while saving, 16-bit pixel data twice for the series being written.
 */
export function estimatePlaneModeMemory(args: {
  readonly mode: 'ai' | 'classical';
  readonly seriesDims: Dims3;
  readonly sourceDims: Dims3;
  readonly outputDims: Dims3;
}): MemoryEstimate {
  const nOut = voxelCount(args.outputDims);
  const ai = args.mode === 'ai';
  const workerBytes = F32 * (voxelCount(args.sourceDims) + (ai ? 8 : 5) * nOut);
  const [x, y, z] = args.outputDims;
  const activation = ai ? 12 * 48 * F32 * Math.max(2 ** 18, x * y, x * z, y * z) : 0;
  const pageBytes = Math.max(
    F32 * (voxelCount(args.seriesDims) + voxelCount(args.sourceDims)),
    F32 * (ai ? 6 : 4) * nOut + 2 * 2 * nOut,
  );
  return {
    workerBytes,
    activationBytes: activation,
    pageBytes,
    totalBytes: workerBytes + activation + pageBytes,
  };
}

/**
 * Generation buffers (generate.ts): the conditioning, the latents of a batch
 * (state, eps, noise/next), the decoded batch plus one sample's copy and its
 * HU version, and every finished sample (HU). Page: every sample, plus while
 * saving the 16-bit pixel data twice for the series being written.
 */
export function estimateGenerateMemory(args: {
  readonly dims: Dims3;
  readonly samples: number;
  readonly batchSize?: number;
  readonly tiling?: TilingPolicy | null;
  /** The manifest's latent.factor; default LATENT_FACTOR. */
  readonly latentFactor?: LatentFactor;
}): MemoryEstimate {
  const n = voxelCount(args.dims);
  const perLatent = (args.latentFactor ?? LATENT_FACTOR) ** 3;
  const batch = Math.max(1, Math.min(args.batchSize ?? 1, args.samples));
  const latent = (8 * n) / perLatent;
  const workerBytes = F32 * ((3 * n) / perLatent + latent * 3 * batch + batch * n + 2 * n + args.samples * n);
  const pageBytes = F32 * args.samples * n + 2 * 2 * n;
  const act = activationBytes(n, args.tiling);
  return { workerBytes, activationBytes: act, pageBytes, totalBytes: workerBytes + act + pageBytes };
}
