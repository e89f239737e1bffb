/**
 * Exact resampling of a stack of parallel slices (possibly tilted: each slice
 * shifted within its plane; possibly irregularly spaced along the normal) onto
 * a regular, orthogonal grid.
 *
 * Target grid: the slices' own in-plane axes and pixel spacing (X * dx, Y * dy),
 * the normal N with step `sliceSpacingMm` (default: the mean gap, so the
 * slice count stays the same), in-plane extent = the union of all slices'
 * extents on the first slice's pixel lattice, k from the first slice's plane
 * to the last one's.
 *
 * A target point p: its distance along N picks the two bracketing slices; in
 * each, the in-plane continuous index (dot(p - IPP_s, X) / dx, dot(p - IPP_s, Y) / dy)
 * is sampled bilinearly; the two values are mixed linearly by distance. A point
 * outside either slice's pixel centres (beyond 1e-6 pixel) gets `fill`.
 * Exact for fields linear in patient space (up to float32 storage).
 */
import { add, dot, fromColumns, scale, sub } from '../geometry/affine';
import type { SliceStack } from '../geometry/dicomGeometry';
import type { Vec3 } from '../geometry/conventions';
import { makeVolume, VolumeError, type IntensityUnit, type Volume } from './volume';

export interface SliceStackResampleOptions {
  /** Step along the normal (mm); default the mean gap of the stack. */
  readonly sliceSpacingMm?: number;
  /** Value for points not covered by both bracketing slices; default the minimum of the data. */
  readonly fill?: number;
  readonly unit?: IntensityUnit;
}

const EPS = 1e-6;

/**
 * `data`: the stack's slices in k order (stack.order already applied), each
 * nx*ny values, C-order with i fastest.
 */
