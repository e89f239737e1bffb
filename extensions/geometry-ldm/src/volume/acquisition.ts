/**
 * The acquisition model of a series and the measurement-consistency projection
 * (docs/super-resolution.md). Python twin: models/training/ldm/acquisition.py;
 * the shared fixture __fixtures__/acquisition.json proves they agree.
 *
 * Per index axis, separable, in FINE-voxel units along that axis: fine voxel t is
 * the interval [t - 1/2, t + 1/2]; acquired sample s is centred at
 * c_s = first + s * spacing and records the fine image weighted by its slice profile:
 *   box       width w: weight of voxel t = |[t-1/2, t+1/2] n [c-w/2, c+w/2]|
 *   gaussian  FWHM w:  weight = Phi((t+1/2-c)/sigma) - Phi((t-1/2-c)/sigma), sigma = w / 2.3548
 *                      (zero beyond 4 sigma + 1 voxel)
 *   point:             linear interpolation at c from the voxel centres (c clamped)
 * Each row of D is normalised to sum 1. U is linear interpolation from the sample
 * centres, constant beyond the first/last: U y is trilinear upsampling. The projection
 * x <- x + U (y - D x), repeated, makes x reproduce the acquired samples.
 *
 * It is linear, so its n steps run on the acquired grid: with r_0 = y - D x_0, the residual
 * of step k is r_k = (I - D U) r_(k-1) and x_n = x_0 + U (r_0 + ... + r_(n-1)). D U is
 * separable (per axis D_a U_a, a small banded matrix over the samples), so a projection
 * costs one D and one U on the fine grid whatever n is.
 */
import type { Dims3 } from '../geometry/conventions';
import { kthSmallest } from './stats';
import { VolumeError } from './volume';

export type SliceProfile = 'box' | 'gaussian' | 'point';
export const SLICE_PROFILES: readonly SliceProfile[] = ['box', 'gaussian', 'point'];
export const DEFAULT_PROJECTION_ITERATIONS = 10;
const FWHM_PER_SIGMA = 2 * Math.sqrt(2 * Math.log(2));
const GAUSS_RADIUS_SIGMAS = 4;

/** One axis of an acquisition, in fine-voxel units (see the module comment). */
export interface AxisAcquisition {
  readonly count: number;
  readonly first: number;
  readonly spacing: number;
  readonly profile: SliceProfile;
  /** Box width or Gaussian FWHM (fine voxels); ignored for 'point'. */
  readonly width: number;
}

/** An axis the acquisition did not degrade: D = U = identity. */
export function identityAxis(n: number): AxisAcquisition {
  return { count: n, first: 0, spacing: 1, profile: 'box', width: 1 };
}

/** A sparse operator: row r has weights[r] starting at column start[r]. */
interface BandedOperator {
  readonly rows: number;
  readonly cols: number;
  readonly start: Int32Array;
  readonly weights: Float64Array[];
}

function bad(message: string): never {
  throw new VolumeError('invalid-argument', message);
}

function checkAxis(n: number, ax: AxisAcquisition): void {
  if (!SLICE_PROFILES.includes(ax.profile))
    bad(`unknown slice profile '${ax.profile}' (box | gaussian | point)`);
  if (!(Number.isInteger(ax.count) && ax.count >= 1) || !(ax.spacing > 0) || !Number.isFinite(ax.first)) {
    bad(`invalid sampling: ${ax.count} samples, first ${ax.first}, spacing ${ax.spacing}`);
  }
  if (ax.profile !== 'point' && !(ax.width > 0 && Number.isFinite(ax.width))) {
    bad(`slice width must be positive, got ${ax.width}`);
  }
  const last = ax.first + (ax.count - 1) * ax.spacing;
  if (ax.first < -0.5 - 1e-9 || last > n - 0.5 + 1e-9) {
    bad(
      `sample centres ${ax.first.toFixed(3)}..${last.toFixed(3)} lie outside the fine grid [-0.5, ${n - 0.5}]`,
    );
  }
}

// Abramowitz-Stegun 7.1.26 is too coarse for a shared fixture: erf by its series / continued fraction.
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series, converges fast here
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // continued fraction for erfc (Lentz), accurate for ax >= 2.5
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

