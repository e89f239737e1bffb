/**
 * Trilinear resampling of a Volume onto an arbitrary target Grid.
 *
 * Both grids live in patient space (index -> LPS mm affines). For a target
 * voxel (i, j, k) the continuous source index is M * (i, j, k, 1) with
 * M = invert(source.affine) * target.affine, and its value is the trilinear
 * interpolation of the source voxels around that point (voxel values sit at
 * voxel centres; see geometry/conventions.ts).
 *
 * Outside the box of source voxel centres [0, n-1]^3 the policy is explicit:
 * - { outside: 'border' }: clamp the continuous index to [0, n-1] per axis.
 *   Identical to torch.nn.functional.grid_sample(mode='bilinear' on 5D,
 *   padding_mode='border', align_corners=True).
 * - { outside: 'constant', fill }: a point outside the box by more than
 *   OUTSIDE_TOLERANCE voxel (on any axis) gets `fill`; points within the
 *   tolerance are clamped, so grids that share an edge never get `fill` from
 *   floating-point round-off. Inside the box this equals grid_sample with
 *   padding_mode='zeros' (which differs only outside).
 *
 * Source axes of size 1 are allowed: the only valid index is 0 (in 'constant'
 * mode a point is inside when its index on that axis is within the tolerance
 * of 0).
 *
 * Non-finite source values (NaN) spread to every sample whose interpolation
 * cell holds them, even with weight 0 (as in grid_sample, where 0 * NaN = NaN;
 * one difference: on the last index plane of an axis the cell here is
 * [n-2, n-1], so NaN at n-2 also reaches samples exactly at n-1).
 *
 * Speed: the index is stepped incrementally along i (adding column 0 of M);
 * per row, the columns that map safely inside the box run without range
 * checks; rows whose source row/slice index stays constant (axis-aligned
 * grids; constant up to 1e-9 voxel over the row) interpolate the needed
 * source row in (y, z) once and then lerp along x only. Results agree with
 * the per-voxel definition to float rounding (~1e-12 voxel in position).
 * A singular source affine throws GeometryError('singular-affine').
 *
 * `resampleRange` is a pure function over a range of target slices writing
 * into a full-size output array, so that a worker pool can split the z-range
 * (e.g. over SharedArrayBuffer-backed arrays); this module itself never
 * touches threads or I/O and runs unchanged in the browser.
 */
import { compose, invert, type Affine } from '../geometry/affine';
import { isPositiveIntegerDims, voxelCount, type Dims3 } from '../geometry/conventions';
import { VolumeError, type Grid, type Volume } from './volume';

/** How far (in source voxels) a sample point may lie outside [0, n-1] and still count as inside. */
export const OUTSIDE_TOLERANCE = 1e-6;

/**
 * Largest change (in source voxels) of the source row/slice index along one
 * target row that still counts as "constant along the row" (fast path). Far
 * below what a float32 output can resolve.
 */
const ROW_DRIFT_LIMIT = 1e-9;

/** Distance (source voxels) from the box edges that the unchecked interior loops keep. */
const INTERIOR_MARGIN = 1e-9;

export type ResampleOptions =
  { readonly outside: 'border' } | { readonly outside: 'constant'; readonly fill: number };

/** M = invert(source.affine) * target.affine: target index -> continuous source index. */
export function sourceIndexMatrix(source: Grid, target: Grid): Affine {
  return compose(invert(source.affine), target.affine);
}

/** Resamples `source` onto `target`; returns a new Volume with the target geometry and the source unit. */
export function resample(source: Volume, target: Grid, opts: ResampleOptions): Volume {
  checkGrid(target, 'target');
  const data = new Float32Array(voxelCount(target.dims));
  resampleRange(source, target, data, 0, target.dims[2], opts);
  return {
    dims: [target.dims[0], target.dims[1], target.dims[2]],
    affine: target.affine.slice(),
    data,
    unit: source.unit,
  };
}

/** Like `resample`, but writes every target voxel into `out` (length nx*ny*nz of the target) and returns it. */
export function resampleInto(
  source: Volume,
  target: Grid,
  out: Float32Array,
  opts: ResampleOptions,
): Float32Array {
  checkGrid(target, 'target');
  resampleRange(source, target, out, 0, target.dims[2], opts);
  return out;
}

/**
 * Writes target slices k in [z0, z1) of the resampled volume into `out`, which
 * holds the WHOLE target grid (C-order, length nx*ny*nz of the target); other
 * slices of `out` are left untouched. Pure: safe to call concurrently on
 * disjoint slice ranges of one shared output.
 */
