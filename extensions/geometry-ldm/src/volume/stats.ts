/**
 * Streaming per-voxel mean and standard deviation over samples (e.g. the N
 * diffusion samples behind an uncertainty map), by Welford's algorithm:
 *
 *   n += 1;  delta = x - mean;  mean += delta / n;  M2 += delta * (x - mean)
 *
 * Each update runs in float64; mean and M2 are STORED as Float32Array so that
 * memory stays at 8 bytes per voxel (a 272x272x288 grid: 170 MB; none extra when the
 * samples are adopted). Welford
 * keeps the update relative to the running mean, so large offsets (HU around
 * 1000 with a spread of 1) do not cancel catastrophically as sum/sum-of-squares
 * would. The float32 mean is rounded at every update, so it drifts by about
 * sqrt(count) float32 half-ulps (~5e-4 at 1000 HU after 200 samples); with an
 * offset 1000x the spread the std stays within ~1e-4 relative of a two-pass
 * float64 computation.
 */
import { VolumeError } from './volume';

export interface StdOptions {
  /** Delta degrees of freedom: divide M2 by (count - ddof). Default 1 (unbiased, like torch.std). */
  readonly ddof?: 0 | 1;
}

export class RunningStats {
  /** Values per sample. */
  readonly length: number;
  // Allocated (or adopted) on the first and second sample: a fresh volume's first touch is slow.
  private meanStore: Float32Array | null = null;
  private m2Store: Float32Array | null = null;
  private n = 0;
  private taken = false;
  /** Keep the mean alone (no M2 store, no spread): `takeMean` is then the only way out. */
  readonly meanOnly: boolean;

  constructor(length: number, options: { readonly meanOnly?: boolean } = {}) {
    this.meanOnly = options.meanOnly ?? false;
    if (!Number.isInteger(length) || length < 0) {
      throw new VolumeError(
        'invalid-argument',
        `sample length must be a non-negative integer, got ${length}`,
      );
    }
    this.length = length;
  }

  /** Number of samples added so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one sample (length `this.length`). With `adopt` the caller hands the array over and
   * must not use it again: the first adopted sample becomes the mean store and the second the
   * M2 store (updated in place), so a large grid needs no copies and no new volumes.
   */
  add(sample: Float32Array, options: { readonly adopt?: boolean } = {}): void {
    if (!(sample instanceof Float32Array) || sample.length !== this.length) {
      throw new VolumeError(
        'shape-mismatch',
        `sample must be a Float32Array of ${this.length} values, got ${sample instanceof Float32Array ? sample.length : typeof sample}`,
      );
    }
    this.checkNotTaken();
    const n = this.n + 1;
    if (n === 1) {
      // Welford's first step is exact: mean = x, M2 = 0
      this.meanStore = options.adopt ? sample : sample.slice();
      this.n = n;
      return;
    }
    const mean = this.meanStore!;
    const inv = 1 / n;
    if (this.meanOnly) {
      // the same update of the mean as below, without M2
      for (let p = 0; p < sample.length; p++) {
        const m = mean[p];
        mean[p] = m + (sample[p] - m) * inv;
      }
      this.n = n;
      return;
    }
    // second sample: M2 is all zero, held in a new array or in the adopted sample itself (each x
    // is read before its slot receives M2)
    const fresh = this.m2Store === null;
    const m2 = this.m2Store ?? (options.adopt ? sample : new Float32Array(this.length));
    for (let p = 0; p < sample.length; p++) {
      const x = sample[p];
      const m = mean[p];
      const delta = x - m;
      const m1 = m + delta * inv;
      mean[p] = m1;
      m2[p] = (fresh ? 0 : m2[p]) + delta * (x - m1);
    }
    this.m2Store = m2;
    this.n = n;
  }

