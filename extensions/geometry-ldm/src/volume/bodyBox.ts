/**
 * The box around the body of a volume: every voxel above a HU threshold, grown by a margin and
 * clipped to the grid. The AI refiner runs inside it only (docs/super-resolution.md): a
 * convolution's result depends on its inputs within its reach, so beyond a margin at least that
 * reach the body cannot be told from plain air.
 */
import type { Dims3, Vec3 } from '../geometry/conventions';
import type { CropBox } from './pad';

export interface BodyBoxRule {
  /** A voxel is body when its value (HU) is above this. */
  readonly aboveHu: number;
  /** Voxels added on every side of the body's bounding box (then clipped to the grid). */
  readonly marginVoxels: number;
}

/** The box (index space of `dims`), or null when no voxel is above the threshold. */
export function bodyBox(data: Float32Array, dims: Dims3, rule: BodyBoxRule): CropBox | null {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz) {
    throw new RangeError(`bodyBox: ${data.length} values for a ${nx} x ${ny} x ${nz} grid`);
  }
  const t = rule.aboveHu;
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = (k * ny + j) * nx;
      let first = 0;
      while (first < nx && !(data[row + first] > t)) first++;
      if (first === nx) continue;
      let last = nx - 1;
      while (!(data[row + last] > t)) last--;
      if (first < lo[0]) lo[0] = first;
      if (last > hi[0]) hi[0] = last;
      if (j < lo[1]) lo[1] = j;
      if (j > hi[1]) hi[1] = j;
      if (k < lo[2]) lo[2] = k;
      hi[2] = k;
    }
  }
  if (hi[2] < 0) return null;
  const m = Math.max(0, Math.floor(rule.marginVoxels));
  const start = [0, 1, 2].map((a) => Math.max(0, lo[a] - m));
  const end = [0, 1, 2].map((a) => Math.min(dims[a] - 1, hi[a] + m));
  return {
    start: start as unknown as Vec3,
    dims: [0, 1, 2].map((a) => end[a] - start[a] + 1) as unknown as Dims3,
  };
}