export function resampleRange(
  source: Volume,
  target: Grid,
  out: Float32Array,
  z0: number,
  z1: number,
  opts: ResampleOptions,
): void {
  checkGrid(source, 'source');
  checkGrid(target, 'target');
  const src = source.data;
  if (src.length !== voxelCount(source.dims)) {
    throw new VolumeError(
      'shape-mismatch',
      `source data has ${src.length} values but its grid [${source.dims.join(', ')}] needs ${voxelCount(source.dims)}`,
    );
  }
  if (out.length !== voxelCount(target.dims)) {
    throw new VolumeError(
      'shape-mismatch',
      `output has ${out.length} values but the target grid [${target.dims.join(', ')}] needs ${voxelCount(target.dims)}`,
    );
  }
  const tnz = target.dims[2];
  if (!Number.isInteger(z0) || !Number.isInteger(z1) || z0 < 0 || z1 < z0 || z1 > tnz) {
    throw new VolumeError('invalid-argument', `slice range [${z0}, ${z1}) is not inside [0, ${tnz}]`);
  }
  let lowLimit: number;
  let highSlack: number;
  let fill: number;
  if (opts && opts.outside === 'border') {
    lowLimit = -Infinity;
    highSlack = Infinity;
    fill = 0;
  } else if (opts && opts.outside === 'constant' && typeof opts.fill === 'number') {
    lowLimit = -OUTSIDE_TOLERANCE;
    highSlack = OUTSIDE_TOLERANCE;
    fill = opts.fill;
  } else {
    throw new VolumeError(
      'invalid-argument',
      "resample options must be { outside: 'border' } or { outside: 'constant', fill: number }",
    );
  }
  if (z0 === z1) return;

  const m = sourceIndexMatrix(source, target);
  const m00 = m[0];
  const m01 = m[1];
  const m02 = m[2];
  const m03 = m[3];
  const m10 = m[4];
  const m11 = m[5];
  const m12 = m[6];
  const m13 = m[7];
  const m20 = m[8];
  const m21 = m[9];
  const m22 = m[10];
  const m23 = m[11];

  const snx = source.dims[0];
  const sny = source.dims[1];
  const snz = source.dims[2];
  const tnx = target.dims[0];
  const tny = target.dims[1];

  // Continuous index limits (voxel centres) and the largest lower corner of
  // an interpolation cell; an axis of size 1 has a single "cell" with step 0.
  const xMax = snx - 1;
  const yMax = sny - 1;
  const zMax = snz - 1;
  const x0Max = snx > 1 ? snx - 2 : 0;
  const y0Max = sny > 1 ? sny - 2 : 0;
  const z0Max = snz > 1 ? snz - 2 : 0;
  const rowStride = snx;
  const sliceStride = snx * sny;
  const dx = snx > 1 ? 1 : 0;
  const dy = sny > 1 ? rowStride : 0;
  const dz = snz > 1 ? sliceStride : 0;
  const dxy = dx + dy;
  const dxz = dx + dz;
  const dyz = dy + dz;
  const dxyz = dx + dy + dz;
  // Points outside [lo, hi] on any axis get `fill` ('border': never).
  const xLo = lowLimit;
  const yLo = lowLimit;
  const zLo = lowLimit;
  const xHi = xMax + highSlack;
  const yHi = yMax + highSlack;
  const zHi = zMax + highSlack;

  const rowSpan = tnx - 1;
  if (Math.abs(m10) * rowSpan <= ROW_DRIFT_LIMIT && Math.abs(m20) * rowSpan <= ROW_DRIFT_LIMIT) {
    // Rows along which the source row and slice index do not change (every
    // axis-aligned grid, and rotations about the i axis; "do not change" up
    // to ROW_DRIFT_LIMIT voxel over the whole row, so that round-off in
    // affines built through patient space keeps the fast path): interpolate
    // the needed stretch of the source row in (y, z) once per target row,
    // then only lerp along x per voxel. Same trilinear value, 2 loads per voxel.
    const rowBuf = new Float64Array(snx);
    for (let k = z0; k < z1; k++) {
      const kx = m02 * k + m03;
      const ky = m12 * k + m13;
      const kz = m22 * k + m23;
      for (let j = 0; j < tny; j++) {
        const xRow = m01 * j + kx;
        let x = xRow;
        const y = m11 * j + ky;
        const z = m21 * j + kz;
        let o = (k * tny + j) * tnx;
        const oEnd = o + tnx;
        if (y < yLo || y > yHi || z < zLo || z > zHi) {
          out.fill(fill, o, oEnd);
          continue;
        }
        const cy = y < 0 ? 0 : y > yMax ? yMax : y;
        const cz = z < 0 ? 0 : z > zMax ? zMax : z;
        let iy = cy | 0;
        let iz = cz | 0;
        if (iy > y0Max) iy = y0Max;
        if (iz > z0Max) iz = z0Max;
        const fy = cy - iy;
        const fz = cz - iz;
        // Source columns this row can touch (with a margin for round-off in the stepping).
        const xEnd = x + m00 * (tnx - 1);
        const xMin = x < xEnd ? x : xEnd;
        const xMaxRow = x < xEnd ? xEnd : x;
        // The voxel loop reads rowBuf[ix] and rowBuf[ix + dx] with ix in [0, x0Max].
        const lo = xMin <= 1 ? 0 : xMin >= x0Max + 1 ? x0Max : Math.floor(xMin) - 1;
        const hi = xMaxRow >= xMax - 2 ? xMax : xMaxRow <= 0 ? dx : Math.ceil(xMaxRow) + 2;
        const b = iz * sliceStride + iy * rowStride;
        for (let c = lo; c <= hi; c++) {
          const p = b + c;
          const v00 = src[p];
          const v10 = src[p + dy];
          const v01 = src[p + dz];
          const v11 = src[p + dyz];
          const c0 = v00 + (v10 - v00) * fy;
          const c1 = v01 + (v11 - v01) * fy;
          rowBuf[c] = c0 + (c1 - c0) * fz;
        }
        // Target columns [iA, iB) lie safely inside the source row: no checks there.
        const iA = segmentStart(x, m00, xMax, tnx, -Infinity);
        const iB = segmentEnd(x, m00, xMax, tnx, Infinity, iA);
        const rowStart = o;
        for (let seg = 0; seg < 3; seg++) {
          const a = seg === 0 ? 0 : seg === 1 ? iA : iB;
          const e = seg === 0 ? iA : seg === 1 ? iB : tnx;
          if (a >= e) continue;
          x = xRow + m00 * a;
          o = rowStart + a;
          const oSeg = rowStart + e;
          if (seg === 1) {
            for (; o < oSeg; o++, x += m00) {
              const ix = x | 0;
              const r0 = rowBuf[ix];
              out[o] = r0 + (rowBuf[ix + 1] - r0) * (x - ix);
            }
            continue;
          }
          for (; o < oSeg; o++, x += m00) {
            if (x < xLo || x > xHi) {
              out[o] = fill;
              continue;
            }
            const cx = x < 0 ? 0 : x > xMax ? xMax : x;
            let ix = cx | 0;
            if (ix > x0Max) ix = x0Max;
            const r0 = rowBuf[ix];
            out[o] = r0 + (rowBuf[ix + dx] - r0) * (cx - ix);
          }
        }
      }
    }
    return;
  }

  for (let k = z0; k < z1; k++) {
    const kx = m02 * k + m03;
    const ky = m12 * k + m13;
    const kz = m22 * k + m23;
    for (let j = 0; j < tny; j++) {
      const xRow = m01 * j + kx;
      const yRow = m11 * j + ky;
      const zRow = m21 * j + kz;
      const rowStart = (k * tny + j) * tnx;
      // Target columns [iA, iB) map safely inside the source box on all three
      // axes: no range checks or clamping there.
      let iA = segmentStart(xRow, m00, xMax, tnx, -Infinity);
      iA = segmentStart(yRow, m10, yMax, tnx, iA);
      iA = segmentStart(zRow, m20, zMax, tnx, iA);
      let iB = segmentEnd(xRow, m00, xMax, tnx, Infinity, iA);
      iB = segmentEnd(yRow, m10, yMax, tnx, iB, iA);
      iB = segmentEnd(zRow, m20, zMax, tnx, iB, iA);
      for (let seg = 0; seg < 3; seg++) {
        const a = seg === 0 ? 0 : seg === 1 ? iA : iB;
        const e = seg === 0 ? iA : seg === 1 ? iB : tnx;
        if (a >= e) continue;
        let x = xRow + m00 * a;
        let y = yRow + m10 * a;
        let z = zRow + m20 * a;
        let o = rowStart + a;
        const oSeg = rowStart + e;
        if (seg === 1) {
          for (; o < oSeg; o++, x += m00, y += m10, z += m20) {
            const ix = x | 0;
            const iy = y | 0;
            const iz = z | 0;
            const fx = x - ix;
            const fy = y - iy;
            const fz = z - iz;
            const b = iz * sliceStride + iy * rowStride + ix;
            const v000 = src[b];
            const v100 = src[b + 1];
            const v010 = src[b + rowStride];
            const v110 = src[b + rowStride + 1];
            const v001 = src[b + sliceStride];
            const v101 = src[b + sliceStride + 1];
            const v011 = src[b + sliceStride + rowStride];
            const v111 = src[b + sliceStride + rowStride + 1];
            const c00 = v000 + (v100 - v000) * fx;
            const c10 = v010 + (v110 - v010) * fx;
            const c01 = v001 + (v101 - v001) * fx;
            const c11 = v011 + (v111 - v011) * fx;
            const c0 = c00 + (c10 - c00) * fy;
            const c1 = c01 + (c11 - c01) * fy;
            out[o] = c0 + (c1 - c0) * fz;
          }
          continue;
        }
        for (; o < oSeg; o++, x += m00, y += m10, z += m20) {
          if (x < xLo || x > xHi || y < yLo || y > yHi || z < zLo || z > zHi) {
            out[o] = fill;
            continue;
          }
          const cx = x < 0 ? 0 : x > xMax ? xMax : x;
          const cy = y < 0 ? 0 : y > yMax ? yMax : y;
          const cz = z < 0 ? 0 : z > zMax ? zMax : z;
          let ix = cx | 0;
          let iy = cy | 0;
          let iz = cz | 0;
          if (ix > x0Max) ix = x0Max;
          if (iy > y0Max) iy = y0Max;
          if (iz > z0Max) iz = z0Max;
          const fx = cx - ix;
          const fy = cy - iy;
          const fz = cz - iz;
          const b = iz * sliceStride + iy * rowStride + ix;
          const v000 = src[b];
          const v100 = src[b + dx];
          const v010 = src[b + dy];
          const v110 = src[b + dxy];
          const v001 = src[b + dz];
          const v101 = src[b + dxz];
          const v011 = src[b + dyz];
          const v111 = src[b + dxyz];
          const c00 = v000 + (v100 - v000) * fx;
          const c10 = v010 + (v110 - v010) * fx;
          const c01 = v001 + (v101 - v001) * fx;
          const c11 = v011 + (v111 - v011) * fx;
          const c0 = c00 + (c10 - c00) * fy;
          const c1 = c01 + (c11 - c01) * fy;
          out[o] = c0 + (c1 - c0) * fz;
        }
      }
    }
  }
}

