/**
 * Calibration of the time estimates: the real pipeline, in the real worker,
 * with the chosen backend, on tiny inputs. One super-resolution job with one
 * sample, one cycle and one DDIM step makes exactly one encoder, one UNet and
 * one decoder call; the arrival times of its progress events (encode, denoise,
 * decode ticks after the 'prepare' event) give each call's wall time. A
 * warm-up job runs first (first runs compile kernels / allocate arenas), then
 * two grids are measured so that estimate.ts can fit fixed + per-voxel costs.
 *
 * The 'ai' and 'classical' modes (the default) are timed the same way by one
 * 1-sample 'ai' job on a small thick-slice volume (after a smaller warm-up):
 * 'prepare' -> last 'refine' tick is the refiner pass. The projection and the rest
 * of a job (trilinear upsampling, statistics, moving volumes, per output voxel) are
 * timed on a 'classical' job of 2 M voxels (no model calls; a fraction of a second):
 * its back-projection as the pipeline timed it in the worker (the result's
 * backProjectionSeconds) over its work (Acquisition.projectionWork, computed here from
 * the same acquisition) gives the projection's rate, and the job's wall time minus it
 * the rest. (The small job's own projection takes milliseconds since the projection
 * runs on the acquired grid: timed between progress messages it was off by up to 10x.)
 *
 * Bounded: the whole calibration aims at a few seconds. Each measurement is
 * small, and once half of `budgetSeconds` is spent (a slow backend, e.g. a
 * software WebGPU adapter) the larger diffusion grids are skipped: one grid
 * gives a proportional fit. Results are cached per model and backend
 * (localStorage).
 */
import type { Dims3 } from '../geometry/conventions';
import { voxelCount } from '../geometry/conventions';
import { scaling } from '../geometry/affine';
import type { ProgressEvent } from '../inference/progress';
import type { BackendInfo } from '../inference/runtime';
import { superResolutionDefaults, type ModelManifest } from '../model/manifest';
import { seriesAcquisition, type SliceModel } from '../volume/seriesAcquisition';
import { makeVolume } from '../volume/volume';
import type { EngineClient } from '../worker/engineClient';
import {
  backProjectionSeconds,
  type Calibration,
  type CalibrationPoint,
  type CostStage,
  type PlaneCosts,
  type ProjectionWork,
} from '../planning/estimate';

export interface TimedEvent {
  readonly stage: ProgressEvent['stage'];
  readonly step: number;
  /** Milliseconds (any monotonic clock). */
  readonly at: number;
}

/**
 * Seconds per model call from the events of a 1-sample, 1-cycle super-resolution
 * of a few DDIM steps: encode = prepare -> encode tick, unet = encode tick -> last
 * denoise tick over the number of denoise ticks, decode = last denoise -> decode
 * tick. Several UNet calls, because one small call is shorter than the jitter of
 * a progress message crossing from the worker to the page (in the browser a
 * single-call timing overstated a 32^3 UNet call about 3x).
 */
export function stageSeconds(events: readonly TimedEvent[]): Record<CostStage, number> {
  const find = (stage: TimedEvent['stage']) => {
    const e = events.find((x) => x.stage === stage && (stage === 'prepare' || x.step > 0));
    if (!e) throw new Error(`calibration: no '${stage}' progress event`);
    return e.at;
  };
  const t0 = find('prepare');
  const t1 = find('encode');
  const denoise = events.filter((x) => x.stage === 'denoise' && x.step > 0);
  if (denoise.length === 0) throw new Error("calibration: no 'denoise' progress event");
  const t2 = denoise[denoise.length - 1].at;
  const t3 = find('decode');
  if (!(t0 <= t1 && t1 <= t2 && t2 <= t3)) throw new Error('calibration: progress events out of order');
  return { encode: (t1 - t0) / 1000, unet: (t2 - t1) / 1000 / denoise.length, decode: (t3 - t2) / 1000 };
}

export function calibrationKey(manifest: ModelManifest, backend: BackendInfo): string {
  return [
    manifest.name,
    manifest.version,
    manifest.files.unet.sha256.slice(0, 16),
    manifest.files.refiner?.sha256.slice(0, 16) ?? 'no-refiner',
    backend.library,
    backend.executionProvider,
    backend.threads,
  ].join('|');
}

/**
 * The calibration grids: the model's minimum, and about 1.6x and 2.5x it per axis (within
 * range). Small grids alone overstate the per-voxel cost of large ones (fixed costs of small
 * calls); the third point keeps the fit honest up to the grids jobs use.
 */
