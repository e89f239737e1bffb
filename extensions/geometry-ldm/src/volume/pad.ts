/**
 * Padding and cropping in index space, e.g. to make every axis a multiple of
 * 8 for a U-Net / VAE. Padding never moves a voxel in patient space: the new
 * grid's affine is the old one composed with an integer index shift, so every
 * original voxel keeps its patient position (up to float64 round-off of the
 * affine's translation column, ~1e-13 mm).
 *
 * A `CropBox` is a box of voxels in the index space of the volume it is
 * applied to: voxels start .. start + dims - 1 on each axis. `start` may be
 * negative and the box may reach beyond the volume; such voxels need a fill.
 */
import { compose, translation, type Affine } from '../geometry/affine';
import { isPositiveIntegerDims, type Dims3, type Vec3 } from '../geometry/conventions';
import { VolumeError, type Grid, type Volume } from './volume';

export interface CropBox {
  /** Index of the box's first voxel (integers; may be negative). */
  readonly start: Vec3;
  /** Box size [nx, ny, nz] (positive integers). */
  readonly dims: Dims3;
}

/** A constant value, or 'edge': repeat the nearest voxel of the volume (numpy's mode='edge'). */
export type PadFill = number | 'edge';

export interface PadOptions {
  readonly fill: PadFill;
}

export interface PadResult {
  readonly volume: Volume;
  /** The box of the ORIGINAL voxels inside the returned volume: `crop(result.volume, result.box)` undoes the padding. */
  readonly box: CropBox;
}

export interface GridResizeResult {
  readonly grid: Grid;
  /** The box of the ORIGINAL grid in the index space of the returned grid (reaches outside it where cropped). */
  readonly box: CropBox;
}

/** How `cropOrPadGrid` picks the new size of an axis of n voxels. */
export type ResizeMode = 'pad' | 'crop' | 'nearest';