function centres(ax: AxisAcquisition): Float64Array {
  const c = new Float64Array(ax.count);
  for (let s = 0; s < ax.count; s++) c[s] = ax.first + s * ax.spacing;
  return c;
}

/** D [count x n]: row s = the normalised weights of fine voxels in sample s. */
export function downOperator(n: number, ax: AxisAcquisition): BandedOperator {
  checkAxis(n, ax);
  const start = new Int32Array(ax.count);
  const weights: Float64Array[] = [];
  const cs = centres(ax);
  for (let s = 0; s < ax.count; s++) {
    const c = cs[s];
    let lo: number;
    let w: Float64Array;
    if (ax.profile === 'point') {
      const p = Math.min(Math.max(c, 0), n - 1);
      lo = Math.min(Math.floor(p), n - 1);
      const a = p - lo;
      w = a > 0 ? Float64Array.of(1 - a, a) : Float64Array.of(1);
    } else {
      const radius =
        ax.profile === 'box' ? ax.width / 2 + 1 : GAUSS_RADIUS_SIGMAS * (ax.width / FWHM_PER_SIGMA) + 1;
      lo = Math.max(0, Math.floor(c - radius));
      const hi = Math.min(n - 1, Math.ceil(c + radius));
      w = new Float64Array(Math.max(0, hi - lo + 1));
      const sigma = ax.width / FWHM_PER_SIGMA;
      for (let t = lo; t <= hi; t++) {
        if (ax.profile === 'box') {
          w[t - lo] = Math.max(0, Math.min(t + 0.5, c + ax.width / 2) - Math.max(t - 0.5, c - ax.width / 2));
        } else if (Math.abs(t - c) <= GAUSS_RADIUS_SIGMAS * sigma + 1) {
          w[t - lo] = phi((t + 0.5 - c) / sigma) - phi((t - 0.5 - c) / sigma);
        }
      }
    }
    let total = 0;
    for (const v of w) total += v;
    if (!(total > 0)) bad(`sample ${s} at ${c.toFixed(3)} covers no fine voxel`);
    for (let q = 0; q < w.length; q++) w[q] /= total;
    // the search window is wider than the profile: drop its zero weights at both ends (a box
    // 2 voxels wide had 6 taps, 4 of them zero), which the projection would multiply through
    let a = 0;
    let b = w.length;
    while (a < b && w[a] === 0) a++;
    while (b > a && w[b - 1] === 0) b--;
    start[s] = lo + a;
    weights.push(w.subarray(a, b));
  }
  return { rows: ax.count, cols: n, start, weights };
}

/** U [n x count]: linear interpolation from the sample centres, clamped at the ends. */
export function upOperator(n: number, ax: AxisAcquisition): BandedOperator {
  checkAxis(n, ax);
  const cs = centres(ax);
  const start = new Int32Array(n);
  const weights: Float64Array[] = [];
  let s = 0;
  for (let t = 0; t < n; t++) {
    if (ax.count === 1 || t <= cs[0]) {
      start[t] = 0;
      weights.push(Float64Array.of(1));
    } else if (t >= cs[ax.count - 1]) {
      start[t] = ax.count - 1;
      weights.push(Float64Array.of(1));
    } else {
      while (cs[s + 1] <= t) s++;
      const a = (t - cs[s]) / (cs[s + 1] - cs[s]);
      start[t] = s;
      weights.push(Float64Array.of(1 - a, a));
    }
  }
  return { rows: n, cols: ax.count, start, weights };
}

/** Dense form of an operator (tests and fixtures). */
export function denseOperator(op: BandedOperator): number[][] {
  return Array.from({ length: op.rows }, (_, r) => {
    const row = new Array<number>(op.cols).fill(0);
    op.weights[r].forEach((w, q) => (row[op.start[r] + q] += w));
    return row;
  });
}

type PaddedBand = { taps: number; start: Int32Array; w: Float64Array } | null;
/** Padded forms made once per operator (a projection applies the same ones many times). */
const paddedBands = new WeakMap<BandedOperator, PaddedBand>();