  /** Per-voxel mean (a copy). NaN everywhere before the first sample (like torch.mean of nothing). */
  mean(): Float32Array {
    this.checkNotTaken();
    return this.meanStore ? this.meanStore.slice() : new Float32Array(this.length).fill(NaN);
  }

  /** Per-voxel variance M2 / (count - ddof); NaN where count <= ddof (like torch.var). */
  variance(opts: StdOptions = {}): Float32Array {
    this.checkNotTaken();
    this.checkSpread();
    return this.momentInto(new Float32Array(this.length), checkDdof(opts), false);
  }

  /** Per-voxel standard deviation sqrt(M2 / (count - ddof)); NaN where count <= ddof (like torch.std). */
  std(opts: StdOptions = {}): Float32Array {
    this.checkNotTaken();
    this.checkSpread();
    return this.momentInto(new Float32Array(this.length), checkDdof(opts), true);
  }

  /**
   * The mean and standard deviation without copies: the stores themselves are handed over (the
   * std computed in place of M2). The object is spent afterwards: add, mean, variance, std and
   * take throw 'finished'.
   */
  take(opts: StdOptions = {}): { mean: Float32Array; std: Float32Array } {
    this.checkNotTaken();
    this.checkSpread();
    const ddof = checkDdof(opts);
    const mean = this.meanStore ?? new Float32Array(this.length).fill(NaN);
    const std = this.momentInto(this.m2Store ?? new Float32Array(this.length), ddof, true);
    this.taken = true;
    return { mean, std };
  }

  /** The mean without a copy (the store itself); the object is spent afterwards, as after `take`. */
  takeMean(): Float32Array {
    this.checkNotTaken();
    this.taken = true;
    return this.meanStore ?? new Float32Array(this.length).fill(NaN);
  }

  /** M2 / (count - ddof), or its square root, into `out` (which may be the M2 store itself). */
  private momentInto(out: Float32Array, ddof: 0 | 1, root: boolean): Float32Array {
    const d = this.n - ddof;
    if (d <= 0) return out.fill(NaN);
    const m2 = this.m2Store;
    if (m2 === null) return out.fill(0); // one sample: no spread
    const inv = 1 / d;
    if (root) for (let p = 0; p < out.length; p++) out[p] = Math.sqrt(m2[p] * inv);
    else for (let p = 0; p < out.length; p++) out[p] = m2[p] * inv;
    return out;
  }

  private checkSpread(): void {
    if (this.meanOnly)
      throw new VolumeError('invalid-argument', 'these statistics keep the mean only: use takeMean()');
  }

  private checkNotTaken(): void {
    if (this.taken)
      throw new VolumeError('finished', 'these statistics were taken: start a new RunningStats');
  }
}

function checkDdof(opts: StdOptions): 0 | 1 {
  const ddof = opts.ddof ?? 1;
  if (ddof !== 0 && ddof !== 1) {
    throw new VolumeError('invalid-argument', `ddof must be 0 or 1, got ${String(ddof)}`);
  }
  return ddof;
}

/**
 * The k-th smallest value (0-based) of `values`, which it reorders in place: quickselect
 * (Hoare partition, median of three), O(n) on average where a full sort is O(n log n) (a
 * percentile of 0.5 M residuals: a few ms instead of about 50). NaN is not ordered: callers
 * pass none.
 */
export function kthSmallest(values: Float32Array, k: number): number {
  if (!(Number.isInteger(k) && k >= 0 && k < values.length)) {
    throw new RangeError(`k = ${k} is outside 0..${values.length - 1}`);
  }
  let lo = 0;
  let hi = values.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // median of three as the pivot: sorted or constant runs stay O(n)
    let a = values[lo];
    let b = values[mid];
    let c = values[hi];
    if (a > b) [a, b] = [b, a];
    if (b > c) [b, c] = [c, b];
    if (a > b) [a, b] = [b, a];
    const pivot = b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    // [lo, j] <= pivot <= [i, hi]; values strictly between j and i equal the pivot
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}