/**
 * Safe interior of a row: the target columns i for which the source
 * coordinate c0 + step * i lies in [INTERIOR_MARGIN, cMax - INTERIOR_MARGIN]
 * (so floor(c) is a valid lower cell corner without clamping), shrunk by one
 * column at each end to absorb round-off in the incremental stepping. Empty
 * for an axis of size 1 (cMax = 0). Returns max(lo, the first column).
 */
function segmentStart(c0: number, step: number, cMax: number, n: number, lo: number): number {
  const a = INTERIOR_MARGIN;
  const b = cMax - INTERIOR_MARGIN;
  let first: number;
  if (step > 0) first = Math.ceil((a - c0) / step) + 1;
  else if (step < 0) first = Math.ceil((b - c0) / step) + 1;
  else first = c0 >= a && c0 <= b ? 0 : n;
  if (first < 0) first = 0;
  if (first > n) first = n;
  return first > lo ? first : lo;
}

/** End (exclusive) of the safe interior, see segmentStart: min(hi, the end), never below `start`. */
function segmentEnd(c0: number, step: number, cMax: number, n: number, hi: number, start: number): number {
  const a = INTERIOR_MARGIN;
  const b = cMax - INTERIOR_MARGIN;
  let end: number;
  if (step > 0) end = Math.floor((b - c0) / step);
  else if (step < 0) end = Math.floor((a - c0) / step);
  else end = c0 >= a && c0 <= b ? n : 0;
  if (end > n) end = n;
  if (end > hi) end = hi;
  return end < start ? start : end;
}

function checkGrid(grid: Grid, what: string): void {
  const dims: Dims3 = grid.dims;
  if (!Array.isArray(dims) || !isPositiveIntegerDims(dims)) {
    throw new VolumeError(
      'invalid-grid',
      `${what} grid size must be 3 positive integers, got [${String(dims)}]`,
    );
  }
  if (!Array.isArray(grid.affine) || grid.affine.length !== 16 || !grid.affine.every(Number.isFinite)) {
    throw new VolumeError('invalid-grid', `${what} affine must be 16 finite numbers (row-major 4x4)`);
  }
}