export function resampleSliceStack(
  stack: SliceStack,
  data: Float32Array,
  options: SliceStackResampleOptions = {},
): Volume {
  const [nx, ny, nz] = stack.dims;
  if (data.length !== nx * ny * nz) {
    throw new VolumeError(
      'shape-mismatch',
      `data has ${data.length} values, the stack needs ${nx * ny * nz}`,
    );
  }
  if (nz < 2) throw new VolumeError('invalid-grid', 'resampling a slice stack needs at least two slices');
  const [dx, dy] = stack.inPlaneSpacingMm;
  const X = stack.rowDirection;
  const Y = stack.columnDirection;
  const N = stack.normal;
  const d = stack.distancesMm;
  const extent = d[nz - 1] - d[0];
  const step = options.sliceSpacingMm ?? extent / (nz - 1);
  if (!(step > 0)) throw new VolumeError('invalid-argument', `slice spacing must be positive, got ${step}`);
  let fill = options.fill;
  if (fill === undefined) {
    fill = Infinity;
    for (let n = 0; n < data.length; n++) if (data[n] < fill) fill = data[n];
  }
  // In-plane offsets of every slice's first pixel relative to slice 0, in pixels.
  const p0 = stack.positions[0];
  const offI = stack.positions.map((p) => dot(sub(p, p0), X) / dx);
  const offJ = stack.positions.map((p) => dot(sub(p, p0), Y) / dy);
  const iMin = Math.floor(Math.min(...offI) + EPS);
  const jMin = Math.floor(Math.min(...offJ) + EPS);
  const iMax = Math.ceil(Math.max(...offI) - EPS) + nx - 1;
  const jMax = Math.ceil(Math.max(...offJ) - EPS) + ny - 1;
  const tx = iMax - iMin + 1;
  const ty = jMax - jMin + 1;
  const tz = Math.floor(extent / step + 1e-6) + 1;
  const origin: Vec3 = add(p0, add(scale(X, iMin * dx), scale(Y, jMin * dy)));
  const affine = fromColumns(scale(X, dx), scale(Y, dy), scale(N, step), origin);
  const out = new Float32Array(tx * ty * tz);
  const slice = nx * ny;

  // Continuous in-plane index in slice s of target (i, j): (i + iMin - offI[s], j + jMin - offJ[s]).
  // Per slice, the lattice maps are separable: precompute (index, fraction) per target column and
  // row. A slice covers one contiguous run of target columns [start, end) (and rows): the index
  // grows with the target index, so the two bracketing slices' common cover is a rectangle.
  interface AxisMap {
    lo: Int32Array;
    hi: Int32Array;
    frac: Float64Array;
    start: number;
    end: number;
  }
  const axisMap = (count: number, shift: number, n: number): AxisMap => {
    const m: AxisMap = {
      lo: new Int32Array(count),
      hi: new Int32Array(count),
      frac: new Float64Array(count),
      start: count,
      end: 0,
    };
    for (let t = 0; t < count; t++) {
      let u = t + shift;
      if (u < -EPS || u > n - 1 + EPS) continue;
      if (t < m.start) m.start = t;
      m.end = t + 1;
      u = Math.min(Math.max(u, 0), n - 1);
      const lo = n > 1 ? Math.min(Math.floor(u), n - 2) : 0;
      m.lo[t] = lo;
      m.hi[t] = n > 1 ? lo + 1 : lo;
      m.frac[t] = u - lo;
    }
    return m;
  };
  const colMaps = stack.positions.map((_, s) => axisMap(tx, iMin - offI[s], nx));
  const rowMaps = stack.positions.map((_, s) => axisMap(ty, jMin - offJ[s], ny));

  const fillValue: number = fill;
  const plane = tx * ty;
  let s0 = 0;
  for (let k = 0; k < tz; k++) {
    const dist = d[0] + k * step;
    while (s0 < nz - 2 && d[s0 + 1] < dist - 1e-9) s0++;
    const gap = d[s0 + 1] - d[s0];
    let w = (dist - d[s0]) / gap;
    w = Math.min(Math.max(w, 0), 1);
    const o = k * plane;
    const ca = colMaps[s0];
    const cb = colMaps[s0 + 1];
    const ra = rowMaps[s0];
    const rb = rowMaps[s0 + 1];
    const i0 = Math.max(ca.start, cb.start);
    const i1 = Math.min(ca.end, cb.end);
    const j0 = Math.max(ra.start, rb.start);
    const j1 = Math.min(ra.end, rb.end);
    if (i0 >= i1 || j0 >= j1) {
      out.fill(fillValue, o, o + plane);
      continue;
    }
    out.fill(fillValue, o, o + j0 * tx);
    out.fill(fillValue, o + j1 * tx, o + plane);
    const wa = 1 - w;
    const baseA = s0 * slice;
    const baseB = baseA + slice;
    for (let j = j0; j < j1; j++) {
      const row = o + j * tx;
      out.fill(fillValue, row, row + i0);
      out.fill(fillValue, row + i1, row + tx);
      const a0 = baseA + ra.lo[j] * nx;
      const a1 = baseA + ra.hi[j] * nx;
      const fya = ra.frac[j];
      const b0 = baseB + rb.lo[j] * nx;
      const b1 = baseB + rb.hi[j] * nx;
      const fyb = rb.frac[j];
      for (let i = i0; i < i1; i++) {
        // bilinear in each bracketing slice, then mixed along the normal; the first term is
        // rounded to float32 as storing it would round it (same values as two passes over out)
        let x0 = ca.lo[i];
        let x1 = ca.hi[i];
        let fx = ca.frac[i];
        let top = data[a0 + x0] + fx * (data[a0 + x1] - data[a0 + x0]);
        let bottom = data[a1 + x0] + fx * (data[a1 + x1] - data[a1 + x0]);
        const va = Math.fround(wa * (top + fya * (bottom - top)));
        x0 = cb.lo[i];
        x1 = cb.hi[i];
        fx = cb.frac[i];
        top = data[b0 + x0] + fx * (data[b0 + x1] - data[b0 + x0]);
        bottom = data[b1 + x0] + fx * (data[b1 + x1] - data[b1 + x0]);
        out[row + i] = va + w * (top + fyb * (bottom - top));
      }
    }
  }
  return makeVolume([tx, ty, tz], affine, out, options.unit ?? 'HU');
}