/** Smallest multiple of m that is >= n. */
export function paddedSize(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Pads every axis up to the next multiple of m (per axis if m is a triple),
 * centred: with an odd number of added voxels the extra one goes on the high
 * side. Axes that already are multiples are unchanged (returns a copy).
 */
export function padToMultiple(volume: Volume, m: number | Dims3, opts: PadOptions): PadResult {
  const mm = multiples(m);
  const dims = checkedDims(volume.dims, 'volume');
  const target = [0, 1, 2].map((a) => paddedSize(dims[a], mm[a])) as unknown as Dims3;
  return resizeCentred(volume, target, opts.fill);
}

/**
 * The voxels of `box` as a new volume (its affine shifted so that voxels keep
 * their patient positions). Voxels of the box outside the volume take
 * `opts.fill`; without it such a box is an error.
 */
export function crop(volume: Volume, box: CropBox, opts?: { readonly fill?: PadFill }): Volume {
  const dims = checkedDims(volume.dims, 'volume');
  checkBox(box);
  checkFill(opts?.fill, true);
  if (volume.data.length !== dims[0] * dims[1] * dims[2]) {
    throw new VolumeError(
      'shape-mismatch',
      `volume data has ${volume.data.length} values for grid [${dims.join(', ')}]`,
    );
  }
  const inside = [0, 1, 2].every((a) => box.start[a] >= 0 && box.start[a] + box.dims[a] <= dims[a]);
  if (!inside && opts?.fill === undefined) {
    throw new VolumeError(
      'invalid-argument',
      `crop box start [${box.start.join(', ')}] size [${box.dims.join(', ')}] reaches outside the volume [${dims.join(', ')}]; pass a fill`,
    );
  }
  const data = extract(volume.data, dims, box, opts?.fill ?? 0);
  return {
    dims: [box.dims[0], box.dims[1], box.dims[2]],
    affine: shiftedAffine(volume.affine, box.start),
    data,
    unit: volume.unit,
  };
}

/**
 * The grid counterpart of `padToMultiple` for grids without data: every axis
 * becomes a multiple of m, centred (extra voxel on the high side), by
 * - 'pad' (default): the next multiple >= n (same grid as padToMultiple gives),
 * - 'crop': the largest multiple <= n (but at least m),
 * - 'nearest': the nearer of the two (ties pad).
 */
export function cropOrPadGrid(grid: Grid, m: number | Dims3, mode: ResizeMode = 'pad'): GridResizeResult {
  const mm = multiples(m);
  const dims = checkedDims(grid.dims, 'grid');
  if (mode !== 'pad' && mode !== 'crop' && mode !== 'nearest') {
    throw new VolumeError(
      'invalid-argument',
      `resize mode must be 'pad', 'crop' or 'nearest', got ${String(mode)}`,
    );
  }
  const target = [0, 1, 2].map((a) => {
    const n = dims[a];
    const up = paddedSize(n, mm[a]);
    const down = Math.max(mm[a], Math.floor(n / mm[a]) * mm[a]);
    if (mode === 'pad') return up;
    if (mode === 'crop') return down;
    return up - n <= n - down ? up : down;
  }) as unknown as Dims3;
  const lo = centredLow(dims, target);
  return {
    grid: { dims: target, affine: shiftedAffine(grid.affine, negate(lo)) },
    box: { start: lo, dims: [dims[0], dims[1], dims[2]] },
  };
}

/** Grid of a box of `grid`'s index space (same voxel positions in patient space). */
export function boxGrid(grid: Grid, box: CropBox): Grid {
  checkBox(box);
  return { dims: [box.dims[0], box.dims[1], box.dims[2]], affine: shiftedAffine(grid.affine, box.start) };
}

function resizeCentred(volume: Volume, target: Dims3, fill: PadFill): PadResult {
  checkFill(fill, false);
  const dims = volume.dims;
  const lo = centredLow(dims, target);
  const padded = crop(volume, { start: negate(lo), dims: target }, { fill });
  return { volume: padded, box: { start: lo, dims: [dims[0], dims[1], dims[2]] } };
}

/**
 * Voxels added before index 0 on each axis when going from dims to target
 * (negative: removed), centred with the odd voxel on the high side both when
 * padding and when cropping (so cropping undoes padding and vice versa).
 */
function centredLow(dims: Dims3, target: Dims3): Vec3 {
  return [0, 1, 2].map((a) => Math.trunc((target[a] - dims[a]) / 2) || 0) as unknown as Vec3;
}

/** -v without producing -0 (which would make boxes compare unequal to [0, 0, 0]). */
function negate(v: Vec3): Vec3 {
  return [0 - v[0], 0 - v[1], 0 - v[2]];
}

/** affine * translation(start): index 0 of the new grid is index `start` of the old one. */
function shiftedAffine(affine: Affine, start: Vec3): Affine {
  if (start[0] === 0 && start[1] === 0 && start[2] === 0) return affine.slice();
  return compose(affine, translation(start));
}

function extract(src: Float32Array, dims: Dims3, box: CropBox, fill: PadFill): Float32Array {
  const [nx, ny, nz] = dims;
  const [bx, by, bz] = box.dims;
  const [sx, sy, sz] = box.start;
  const out = new Float32Array(bx * by * bz);
  const edge = fill === 'edge';
  const value = edge ? 0 : fill;
  // Box columns c with 0 <= sx + c < nx are copied; the rest are fill/edge.
  const cLo = Math.min(bx, Math.max(0, -sx));
  const cHi = Math.max(cLo, Math.min(bx, nx - sx));
  for (let k = 0; k < bz; k++) {
    const z = sz + k;
    const zIn = z >= 0 && z < nz;
    for (let j = 0; j < by; j++) {
      const y = sy + j;
      const o = (k * by + j) * bx;
      if (!edge && (!zIn || y < 0 || y >= ny)) {
        out.fill(value, o, o + bx);
        continue;
      }
      const zz = z < 0 ? 0 : z >= nz ? nz - 1 : z;
      const yy = y < 0 ? 0 : y >= ny ? ny - 1 : y;
      const row = (zz * ny + yy) * nx;
      if (cHi > cLo) out.set(src.subarray(row + sx + cLo, row + sx + cHi), o + cLo);
      if (edge) {
        out.fill(src[row], o, o + cLo);
        out.fill(src[row + nx - 1], o + cHi, o + bx);
      } else {
        out.fill(value, o, o + cLo);
        out.fill(value, o + cHi, o + bx);
      }
    }
  }
  return out;
}

function multiples(m: number | Dims3): Dims3 {
  const mm: Dims3 = typeof m === 'number' ? [m, m, m] : m;
  if (!Array.isArray(mm) || !isPositiveIntegerDims(mm)) {
    throw new VolumeError(
      'invalid-argument',
      `multiple must be a positive integer (or three), got ${String(m)}`,
    );
  }
  return mm;
}

function checkedDims(dims: Dims3, what: string): Dims3 {
  if (!Array.isArray(dims) || !isPositiveIntegerDims(dims)) {
    throw new VolumeError('invalid-grid', `${what} size must be 3 positive integers, got [${String(dims)}]`);
  }
  return dims;
}

function checkBox(box: CropBox): void {
  if (
    !box ||
    !Array.isArray(box.start) ||
    box.start.length !== 3 ||
    !box.start.every((s) => Number.isInteger(s)) ||
    !Array.isArray(box.dims) ||
    !isPositiveIntegerDims(box.dims)
  ) {
    throw new VolumeError(
      'invalid-argument',
      'crop box needs integer start [x, y, z] and positive integer dims',
    );
  }
}

function checkFill(fill: PadFill | undefined, optional: boolean): void {
  if (fill === undefined && optional) return;
  if (fill !== 'edge' && typeof fill !== 'number') {
    throw new VolumeError('invalid-argument', `fill must be a number or 'edge', got ${String(fill)}`);
  }
}