/**
 * The operator with every row widened to the longest row's tap count (zero weights), each
 * window shifted to stay inside the axis; null when the axis is shorter than a row.
 */
function paddedBand(op: BandedOperator): PaddedBand {
  if (paddedBands.has(op)) return paddedBands.get(op)!;
  const band = makePaddedBand(op);
  paddedBands.set(op, band);
  return band;
}

function makePaddedBand(op: BandedOperator): PaddedBand {
  let taps = 0;
  for (const w of op.weights) taps = Math.max(taps, w.length);
  if (taps > op.cols) return null;
  const start = new Int32Array(op.rows);
  const w = new Float64Array(op.rows * taps);
  for (let r = 0; r < op.rows; r++) {
    const s = Math.min(op.start[r], op.cols - taps);
    start[r] = s;
    op.weights[r].forEach((v, q) => (w[r * taps + op.start[r] - s + q] = v));
  }
  return { taps, start, w };
}

/**
 * Applies a banded operator along one axis of a C-order [nz][ny][nx] array, into `into`
 * when given (every value is written, so it needs no clearing). Each output value is its
 * taps summed in double precision, then stored once.
 */
function applyAxis(
  src: Float32Array,
  dims: Dims3,
  axis: 0 | 1 | 2,
  op: BandedOperator,
  into?: Float32Array,
  addend?: Float32Array,
): Float32Array {
  if (dims[axis] !== op.cols) bad(`operator expects ${op.cols} voxels along axis ${axis}, got ${dims[axis]}`);
  const outDims = [dims[0], dims[1], dims[2]];
  outDims[axis] = op.rows;
  const n = outDims[0] * outDims[1] * outDims[2];
  if (into && into.length !== n) bad(`scratch buffer holds ${into.length} values, axis ${axis} needs ${n}`);
  if (addend && addend.length !== n) bad(`addend holds ${addend.length} values, axis ${axis} needs ${n}`);
  const out = into ?? new Float32Array(n);
  const add = addend ?? null;
  // inner = contiguous run below the axis, outer = everything above it
  const inner = axis === 0 ? 1 : axis === 1 ? dims[0] : dims[0] * dims[1];
  const outer = axis === 0 ? dims[1] * dims[2] : axis === 1 ? dims[2] : 1;
  const inStride = inner * op.cols;
  const outStride = inner * op.rows;
  const band = inner === 1 ? paddedBand(op) : null;
  if (band) {
    // Along the contiguous axis each output is a short dot product of adjacent inputs: with
    // every row padded to one tap count (zeros, window kept inside the axis) the loop looks up
    // no per-row lengths or weight arrays. Two and three taps (D on 2x axes, D U) unrolled.
    const { taps, start, w } = band;
    for (let o = 0; o < outer; o++) {
      const ib = o * inStride;
      const ob = o * outStride;
      if (taps === 2 && !add) {
        for (let r = 0, k = 0; r < op.rows; r++, k += 2) {
          const b = ib + start[r];
          out[ob + r] = w[k] * src[b] + w[k + 1] * src[b + 1];
        }
      } else if (taps === 3 && !add) {
        for (let r = 0, k = 0; r < op.rows; r++, k += 3) {
          const b = ib + start[r];
          out[ob + r] = w[k] * src[b] + w[k + 1] * src[b + 1] + w[k + 2] * src[b + 2];
        }
      } else {
        for (let r = 0, k = 0; r < op.rows; r++, k += taps) {
          const b = ib + start[r];
          let sum = add ? add[ob + r] : 0;
          for (let q = 0; q < taps; q++) sum += w[k + q] * src[b + q];
          out[ob + r] = sum;
        }
      }
    }
    return out;
  }
  for (let o = 0; o < outer; o++) {
    const ib = o * inStride;
    const ob = o * outStride;
    for (let r = 0; r < op.rows; r++) {
      const w = op.weights[r];
      const taps = w.length;
      const dst = ob + r * inner;
      const b0 = ib + op.start[r] * inner;
      // one and two taps (U, D on 2x axes) and three without an addend (D U) are the hot cases
      if (taps === 1) {
        const w0 = w[0];
        if (add) for (let e = 0; e < inner; e++) out[dst + e] = add[dst + e] + w0 * src[b0 + e];
        else for (let e = 0; e < inner; e++) out[dst + e] = w0 * src[b0 + e];
      } else if (taps === 2) {
        const w0 = w[0];
        const w1 = w[1];
        const b1 = b0 + inner;
        if (add)
          for (let e = 0; e < inner; e++) out[dst + e] = add[dst + e] + w0 * src[b0 + e] + w1 * src[b1 + e];
        else for (let e = 0; e < inner; e++) out[dst + e] = w0 * src[b0 + e] + w1 * src[b1 + e];
      } else if (taps === 3 && !add) {
        const w0 = w[0];
        const w1 = w[1];
        const w2 = w[2];
        const b1 = b0 + inner;
        const b2 = b1 + inner;
        for (let e = 0; e < inner; e++) out[dst + e] = w0 * src[b0 + e] + w1 * src[b1 + e] + w2 * src[b2 + e];
      } else {
        for (let e = 0; e < inner; e++) {
          let sum = add ? add[dst + e] : 0;
          for (let q = 0, at = b0 + e; q < taps; q++, at += inner) sum += w[q] * src[at];
          out[dst + e] = sum;
        }
      }
    }
  }
  return out;
}

