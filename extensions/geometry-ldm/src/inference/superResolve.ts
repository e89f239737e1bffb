/**
 * superResolve(volume, target): a series onto a finer grid (docs/super-resolution.md).
 *
 * Three modes, each ending in the measurement-consistency projection onto the acquired
 * slices (volume/acquisition.ts) unless the slice model is 'none':
 * - 'classical': iterative back-projection of the series (no model; fast, adds nothing
 *   the acquisition did not record).
 * - 'ai' (default when the model has a refiner): the back-projection refined plane by
 *   plane by the refiner (inference/refiner.ts), N test-time-augmented samples, each
 *   projected; mean and std over them.
 * - 'diffusion': the paper's emergent super-resolution (docs/method.md section 4) from the
 *   back-projection: encode with the target's coordinate channels, then per sample
 *   `cycles` times (noise to tStart, DDIM back to 0 without added noise), decode,
 *   project; mean and standard deviation over N samples.
 */
import { voxelCount } from '../geometry/conventions';
import { latentConditioning, pooledDims } from '../geometry/coordinateChannels';
import { spacingOf } from '../geometry/dicomGeometry';
import { indexToGroup, scanExtentGroupSpace, type GroupSpace } from '../geometry/groupSpace';
import { addNoise, createRng, createSchedule, DDIMScheduler, deriveSeed } from '../diffusion';
import {
  checkGrid,
  intensityParams,
  scheduleConfig,
  superResolutionDefaults,
  type SuperResolutionMode,
} from '../model/manifest';
import type { Fidelity } from '../volume/acquisition';
import { bodyBox } from '../volume/bodyBox';
import { crop, type CropBox } from '../volume/pad';
import { modelToHu } from '../volume/intensity';
import { resample } from '../volume/resample';
import { seriesAcquisition, type SliceModel } from '../volume/seriesAcquisition';
import { RunningStats } from '../volume/stats';
import { makeVolume, type Volume } from '../volume/volume';
import { checkBatchSize, resolveBatchSize, type BatchSize } from './batching';
import { InferenceError, throwIfCancelled } from './errors';
import { decode, encode, midSlicePreview } from './latentOps';
import type { LoadedModel } from './modelSessions';
import {
  expectedPerUnit,
  passProgress,
  ProgressTracker,
  type ExpectedSeconds,
  type ProgressListener,
} from './progress';
import { planePass, REFINER_BODY_BOX, refineVolume, REFINER_MAX_SAMPLES } from './refiner';
import { batchNoise, checkPreviewEvery, denoise, previewsPerLoop } from './sampler';
import { tileCount, tilesFor, type TilingPolicy } from './tiling';
import {
  planSuperResolutionTarget,
  type PlannedTarget,
  type SuperResolutionTarget,
} from './superResolutionTarget';

/** Nothing to refine: a volume with no voxel above REFINER_BODY_BOX's threshold. */
const NO_BOX: CropBox = { start: [0, 0, 0], dims: [0, 0, 0] };

/** Source values below this are scanner padding outside the reconstruction circle: air. */
export const AIR_FLOOR_HU = -1024;

