/** Tiling policy from runtime limits: budgets and the plans they lead to. */
import { tilesFor } from './tiling';
import {
  DEFAULT_BYTES_PER_IMAGE_VOXEL,
  maxTensorBytes,
  tilingPolicyForLimits,
  WASM_MAX_TENSOR_BYTES,
} from './tilingLimits';
import type { WebGpuLimits } from './webRuntime';

const gpu = (binding: number, buffer: number): WebGpuLimits => ({
  adapter: {},
  maxStorageBufferBindingSize: binding,
  maxBufferSize: buffer,
  device: { maxStorageBufferBindingSize: binding, maxBufferSize: buffer },
  shaderF16: false,
});

describe('tilingPolicyForLimits', () => {
  it('takes the smaller device limit on WebGPU and the wasm budget otherwise', () => {
    expect(maxTensorBytes(gpu(2 ** 30, 2 ** 31))).toBe(2 ** 30);
    expect(maxTensorBytes(gpu(2 ** 31, 2 ** 28))).toBe(2 ** 28);
    expect(maxTensorBytes(gpu(0, 0))).toBe(128 * 2 ** 20);
    expect(maxTensorBytes(undefined)).toBe(WASM_MAX_TENSOR_BYTES);
  });

  it('caps image voxels per call at limit / bytes per voxel', () => {
    expect(DEFAULT_BYTES_PER_IMAGE_VOXEL).toBe(128);
    expect(tilingPolicyForLimits(2 ** 30)).toEqual({ maxImageVoxelsPerCall: 2 ** 23 });
    expect(tilingPolicyForLimits(1000, { bytesPerImageVoxel: 64, overlapLatent: 2 })).toEqual({
      maxImageVoxelsPerCall: 15,
      overlapLatent: 2,
    });
    expect(() => tilingPolicyForLimits(0)).toThrow(RangeError);
    expect(() => tilingPolicyForLimits(2 ** 30, { bytesPerImageVoxel: -1 })).toThrow(RangeError);
  });

  it('a 272x272x288 decode is tiled under a 1 GiB binding (SwiftShader) and whole under 4 GiB', () => {
    const latent: [number, number, number] = [34, 34, 36];
    const small = tilesFor(latent, 8, tilingPolicyForLimits(2 ** 30))!;
    expect(small).not.toBeNull();
    expect(small.size[0] * small.size[1] * small.size[2] * 512).toBeLessThanOrEqual(2 ** 23);
    expect(tilesFor(latent, 8, tilingPolicyForLimits(2 ** 32))).toBeNull();
  });
});
