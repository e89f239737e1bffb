/**
 * A tiling policy from a runtime's memory limits: the encoder and decoder run
 * whole when their largest activation fits the runtime's largest tensor, and
 * in tiles otherwise.
 *
 * The largest activation is estimated as `bytesPerImageVoxel` times the image
 * voxels of one call. The default, 128 B, is twice the demo decoder's largest
 * tensor per image voxel (its ONNX graph: 16 float32 channels at full
 * resolution, and 128 channels at half resolution before the voxel shuffle,
 * both 64 B per image voxel). Models with wider full-resolution layers should
 * pass their own value.
 */
import type { TilingPolicy } from './tiling';
import type { WebGpuLimits } from './webRuntime';

export const DEFAULT_BYTES_PER_IMAGE_VOXEL = 128;
/**
 * Budget for one tensor on wasm: the wasm32 heap is at most 4 GiB and holds
 * several activations, the weights and the tiling buffers at once.
 */
export const WASM_MAX_TENSOR_BYTES = 256 * 2 ** 20;

export interface TilingLimitsOptions {
  readonly bytesPerImageVoxel?: number;
  readonly overlapLatent?: number;
}

/** The largest tensor (bytes) a runtime may allocate: the WebGPU device's binding/buffer limit, or the wasm budget. */
export function maxTensorBytes(webgpu: WebGpuLimits | undefined): number {
  if (!webgpu) return WASM_MAX_TENSOR_BYTES;
  const d = webgpu.device;
  const limit = Math.min(d.maxStorageBufferBindingSize, d.maxBufferSize);
  // a device that reports nothing gets the WebGPU default (128 MiB)
  return limit > 0 ? limit : 128 * 2 ** 20;
}

export function tilingPolicyForLimits(tensorBytes: number, options: TilingLimitsOptions = {}): TilingPolicy {
  const perVoxel = options.bytesPerImageVoxel ?? DEFAULT_BYTES_PER_IMAGE_VOXEL;
  if (!(tensorBytes > 0) || !(perVoxel > 0)) {
    throw new RangeError(`tiling limits must be positive (tensor ${tensorBytes} B, ${perVoxel} B per voxel)`);
  }
  return {
    maxImageVoxelsPerCall: Math.floor(tensorBytes / perVoxel),
    ...(options.overlapLatent !== undefined ? { overlapLatent: options.overlapLatent } : {}),
  };
}