export function calibrationGrids(manifest: ModelManifest): [Dims3, Dims3, Dims3] {
  const g = manifest.grid;
  const small = [...g.min] as unknown as Dims3;
  const times = (f: number) =>
    small.map((n, a) =>
      Math.min(g.max[a], Math.ceil((n * f) / g.multipleOf) * g.multipleOf),
    ) as unknown as Dims3;
  return [small, times(1.6), times(2.5)];
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const STORAGE_PREFIX = 'geometry-ldm.calibration:';

export function loadCalibration(storage: StorageLike | null, key: string): Calibration | null {
  if (!storage) return null;
  try {
    const text = storage.getItem(STORAGE_PREFIX + key);
    if (!text) return null;
    const c = JSON.parse(text) as Calibration;
    return c && c.key === key && Array.isArray(c.points) && c.points.length > 0 ? c : null;
  } catch {
    return null;
  }
}

export function saveCalibration(storage: StorageLike | null, c: Calibration): void {
  try {
    storage?.setItem(STORAGE_PREFIX + c.key, JSON.stringify(c));
  } catch {
    // a full or disabled storage only costs a re-calibration next time
  }
}

async function measure(
  client: EngineClient,
  manifest: ModelManifest,
  dims: Dims3,
  now: () => number,
  signal?: AbortSignal,
): Promise<CalibrationPoint> {
  // A smooth HU field (not constant, so nothing is trivially skipped), 1 mm voxels.
  const n = voxelCount(dims);
  const data = new Float32Array(n);
  for (let q = 0; q < n; q++) data[q] = -1000 + 1000 * (0.5 + 0.5 * Math.sin(q * 0.001));
  const volume = makeVolume(dims, scaling([1, 1, 1]), data, 'HU');
  const events: TimedEvent[] = [];
  await client.superResolve(
    volume,
    { kind: 'grid', grid: { dims, affine: scaling([1, 1, 1]) } },
    {
      // the latent-diffusion calls are what the calibration times (encoder, UNet, decoder)
      mode: 'diffusion',
      slices: 'none',
      tStart: manifest.superResolution.tStart,
      cycles: 1,
      ddimSteps: CALIBRATION_UNET_CALLS,
      samples: 1,
      seed: 0,
    },
    { onProgress: (e) => events.push({ stage: e.stage, step: e.step, at: now() }), signal },
  );
  return { imageVoxels: n, seconds: stageSeconds(events) };
}

/**
 * The plane-mode calibration volumes (source grid, 1 x 1 x 4 mm, box slices): a warm-up and
 * the measured one, whose output (64 x 64 x 32 voxels) holds planes of 32 x 64 pixels.
 */
export const PLANE_CALIBRATION_SOURCES: readonly [Dims3, Dims3] = [
  [32, 32, 4],
  [64, 64, 8],
];
const PLANE_SPACING_MM = 4;

/**
 * The refiner pass of one 1-sample 'ai' job from its events (see the module comment): `start`
 * and `end` bracket the job (ms, same clock as the events).
 */
export function refinerPassFromEvents(
  events: readonly TimedEvent[],
  job: { readonly start: number; readonly end: number; readonly outputVoxels: number },
): { voxels: number; seconds: number } {
  const prepare = events.find((e) => e.stage === 'prepare');
  const refines = events.filter((e) => e.stage === 'refine');
  if (!prepare || refines.length === 0) {
    throw new Error("calibration: the 'ai' job sent no prepare/refine progress");
  }
  const lastRefine = refines[refines.length - 1].at;
  if (!(job.start <= prepare.at && prepare.at <= lastRefine && lastRefine <= job.end)) {
    throw new Error('calibration: progress events out of order');
  }
  return { voxels: job.outputVoxels, seconds: (lastRefine - prepare.at) / 1000 };
}

/**
 * The projection's rate and the per-voxel rest from one 'classical' job: its wall time
 * (`start`, `end`, ms) and the back-projection the pipeline timed (seconds), whose work is
 * `work` at `iterations`.
 */
export function projectionCostsFromClassical(job: {
  readonly start: number;
  readonly end: number;
  readonly outputVoxels: number;
  readonly iterations: number;
  readonly work: ProjectionWork;
  readonly backProjectionSeconds: number;
}): Pick<PlaneCosts, 'secondsPerProjectionWork' | 'secondsPerOutputVoxel'> {
  const units = backProjectionSeconds(job.work, job.iterations, 1);
  const rest = (job.end - job.start) / 1000 - job.backProjectionSeconds;
  return {
    secondsPerProjectionWork: job.backProjectionSeconds / Math.max(1, units),
    secondsPerOutputVoxel: Math.max(0, rest) / job.outputVoxels,
  };
}

/** The classical job that times the per-voxel rest: 128 x 128 x 32 slices x4 -> 2 M voxels. */
export const CLASSICAL_CALIBRATION_SOURCE: Dims3 = [128, 128, 32];

async function runPlaneJob(
  client: EngineClient,
  manifest: ModelManifest,
  mode: 'ai' | 'classical',
  sourceDims: Dims3,
  now: () => number,
  signal?: AbortSignal,
) {
  const spacing = [1, 1, PLANE_SPACING_MM] as const;
  const n = voxelCount(sourceDims);
  const data = new Float32Array(n);
  // values above -500 HU all over the grid: the refiner's body box is the whole grid, so its pass
  // times every output voxel
  for (let q = 0; q < n; q++) data[q] = -1000 + 1000 * (0.5 + 0.5 * Math.sin(q * 0.01));
  const volume = makeVolume(sourceDims, scaling([...spacing]), data, 'HU');
  const outDims: Dims3 = [sourceDims[0], sourceDims[1], sourceDims[2] * PLANE_SPACING_MM];
  const slices: SliceModel = { profile: 'box', widthMm: PLANE_SPACING_MM, reason: 'calibration' };
  const iterations = superResolutionDefaults(manifest).projectionIterations;
  // the acquisition the pipeline builds for this job (the same pure code), for its work
  const output = { dims: outDims, affine: scaling([1, 1, 1]) };
  const work = seriesAcquisition(volume, output, slices).projectionWork();
  const events: TimedEvent[] = [];
  const start = now();
  const result = await client.superResolve(
    volume,
    { kind: 'grid', grid: output },
    { mode, slices, projectionIterations: iterations, samples: 1, seed: 0 },
    { onProgress: (e) => events.push({ stage: e.stage, step: e.step, at: now() }), signal },
  );
  const end = now();
  return {
    events,
    start,
    end,
    outputVoxels: voxelCount(outDims),
    iterations,
    work,
    backProjectionSeconds: result.backProjectionSeconds,
  };
}

async function measurePlanes(
  client: EngineClient,
  manifest: ModelManifest,
  now: () => number,
  signal?: AbortSignal,
): Promise<PlaneCosts> {
  const [warm, measured] = PLANE_CALIBRATION_SOURCES;
  await runPlaneJob(client, manifest, 'ai', warm, now, signal); // warm-up, discarded
  const ai = await runPlaneJob(client, manifest, 'ai', measured, now, signal);
  const c = await runPlaneJob(client, manifest, 'classical', CLASSICAL_CALIBRATION_SOURCE, now, signal);
  return { refinerPasses: [refinerPassFromEvents(ai.events, ai)], ...projectionCostsFromClassical(c) };
}

/** UNet calls per diffusion calibration job (see stageSeconds). */
export const CALIBRATION_UNET_CALLS = 4;

/** Seconds the whole calibration aims at (see the module comment). */
export const CALIBRATION_BUDGET_SECONDS = 8;

/** Runs the calibration jobs (warm-ups + measurements) on a ready engine. */
export async function calibrate(
  client: EngineClient,
  manifest: ModelManifest,
  backend: BackendInfo,
  options: { now?: () => number; signal?: AbortSignal; date?: Date; budgetSeconds?: number } = {},
): Promise<Calibration> {
  const now = options.now ?? (() => performance.now());
  const budgetMs = 1000 * (options.budgetSeconds ?? CALIBRATION_BUDGET_SECONDS);
  const started = now();
  const planes = manifest.files.refiner
    ? await measurePlanes(client, manifest, now, options.signal)
    : undefined;
  const [small, ...larger] = calibrationGrids(manifest);
  await measure(client, manifest, small, now, options.signal); // warm-up, discarded
  const points = [await measure(client, manifest, small, now, options.signal)];
  for (const grid of larger) {
    const last = points[points.length - 1].imageVoxels;
    if (voxelCount(grid) <= last || now() - started >= budgetMs / 2) break;
    points.push(await measure(client, manifest, grid, now, options.signal));
  }
  return {
    key: calibrationKey(manifest, backend),
    points,
    ...(planes ? { planes } : {}),
    measuredAt: (options.date ?? new Date()).toISOString(),
  };
}