function isIdentity(n: number, ax: AxisAcquisition): boolean {
  return (
    ax.count === n &&
    ax.first === 0 &&
    ax.spacing === 1 &&
    (ax.profile === 'point' || (ax.profile === 'box' && ax.width === 1))
  );
}

/** The product D U of two banded operators (rows of D, columns of U), in double precision. */
function composeBanded(d: BandedOperator, u: BandedOperator): BandedOperator {
  if (d.cols !== u.rows) bad(`cannot compose ${d.rows}x${d.cols} with ${u.rows}x${u.cols}`);
  const start = new Int32Array(d.rows);
  const weights: Float64Array[] = [];
  for (let r = 0; r < d.rows; r++) {
    const dw = d.weights[r];
    let lo = Infinity;
    let hi = -Infinity;
    for (let q = 0; q < dw.length; q++) {
      const t = d.start[r] + q;
      lo = Math.min(lo, u.start[t]);
      hi = Math.max(hi, u.start[t] + u.weights[t].length - 1);
    }
    const w = new Float64Array(hi - lo + 1);
    for (let q = 0; q < dw.length; q++) {
      const t = d.start[r] + q;
      const uw = u.weights[t];
      for (let p = 0; p < uw.length; p++) w[u.start[t] + p - lo] += dw[q] * uw[p];
    }
    start[r] = lo;
    weights.push(w);
  }
  return { rows: d.rows, cols: u.cols, start, weights };
}

/** How closely a fine image reproduces the acquired samples (HU when the data are HU). */
export interface Fidelity {
  readonly meanAbs: number;
  readonly p99Abs: number;
  readonly maxAbs: number;
}

/** A separable acquisition of a fine grid `dims` ([nx, ny, nz]); `axes` in the same (i, j, k) order. */
export class Acquisition {
  readonly dims: Dims3;
  readonly acquiredDims: Dims3;
  readonly axes: readonly [AxisAcquisition, AxisAcquisition, AxisAcquisition];
  private readonly down: (BandedOperator | null)[];
  private readonly up: (BandedOperator | null)[];
  /** D_a U_a per axis (acquired samples to acquired samples); null where D = U = I. */
  private readonly round: (BandedOperator | null)[];

  constructor(dims: Dims3, axes: readonly [AxisAcquisition, AxisAcquisition, AxisAcquisition]) {
    this.dims = [dims[0], dims[1], dims[2]];
    this.axes = axes;
    this.acquiredDims = [axes[0].count, axes[1].count, axes[2].count];
    this.down = axes.map((ax, a) => (isIdentity(dims[a], ax) ? null : downOperator(dims[a], ax)));
    this.up = axes.map((ax, a) => (isIdentity(dims[a], ax) ? null : upOperator(dims[a], ax)));
    this.round = this.down.map((d, a) => (d ? composeBanded(d, this.up[a] as BandedOperator) : null));
  }

