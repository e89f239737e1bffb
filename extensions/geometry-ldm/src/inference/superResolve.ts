/**
 * superResolve(volume, target): emergent super-resolution (method.md section 4).
 * Trilinear upsample to the target grid, encode with the target's coordinate
 * channels, then per sample: `cycles` times (noise to tStart, DDIM back to 0
 * without added noise), decode; mean and standard deviation over N samples.
 */
import { voxelCount } from '../geometry/conventions';
import { latentConditioning, pooledDims } from '../geometry/coordinateChannels';
import { indexToGroup, scanExtentGroupSpace, type GroupSpace } from '../geometry/groupSpace';
import { addNoise, createRng, createSchedule, DDIMScheduler, deriveSeed } from '../diffusion';
import { checkGrid, intensityParams, scheduleConfig, superResolutionDefaults } from '../model/manifest';
import { crop } from '../volume/pad';
import { huToModel, modelToHu } from '../volume/intensity';
import { resample } from '../volume/resample';
import { RunningStats } from '../volume/stats';
import { makeVolume, type Volume } from '../volume/volume';
import { checkBatchSize, resolveBatchSize, type BatchSize } from './batching';
import { InferenceError, throwIfCancelled } from './errors';
import { decode, encode, midSlicePreview } from './latentOps';
import type { LoadedModel } from './modelSessions';
import { passProgress, ProgressTracker, type ProgressListener } from './progress';
import { batchNoise, checkPreviewEvery, denoise } from './sampler';
import { tileCount, tilesFor, type TilingPolicy } from './tiling';
import {
  planSuperResolutionTarget,
  type PlannedTarget,
  type SuperResolutionTarget,
} from './superResolutionTarget';

export interface SuperResolveOptions {
  /** Noise level to go back to each cycle (default from the manifest; paper: 100). */
  readonly tStart?: number;
  readonly cycles?: number;
  readonly ddimSteps?: number;
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
  /** Mean over samples, HU, on the requested output grid. */
  readonly mean: Volume;
  /** Sample standard deviation (ddof 1; 0 for one sample), HU. */
  readonly std: Volume;
  /** The trilinear upsampling the model started from (HU, output grid): the baseline. */
  readonly upsampled: Volume;
  readonly samples?: Volume[];
  readonly target: PlannedTarget;
  readonly groupSpace: GroupSpace;
  readonly settings: {
    tStart: number;
    cycles: number;
    ddimSteps: number;
    samples: number;
    seed: number | string;
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
  const settings = {
    tStart: options.tStart ?? defaults.tStart,
    cycles: options.cycles ?? defaults.cycles,
    ddimSteps: options.ddimSteps ?? defaults.ddimSteps,
    samples: options.samples ?? defaults.samples,
    seed: options.seed ?? 0,
  };
  for (const [k, v] of Object.entries(settings)) {
    if (k !== 'seed' && (!Number.isInteger(v) || (v as number) < 1)) {
      throw new InferenceError('invalid-input', `${k} must be a positive integer, got ${String(v)}`);
    }
  }
  checkPreviewEvery(options.previewEvery);
  checkBatchSize(options.batchSize);
  const plan = planSuperResolutionTarget(source, target, m.grid.multipleOf);
  checkGrid(m, plan.padded.dims);
  const group = options.groupSpace ?? scanExtentGroupSpace(source.dims, source.affine);
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
  const tracker = new ProgressTracker(
    {
      encode: tiles,
      denoise: settings.samples * settings.cycles * settings.ddimSteps,
      decode: settings.samples * tiles,
    },
    options.onProgress,
  );
  tracker.emit('prepare');

  // 1. Trilinear upsampling onto the padded target grid (border values outside the source box).
  const upPadded = resample(source, plan.padded, { outside: 'border' });
  const intensity = intensityParams(m);
  const x = huToModel(upPadded, intensity);
  const a = indexToGroup(plan.padded.affine, group);
  const latentCond = latentConditioning(dims, a, m.latent.factor);

  // 2. Encode once: every sample starts from the same latent.
  throwIfCancelled(options.signal);
  // coordinates from the affine: the encoder computes them per tile (memory)
  const encoding = passProgress(tracker, 'encode', tiles);
  const z0 = await encode(model, x.data, { indexToGroup: a }, dims, {
    tiling: options.tiling,
    signal: options.signal,
    onTile: encoding.onTile,
  });
  encoding.finish();

  const schedule = createSchedule(scheduleConfig(m));
  const ddim = new DDIMScheduler(scheduleConfig(m));
  ddim.setPartialTimesteps(settings.tStart, settings.ddimSteps);
  const perSample = z0.length;
  const outBox = { start: plan.offset, dims: plan.output.dims };
  const uncropped = [0, 1, 2].every((a) => plan.offset[a] === 0 && plan.output.dims[a] === dims[a]);
  const stats = new RunningStats(voxelCount(plan.output.dims));
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
      stats.add(hu.data);
      if (options.keepSamples) kept.push(hu);
    }
    decoding.finish(preview ? { preview } : {});
  }
  tracker.emit('finish');
  const out = plan.output;
  return {
    mean: makeVolume(out.dims, out.affine, stats.mean(), 'HU'),
    std: makeVolume(
      out.dims,
      out.affine,
      settings.samples > 1 ? stats.std({ ddof: 1 }) : new Float32Array(stats.length),
      'HU-std',
    ),
    upsampled: crop(upPadded, outBox),
    ...(options.keepSamples ? { samples: kept } : {}),
    target: plan,
    groupSpace: group,
    settings,
  };
}
