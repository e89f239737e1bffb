/**
 * How many samples go through one UNet / decoder call. `batchSize: 'auto'`
 * (the default of both pipelines) batches as many samples as the runtime's
 * per-call budget allows: the same budget that decides tiling
 * (tilingLimits.ts: the largest tensor the runtime may allocate over the bytes
 * per image voxel of the decoder's largest activation). A batched decoder call
 * over B untiled samples is one call over B times the image voxels, so
 *
 *   B = floor(maxImageVoxelsPerCall / image voxels of one sample),
 *
 * at most MAX_AUTO_BATCH and the number of samples, and 1 when one sample
 * alone already needs tiling. The UNet's activations per sample are far
 * smaller (latent grid: 1/512 of the voxels) and do not bind first.
 * Results do not depend on the batch size beyond float reassociation: sample
 * s always draws its noise from its own RNG stream.
 */
import { voxelCount, type Dims3 } from '../geometry/conventions';
import { InferenceError } from './errors';
import type { InferenceRuntime } from './runtime';
import type { TilingPolicy } from './tiling';
import { maxTensorBytes, tilingPolicyForLimits } from './tilingLimits';
import type { WebGpuLimits } from './webRuntime';

/** Samples per model call: a positive integer, or 'auto' (from the runtime's limits). */
export type BatchSize = number | 'auto';

/**
 * Upper bound of an automatic batch. Beyond a few samples a batch only adds
 * latency to the first result and JS-side buffers (B decoded volumes at once);
 * per-call overhead, which batching amortises, is already small by then.
 */
export const MAX_AUTO_BATCH = 8;

/** Throws 'invalid-input' unless `batchSize` is absent, 'auto' or a positive integer. */
export function checkBatchSize(batchSize: unknown): asserts batchSize is BatchSize | undefined {
  if (batchSize === undefined || batchSize === 'auto') return;
  if (typeof batchSize === 'number' && Number.isInteger(batchSize) && batchSize >= 1) return;
  throw new InferenceError(
    'invalid-input',
    `batchSize must be a positive integer or 'auto', got ${typeof batchSize === 'string' ? JSON.stringify(batchSize) : String(batchSize)}`,
  );
}

/** The per-call budget (image voxels) of a runtime when the caller gives no tiling policy. */
export function runtimeImageVoxelsPerCall(runtime: InferenceRuntime): number {
  const webgpu = (runtime as { readonly webgpu?: WebGpuLimits }).webgpu;
  return tilingPolicyForLimits(maxTensorBytes(webgpu)).maxImageVoxelsPerCall;
}

/**
 * The batch size a job runs with. `tiling` is the job's policy (its budget is used when given,
 * else the runtime's own, see runtimeImageVoxelsPerCall).
 */
export function resolveBatchSize(args: {
  readonly batchSize: BatchSize | undefined;
  readonly samples: number;
  readonly imageDims: Dims3;
  readonly runtime: InferenceRuntime;
  readonly tiling?: TilingPolicy;
}): number {
  checkBatchSize(args.batchSize);
  if (typeof args.batchSize === 'number') return Math.min(args.batchSize, Math.max(1, args.samples));
  const budget = args.tiling?.maxImageVoxelsPerCall ?? runtimeImageVoxelsPerCall(args.runtime);
  return autoBatchSize(budget, args.imageDims, args.samples);
}

/** The 'auto' batch for a per-call budget of `imageVoxelsPerCall` (also used by the panels' estimates). */
export function autoBatchSize(imageVoxelsPerCall: number, imageDims: Dims3, samples: number): number {
  const fit = Math.floor(imageVoxelsPerCall / voxelCount(imageDims));
  return Math.max(1, Math.min(fit, Math.max(1, samples), MAX_AUTO_BATCH));
}
