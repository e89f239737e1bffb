/**
 * The currency between layers: voxel data with its exact patient-space
 * geometry. Plain data (crosses postMessage; the buffer is transferable).
 * Axis order and memory layout: see geometry/conventions.ts.
 */
import { CodedError } from '../codedError';
import type { Affine } from '../geometry/affine';
import { voxelCount, type Dims3 } from '../geometry/conventions';

/**
 * What the numbers in `data` mean.
 * - 'HU': Hounsfield units (rescale slope/intercept already applied).
 * - 'model': the model's intensity scale (see volume/intensity.ts and the manifest).
 * - 'HU-std': a standard deviation in HU (uncertainty map).
 */
export type IntensityUnit = 'HU' | 'model' | 'HU-std';

/** A voxel grid placed in patient space: index (i, j, k) -> LPS mm. */
export interface Grid {
  readonly dims: Dims3;
  readonly affine: Affine;
}

export interface Volume extends Grid {
  /** C-order [nz][ny][nx], i fastest. Length nx*ny*nz. */
  readonly data: Float32Array;
  readonly unit: IntensityUnit;
}

export type VolumeErrorCode = 'shape-mismatch' | 'invalid-grid' | 'invalid-argument' | 'finished';

export class VolumeError extends CodedError<VolumeErrorCode> {
  constructor(code: VolumeErrorCode, message: string) {
    super('VolumeError', code, message);
  }
}

/** Checks that data length and dims agree; returns the volume for chaining. */
export function makeVolume(dims: Dims3, affine: Affine, data: Float32Array, unit: IntensityUnit): Volume {
  if (!dims.every((n) => Number.isInteger(n) && n > 0)) {
    throw new VolumeError('invalid-grid', `grid size must be positive integers, got [${dims.join(', ')}]`);
  }
  if (data.length !== voxelCount(dims)) {
    throw new VolumeError(
      'shape-mismatch',
      `data has ${data.length} values but grid [${dims.join(', ')}] needs ${voxelCount(dims)}`,
    );
  }
  return { dims: [dims[0], dims[1], dims[2]], affine: affine.slice(), data, unit };
}