  /** Buffers for the intermediate results of `ops` applied from grid `from` (all but the last). */
  private intermediates(from: Dims3, ops: (BandedOperator | null)[]): Float32Array[] {
    const d: [number, number, number] = [from[0], from[1], from[2]];
    const active = ([0, 1, 2] as const).filter((a) => ops[a]);
    return active.slice(0, -1).map((a) => {
      d[a] = (ops[a] as BandedOperator).rows;
      return new Float32Array(d[0] * d[1] * d[2]);
    });
  }

  /**
   * `apply` into reused buffers: intermediates in `bufs` (from `intermediates`), the result in
   * `last`, plus `addend` when given (same length as the result).
   */
  private applyInto(
    x: Float32Array,
    from: Dims3,
    ops: (BandedOperator | null)[],
    bufs: Float32Array[],
    last: Float32Array,
    addend?: Float32Array,
  ): Float32Array {
    const active = ([0, 1, 2] as const).filter((a) => ops[a]);
    if (active.length === 0) {
      if (addend) for (let q = 0; q < last.length; q++) last[q] = addend[q] + x[q];
      else last.set(x);
      return last;
    }
    const d: [number, number, number] = [from[0], from[1], from[2]];
    let v = x;
    active.forEach((a, k) => {
      const op = ops[a] as BandedOperator;
      const final = k === active.length - 1;
      v = applyAxis(v, d, a, op, final ? last : bufs[k], final ? addend : undefined);
      d[a] = op.rows;
    });
    return v;
  }

  /**
   * Work of the projection in array operations (multiply-adds of the banded operators plus
   * element writes), from the operators themselves: what the time estimate scales
   * (planning/estimate.ts). A projection of n >= 1 steps costs `once` + (n - 1) x
   * `perIteration` (see `project`), a back-projection `backProjectionOnce` + (n - 1) x
   * `perIteration`, and `upsample` alone when n = 0.
   */
  projectionWork(): {
    readonly once: number;
    readonly backProjectionOnce: number;
    readonly perIteration: number;
    readonly upsample: number;
  } {
    const chain = (from: Dims3, ops: (BandedOperator | null)[]) => {
      let d: [number, number, number] = [from[0], from[1], from[2]];
      let work = 0;
      for (let a = 0; a < 3; a++) {
        const op = ops[a];
        if (!op) continue;
        const others = (d[0] * d[1] * d[2]) / d[a];
        let taps = 0;
        for (const w of op.weights) taps += w.length;
        work += others * (taps + op.rows);
        d = [d[0], d[1], d[2]];
        d[a] = op.rows;
      }
      return work;
    };
    const fine = this.dims[0] * this.dims[1] * this.dims[2];
    const acquired = this.acquiredDims[0] * this.acquiredDims[1] * this.acquiredDims[2];
    const upsample = chain(this.acquiredDims, this.up);
    const round = chain(this.acquiredDims, this.round);
    return {
      // D x_0 and the residual, its running sum (acquired), x_0 + U of the sum (fine)
      once: chain(this.dims, this.down) + 2 * acquired + upsample + fine,
      // D U y and the residual, its running sum plus y (acquired), U of that (fine)
      backProjectionOnce: round + 3 * acquired + upsample,
      // D U r, the next residual and the running sum (acquired)
      perIteration: round + 2 * acquired,
      upsample,
    };
  }

  /** D x: the samples the acquisition would record from fine image x. */
  forward(x: Float32Array): Float32Array {
    this.checkLength(x, this.dims, 'fine image');
    const a = this.acquiredDims;
    return this.applyInto(
      x,
      this.dims,
      this.down,
      this.intermediates(this.dims, this.down),
      new Float32Array(a[0] * a[1] * a[2]),
    );
  }

  /** U y: trilinear upsampling of acquired samples onto the fine grid. */
  upsample(y: Float32Array): Float32Array {
    this.checkLength(y, this.acquiredDims, 'acquired samples');
    const n = this.dims[0] * this.dims[1] * this.dims[2];
    return this.applyInto(
      y,
      this.acquiredDims,
      this.up,
      this.intermediates(this.acquiredDims, this.up),
      new Float32Array(n),
    );
  }

