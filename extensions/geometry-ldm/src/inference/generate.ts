/**
 * generate(spec): a synthetic CT at any grid, spacing, field of view and
 * orientation (docs/method.md sections 1 and 3). The conditioning is built at
 * latent size directly from the index -> group affine.
 */
import { voxelCount, type Dims3 } from '../geometry/conventions';
import { latentConditioning, pooledDims } from '../geometry/coordinateChannels';
import {
  resolveGeometry,
  type GenerationGeometrySpec,
  type ResolvedGeometry,
} from '../geometry/generationGeometry';
import type { GroupSpace } from '../geometry/groupSpace';
import { createRng, deriveSeed } from '../diffusion';
import { checkGrid, intensityParams, type ModelManifest } from '../model/manifest';
import { makeVolume, type Volume } from '../volume/volume';
import { modelToHu } from '../volume/intensity';
import { checkBatchSize, resolveBatchSize, type BatchSize } from './batching';
import { InferenceError, throwIfCancelled } from './errors';
import { decode, midSlicePreview } from './latentOps';
import type { LoadedModel } from './modelSessions';
import {
  expectedPerUnit,
  passProgress,
  ProgressTracker,
  type ExpectedSeconds,
  type ProgressListener,
} from './progress';
import {
  batchNoise,
  checkPreviewEvery,
  denoise,
  generationGuidance,
  generationSampler,
  guidanceFor,
  previewsPerLoop,
  schedulerFor,
  type SamplerSpec,
} from './sampler';
import { tileCount, tilesFor, type TilingPolicy } from './tiling';

export interface GenerateSpec {
  readonly geometry: GenerationGeometrySpec;
  /** Base seed; sample s uses deriveSeed(seed, 'generate', s). */
  readonly seed: number | string;
  readonly sampler: SamplerSpec;
  readonly samples?: number;
  /**
   * Samples per UNet/decoder call (default 'auto': as many as the runtime's per-call budget allows,
   * see batching.ts; 1 when the grid needs tiling). Results do not depend on it beyond float rounding.
   */
  readonly batchSize?: BatchSize;
  /** Where the group box sits in patient space (default: the manifest's reference extent centred at the origin). */
  readonly groupSpace?: GroupSpace;
}

export interface GenerateOptions {
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
  /** What the caller expects each stage to take in all (the ETA's start, see progress.ts). */
  readonly expectedSeconds?: ExpectedSeconds;
  /** Emit a mid-slice preview of the decoded result per sample. */
  readonly preview?: boolean;
  /**
   * Also preview the denoised estimate x0-hat of the batch's first sample every this many
   * sampling steps (default: never). Each costs one decoder call (tiled like the final decode).
   */
  readonly previewEvery?: number;
  /** Tile the decoder when one call would exceed the runtime's limits. */
  readonly tiling?: TilingPolicy;
}

export interface GeneratedSample {
  readonly volume: Volume;
  readonly seed: number;
  readonly index: number;
}

export interface GenerateResult {
  readonly samples: GeneratedSample[];
  readonly geometry: ResolvedGeometry;
  readonly groupSpace: GroupSpace;
}

/** The group box of a generated volume in patient space: reference extent centred at the patient origin. */
export function generationGroupSpace(manifest: ModelManifest): GroupSpace {
  const e = manifest.groupSpace.referenceExtentMm;
  return {
    kind: manifest.groupSpace.kind,
    originMm: [-e[0] / 2, -e[1] / 2, -e[2] / 2],
    extentMm: e,
    label: manifest.groupSpace.label,
  };
}

export async function generate(
  model: LoadedModel,
  spec: GenerateSpec,
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  const m = model.manifest;
  const group = spec.groupSpace ?? generationGroupSpace(m);
  const geometry = resolveGeometry(spec.geometry, group);
  checkGrid(m, geometry.dims);
  checkPreviewEvery(options.previewEvery);
  checkBatchSize(spec.batchSize);
  const dims: Dims3 = geometry.dims;
  const latentDims = pooledDims(dims, m.latent.factor);
  const latentCond = latentConditioning(dims, geometry.indexToGroup, m.latent.factor);
  const perSample = m.latent.channels * voxelCount(latentDims);
  const count = spec.samples ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new InferenceError('invalid-input', `samples must be a positive integer, got ${String(count)}`);
  const batchSize = resolveBatchSize({
    batchSize: spec.batchSize,
    samples: count,
    imageDims: dims,
    runtime: model.runtime,
    tiling: options.tiling,
  });
  const sched = schedulerFor(m, generationSampler(m, spec.sampler));
  const guidance = guidanceFor(generationGuidance(m), latentCond);
  // one unit of work per sample and UNet call, and per sample and decoder tile
  const tiles = tileCount(tilesFor(latentDims, m.latent.factor, options.tiling));
  const plan = { denoise: count * sched.timesteps.length, decode: count * tiles };
  const batches = Math.ceil(count / batchSize);
  const previews = options.previewEvery
    ? batches * previewsPerLoop(sched.timesteps.length, options.previewEvery, options.preview === true)
    : 0;
  const tracker = new ProgressTracker(plan, options.onProgress, {
    expectedPerUnit: expectedPerUnit(options.expectedSeconds, plan, previews),
    previews: { count: previews, decodeUnits: tiles },
  });
  const intensity = intensityParams(m);
  const samples: GeneratedSample[] = [];
  const preview = options.previewEvery
    ? {
        schedule: sched.schedule,
        every: options.previewEvery,
        skipLast: options.preview === true,
        render: async (x0: Float32Array) =>
          midSlicePreview(
            await decode(model, x0, latentDims, 1, { tiling: options.tiling, signal: options.signal }),
            dims,
          ),
      }
    : undefined;
  tracker.emit('prepare');

  for (let first = 0; first < count; first += batchSize) {
    const batch = Math.min(batchSize, count - first);
    const seeds = Array.from({ length: batch }, (_, b) => deriveSeed(spec.seed, 'generate', first + b));
    const rngs = seeds.map((s) => createRng(s));
    const z = await denoise({
      model,
      z: batchNoise(rngs, perSample),
      batch,
      latentDims,
      latentCond,
      rngs,
      timesteps: sched.timesteps,
      step: sched.step,
      stochastic: sched.stochastic,
      tracker,
      signal: options.signal,
      sampleIndex: first,
      samples: count,
      preview,
      guidance,
    });
    throwIfCancelled(options.signal);
    const decoding = passProgress(tracker, 'decode', batch * tiles, { sample: first, samples: count });
    const images = await decode(model, z, latentDims, batch, {
      tiling: options.tiling,
      signal: options.signal,
      onTile: decoding.onTile,
    });
    const n = voxelCount(dims);
    // before the samples are converted in place
    const decoded = options.preview ? midSlicePreview(images.subarray(0, n), dims) : undefined;
    for (let b = 0; b < batch; b++) {
      // each sample's own array (the decoder's output itself for one), mapped to HU in place
      const own = batch === 1 ? images : images.slice(b * n, (b + 1) * n);
      const img = makeVolume(dims, geometry.indexToPatient, own, 'model');
      samples.push({ volume: modelToHu(img, intensity, own), seed: seeds[b], index: first + b });
    }
    decoding.finish(decoded ? { preview: decoded } : {});
  }
  tracker.emit('finish');
  return { samples, geometry, groupSpace: group };
}