export interface SuperResolveOptions {
  /** Default: the manifest's superResolution.mode ('ai' when the model has a refiner). */
  readonly mode?: SuperResolutionMode;
  /**
   * How the source's slices were acquired (seriesAcquisition.ts autoSliceModel reads it from the
   * header; default: a box as wide as the slice spacing). 'none': no projection (the result need
   * not reproduce the acquired slices).
   */
  readonly slices?: SliceModel | 'none';
  /** Projection iterations (default: the manifest's, 10). */
  readonly projectionIterations?: number;
  /** Noise level to go back to each cycle (default from the manifest; paper: 100). */
  readonly tStart?: number;
  readonly cycles?: number;
  readonly ddimSteps?: number;
  /** What the caller expects each stage to take in all (the ETA's start, see progress.ts). */
  readonly expectedSeconds?: ExpectedSeconds;
  /** Samples: diffusion samples, or refiner test-time-augmentation samples (1-8) in 'ai' mode. */
  readonly samples?: number;
  readonly seed?: number | string;
  /**
   * Samples per UNet/decoder call (default 'auto': as many as the runtime's per-call budget allows,
   * see batching.ts; 1 when the grid needs tiling). Results do not depend on it beyond float rounding.
   */
  readonly batchSize?: BatchSize;
  /** Placement in group space (default: 'scan-extent' of the source volume). */
  readonly groupSpace?: GroupSpace;
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
  readonly preview?: boolean;
  /**
   * Also preview the denoised estimate x0-hat of the batch's first sample every this many DDIM
   * steps of each cycle (default: never). Each costs one decoder call (tiled like the final decode).
   */
  readonly previewEvery?: number;
  /** Tile the encoder/decoder when one call would exceed the runtime's limits. */
  readonly tiling?: TilingPolicy;
  /** Keep every sample (memory!); default false: only mean and std are kept. */
  readonly keepSamples?: boolean;
}

export interface SuperResolveResult {
  /** The result: mean over samples, HU, on the requested output grid. */
  readonly mean: Volume;
  /** Sample standard deviation (ddof 1; 0 for one sample or the classical mode), HU. */
  readonly std: Volume;
  /** Trilinear upsampling of the source (HU, output grid): the baseline. */
  readonly upsampled: Volume;
  /** Classical back-projection (HU, output grid); the trilinear image when slices are 'none'. */
  readonly classical: Volume;
  /** The mean before the final projection ('ai' and 'diffusion' with a slice model). */
  readonly unprojected?: Volume;
  /** |acquired - D(result)| over the acquired samples, HU; null without a slice model. */
  readonly fidelity: Fidelity | null;
  /**
   * Wall seconds of the back-projection in the pipeline's own thread (0 without a slice
   * model): the panels' calibration times the projection's rate by it.
   */
  readonly backProjectionSeconds: number;
  readonly samples?: Volume[];
  readonly target: PlannedTarget;
  readonly groupSpace: GroupSpace;
  readonly settings: {
    mode: SuperResolutionMode;
    slices: SliceModel | 'none';
    projectionIterations: number;
    tStart: number;
    cycles: number;
    ddimSteps: number;
    samples: number;
    seed: number | string;
  };
}

/** The slice model used when none is given: a box as wide as the slice spacing. */
export function defaultSliceModel(source: Volume): SliceModel {
  const s = spacingOf(source.affine)[2];
  return {
    profile: 'box',
    widthMm: s,
    reason: `default: box as wide as the slice spacing (${s.toFixed(2)} mm)`,
  };
}