  /**
   * x <- x + U (y - D x), `iterations` times, computed on the acquired grid (module comment):
   * the same result up to float rounding, at the cost of one step on the fine grid. The
   * result goes to `into` (fine-grid length; x itself is allowed, as x is read in full before
   * it is written), else to a new array.
   */
  project(
    x: Float32Array,
    y: Float32Array,
    iterations = DEFAULT_PROJECTION_ITERATIONS,
    into?: Float32Array,
  ): Float32Array {
    this.checkLength(y, this.acquiredDims, 'acquired samples');
    this.checkLength(x, this.dims, 'fine image');
    if (into) this.checkLength(into, this.dims, 'projection output');
    const result = into ?? new Float32Array(x.length);
    if (iterations <= 0) {
      if (result !== x) result.set(x);
      return result;
    }
    const r = this.applyInto(
      x,
      this.dims,
      this.down,
      this.intermediates(this.dims, this.down),
      new Float32Array(y.length),
    );
    for (let q = 0; q < r.length; q++) r[q] = y[q] - r[q];
    const sum = this.residualSum(r, iterations);
    // x + U sum, written once into the result (fresh memory is slow to first-touch here)
    const a = this.acquiredDims;
    return this.applyInto(sum, a, this.up, this.intermediates(a, this.up), result, x);
  }

  /**
   * Classical iterative back-projection: project the trilinear upsampling U y. Entirely on the
   * acquired grid but for the last U: r_0 = y - D U y, and U y + U (r_0 + ...) = U (y + r_0 + ...).
   */
  backProject(y: Float32Array, iterations = DEFAULT_PROJECTION_ITERATIONS): Float32Array {
    this.checkLength(y, this.acquiredDims, 'acquired samples');
    if (iterations <= 0) return this.upsample(y);
    const a = this.acquiredDims;
    const r = this.applyInto(y, a, this.round, this.intermediates(a, this.round), new Float32Array(y.length));
    for (let q = 0; q < r.length; q++) r[q] = y[q] - r[q];
    const sum = this.residualSum(r, iterations);
    for (let q = 0; q < sum.length; q++) sum[q] += y[q];
    const fine = this.dims[0] * this.dims[1] * this.dims[2];
    return this.applyInto(sum, a, this.up, this.intermediates(a, this.up), new Float32Array(fine));
  }

  /**
   * r_0 + ... + r_(n-1) with r_k = (I - D U) r_(k-1), from r = r_0 (overwritten with r_(n-1)):
   * the residuals of n projection steps, on the acquired grid.
   */
  private residualSum(r: Float32Array, iterations: number): Float32Array {
    const a = this.acquiredDims;
    const sum = r.slice();
    const bufs = this.intermediates(a, this.round);
    const m = new Float32Array(r.length);
    for (let it = 1; it < iterations; it++) {
      this.applyInto(r, a, this.round, bufs, m);
      for (let q = 0; q < r.length; q++) {
        r[q] -= m[q];
        sum[q] += r[q];
      }
    }
    return sum;
  }

  /** |y - D x| over the acquired samples: mean, 99th percentile, max. */
  fidelity(x: Float32Array, y: Float32Array): Fidelity {
    const r = this.forward(x);
    const abs = new Float32Array(r.length);
    let sum = 0;
    let max = 0;
    for (let q = 0; q < r.length; q++) {
      const e = Math.abs(y[q] - r[q]);
      // NaN (a NaN voxel) sorts last, as a typed-array sort would put it
      abs[q] = e === e ? e : Infinity;
      sum += e;
      if (e > max) max = e;
    }
    const p99 = kthSmallest(abs, Math.min(abs.length - 1, Math.floor(0.99 * (abs.length - 1))));
    return { meanAbs: sum / r.length, p99Abs: p99, maxAbs: max };
  }

  private checkLength(v: Float32Array, dims: Dims3, what: string): void {
    if (v.length !== dims[0] * dims[1] * dims[2]) {
      throw new VolumeError(
        'shape-mismatch',
        `${what}: ${v.length} values, the acquisition needs [${dims.join(', ')}]`,
      );
    }
  }
}