export async function superResolve(
  model: LoadedModel,
  source: Volume,
  target: SuperResolutionTarget,
  options: SuperResolveOptions = {},
): Promise<SuperResolveResult> {
  if (source.unit !== 'HU')
    throw new InferenceError('invalid-input', `super-resolution needs a volume in HU, got ${source.unit}`);
  const m = model.manifest;
  const defaults = superResolutionDefaults(m);
  const mode = options.mode ?? defaults.mode;
  if (!['ai', 'classical', 'diffusion'].includes(mode)) {
    throw new InferenceError(
      'invalid-input',
      `unknown super-resolution mode '${String(mode)}' (ai | classical | diffusion)`,
    );
  }
  if (mode === 'ai' && !model.refiner) {
    throw new InferenceError(
      'invalid-input',
      `model ${m.name} ${m.version} has no refiner: use mode 'classical' or 'diffusion'`,
    );
  }
  const settings = {
    mode,
    slices: options.slices ?? defaultSliceModel(source),
    projectionIterations: options.projectionIterations ?? defaults.projectionIterations,
    tStart: options.tStart ?? defaults.tStart,
    cycles: options.cycles ?? defaults.cycles,
    ddimSteps: options.ddimSteps ?? defaults.ddimSteps,
    samples:
      options.samples ??
      (mode === 'ai' ? defaults.refinerSamples : mode === 'classical' ? 1 : defaults.samples),
    seed: options.seed ?? 0,
  };
  for (const k of ['tStart', 'cycles', 'ddimSteps', 'samples'] as const) {
    const v = settings[k];
    if (!Number.isInteger(v) || v < 1) {
      throw new InferenceError('invalid-input', `${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (!Number.isInteger(settings.projectionIterations) || settings.projectionIterations < 0) {
    throw new InferenceError(
      'invalid-input',
      `projectionIterations must be a non-negative integer, got ${String(settings.projectionIterations)}`,
    );
  }
  if (mode === 'ai' && settings.samples > REFINER_MAX_SAMPLES) {
    throw new InferenceError(
      'invalid-input',
      `the refiner has ${REFINER_MAX_SAMPLES} distinct samples (2 planes x 4 mirrorings), asked for ${settings.samples}`,
    );
  }
  if (mode === 'classical' && settings.samples !== 1) {
    throw new InferenceError('invalid-input', 'the classical mode is deterministic: samples must be 1');
  }
  checkPreviewEvery(options.previewEvery);
  checkBatchSize(options.batchSize);
  const plan = planSuperResolutionTarget(source, target, m.grid.multipleOf, m.grid.min);
  if (mode === 'diffusion') checkGrid(m, plan.padded.dims);
  const group = options.groupSpace ?? scanExtentGroupSpace(source.dims, source.affine);
  const out = plan.output;
  const nOut = voxelCount(out.dims);

  // The baseline and the acquisition: trilinear upsampling, the acquired samples y (padding as
  // air) and their back-projection.
  const upsampled = resample(source, out, { outside: 'border' });
  const slices = settings.slices;
  let acq = null;
  try {
    acq = slices === 'none' ? null : seriesAcquisition(source, out, slices);
  } catch (e) {
    throw new InferenceError('invalid-input', (e as Error).message);
  }
  const y = acq ? source.data.map((v) => (v < AIR_FLOOR_HU ? AIR_FLOOR_HU : v)) : null;
  // in place: each sample is projected once and not used unprojected afterwards
  const project = (x: Float32Array) => (acq && y ? acq.project(x, y, settings.projectionIterations, x) : x);
  const backProjectStart = performance.now();
  const classical = acq && y ? acq.backProject(y, settings.projectionIterations) : upsampled.data.slice();
  // what each later projection of a sample will cost (the same operators and iterations)
  const projectionSeconds = acq && y ? (performance.now() - backProjectStart) / 1000 : 0;
  const finish = (mean: Float32Array, std: Float32Array, extra: Partial<SuperResolveResult> = {}) => ({
    mean: makeVolume(out.dims, out.affine, mean, 'HU'),
    std: makeVolume(out.dims, out.affine, std, 'HU-std'),
    upsampled,
    classical: makeVolume(out.dims, out.affine, classical, 'HU'),
    fidelity: acq && y ? acq.fidelity(mean, y) : null,
    backProjectionSeconds: projectionSeconds,
    target: plan,
    groupSpace: group,
    settings,
    ...extra,
  });

  if (mode === 'classical') {
    const tracker = new ProgressTracker({}, options.onProgress);
    tracker.emit('prepare');
    tracker.emit('finish');
    return finish(classical.slice(), new Float32Array(nOut));
  }

  if (mode === 'ai') {
    // features need the per-axis acquisition even without projection
    const axes = (acq ?? seriesAcquisition(source, out, defaultSliceModel(source))).axes;
    const passes = Array.from({ length: settings.samples }, (_, s) => planePass(axes, s));
    // the refiner runs on the body and a margin around it (the box, then each group of planes'
    // columns); air beyond keeps its back-projection
    const box = bodyBox(classical, out.dims, REFINER_BODY_BOX) ?? NO_BOX;
    const work = {
      refine: passes.reduce((a, p) => a + box.dims[p.normal], 0),
      ...(acq ? { project: settings.samples } : {}),
    };
    // an estimate counts every voxel; at most the box's share of them will be refined
    const full = options.expectedSeconds;
    const expected =
      full?.refine === undefined ? full : { ...full, refine: (full.refine * voxelCount(box.dims)) / nOut };
    const tracker = new ProgressTracker(work, options.onProgress, {
      expectedPerUnit: { ...expectedPerUnit(expected, work), project: projectionSeconds },
    });
    tracker.emit('prepare');
    const stats = new RunningStats(nOut);
    const raw = acq ? new RunningStats(nOut, { meanOnly: true }) : null;
    const kept: Volume[] = [];
    for (let s = 0; s < passes.length; s++) {
      let ticked = 0;
      const refined = await refineVolume(model.refiner!, classical, out.dims, passes[s], {
        signal: options.signal,
        threads: model.runtime?.backend?.threads,
        box,
        blendVoxels: REFINER_BODY_BOX.blendVoxels,
        planeColumns: REFINER_BODY_BOX,
        onPlanes: (done, total) => {
          tracker.tick('refine', { sample: s, samples: settings.samples }, done - ticked);
          ticked = done;
          void total;
        },
      });
      raw?.add(refined);
      const p = project(refined);
      if (acq) tracker.tick('project', { sample: s, samples: settings.samples });
      // the sample is not used again unless it is kept
      stats.add(p, { adopt: !options.keepSamples });
      if (options.keepSamples) kept.push(makeVolume(out.dims, out.affine, p, 'HU'));
    }
    tracker.emit('finish');
    return finish(...meanAndStd(stats, settings.samples), {
      ...(raw ? { unprojected: makeVolume(out.dims, out.affine, raw.takeMean(), 'HU') } : {}),
      ...(options.keepSamples ? { samples: kept } : {}),
    });
  }

  // ---- diffusion: the paper's method, started from the back-projection
  const dims = plan.padded.dims;
  const latentDims = pooledDims(dims, m.latent.factor);
  // encoder and decoder passes share the tile plan: one unit of work per tile (per sample)
  const tiles = tileCount(tilesFor(latentDims, m.latent.factor, options.tiling));
  const batchSize = resolveBatchSize({
    batchSize: options.batchSize,
    samples: settings.samples,
    imageDims: dims,
    runtime: model.runtime,
    tiling: options.tiling,
  });
  const work = {
    encode: tiles,
    denoise: settings.samples * settings.cycles * settings.ddimSteps,
    decode: settings.samples * tiles,
  };
  // previews while sampling: every loop (batch x cycle) but the last cycle's end when it is decoded
  const batches = Math.ceil(settings.samples / batchSize);
  const previews = options.previewEvery
    ? batches *
      ((settings.cycles - 1) * previewsPerLoop(settings.ddimSteps, options.previewEvery, false) +
        previewsPerLoop(settings.ddimSteps, options.previewEvery, options.preview === true))
    : 0;
  const tracker = new ProgressTracker(work, options.onProgress, {
    expectedPerUnit: expectedPerUnit(options.expectedSeconds, work, previews),
    previews: { count: previews, decodeUnits: tiles },
  });
  tracker.emit('prepare');

  // 1. The start image on the padded model grid (border values outside the output box): the
  //    back-projection, or (no slice model) the paper's trilinear upsampling of the source.
  //    When the model grid is the output grid (no padding) the trilinear start is `upsampled`
  //    itself. The encoder maps HU to model units tile by tile.
  const uncropped = [0, 1, 2].every((ax) => plan.offset[ax] === 0 && out.dims[ax] === dims[ax]);
  const intensity = intensityParams(m);
  const start =
    slices === 'none' && uncropped
      ? upsampled
      : resample(
          slices === 'none' ? source : makeVolume(out.dims, out.affine, classical, 'HU'),
          plan.padded,
          { outside: 'border' },
        );
  const a = indexToGroup(plan.padded.affine, group);
  const latentCond = latentConditioning(dims, a, m.latent.factor);

  // 2. Encode once: every sample starts from the same latent.
  throwIfCancelled(options.signal);
  // coordinates from the affine: the encoder computes them per tile (memory)
  const encoding = passProgress(tracker, 'encode', tiles);
  const z0 = await encode(model, { hu: start.data, intensity }, { indexToGroup: a }, dims, {
    tiling: options.tiling,
    signal: options.signal,
    onTile: encoding.onTile,
  });
  encoding.finish();

  const schedule = createSchedule(scheduleConfig(m));
  const ddim = new DDIMScheduler(scheduleConfig(m));
  ddim.setPartialTimesteps(settings.tStart, settings.ddimSteps);
  const perSample = z0.length;
  const outBox = { start: plan.offset, dims: out.dims };
  const stats = new RunningStats(nOut);
  const raw = acq ? new RunningStats(nOut, { meanOnly: true }) : null;
  const kept: Volume[] = [];
  const n = voxelCount(dims);
  const renderPreview = async (x0: Float32Array) =>
    midSlicePreview(
      await decode(model, x0, latentDims, 1, { tiling: options.tiling, signal: options.signal }),
      dims,
    );

  for (let first = 0; first < settings.samples; first += batchSize) {
    const batch = Math.min(batchSize, settings.samples - first);
    const rngs = Array.from({ length: batch }, (_, b) =>
      createRng(deriveSeed(settings.seed, 'super-resolve', first + b)),
    );
    let z: Float32Array = new Float32Array(batch * perSample);
    for (let b = 0; b < batch; b++) z.set(z0, b * perSample);
    for (let c = 0; c < settings.cycles; c++) {
      // 3. Forward process to tStart with fresh noise per sample and cycle.
      z = addNoise(schedule, z, batchNoise(rngs, perSample), settings.tStart);
      // 4. Deterministic DDIM back to a clean latent.
      z = await denoise({
        model,
        z,
        batch,
        latentDims,
        latentCond,
        rngs,
        timesteps: ddim.timesteps,
        step: (eps, t, zz) => ddim.step(eps, t, zz),
        stochastic: false,
        tracker,
        signal: options.signal,
        sampleIndex: first,
        samples: settings.samples,
        preview: options.previewEvery
          ? {
              schedule: ddim.schedule,
              every: options.previewEvery,
              // the last cycle ends in the decode, which is previewed when asked
              skipLast: options.preview === true && c === settings.cycles - 1,
              render: renderPreview,
            }
          : undefined,
      });
    }
    throwIfCancelled(options.signal);
    const decoding = passProgress(tracker, 'decode', batch * tiles, {
      sample: first,
      samples: settings.samples,
    });
    const images = await decode(model, z, latentDims, batch, {
      tiling: options.tiling,
      signal: options.signal,
      onTile: decoding.onTile,
    });
    // before the samples are converted in place
    const preview = options.preview ? midSlicePreview(images.subarray(0, n), dims) : undefined;
    for (let b = 0; b < batch; b++) {
      // one sample: no copy (this is 85 MB at 272x272x288)
      const own = batch === 1 ? images : images.slice(b * n, (b + 1) * n);
      const img = makeVolume(dims, plan.padded.affine, own, 'model');
      // crop, then map to HU in place (elementwise: the same values as mapping first, with one array less)
      const box = uncropped ? img : crop(img, outBox);
      const hu = modelToHu(box, intensity, box.data);
      raw?.add(hu.data);
      const p = project(hu.data);
      // the sample is not used again unless it is kept
      stats.add(p, { adopt: !options.keepSamples });
      if (options.keepSamples) kept.push(makeVolume(out.dims, out.affine, p, 'HU'));
    }
    decoding.finish(preview ? { preview } : {});
  }
  tracker.emit('finish');
  return finish(...meanAndStd(stats, settings.samples), {
    ...(raw ? { unprojected: makeVolume(out.dims, out.affine, raw.takeMean(), 'HU') } : {}),
    ...(options.keepSamples ? { samples: kept } : {}),
  });
}

/** The samples' mean and unbiased std, handed over without copies; one sample has std 0 (no spread measured). */
function meanAndStd(stats: RunningStats, samples: number): [Float32Array, Float32Array] {
  const { mean, std } = stats.take({ ddof: 1 });
  return [mean, samples > 1 ? std : std.fill(0)];
}
