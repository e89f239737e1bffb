/**
 * Streaming per-voxel mean and standard deviation over samples (e.g. the N
 * diffusion samples behind an uncertainty map), by Welford's algorithm:
 *
 *   n += 1;  delta = x - mean;  mean += delta / n;  M2 += delta * (x - mean)
 *
 * Each update runs in float64; mean and M2 are STORED as Float32Array so that
 * memory stays at 8 bytes per voxel (a 272x272x288 grid: 170 MB). Welford
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
  private meanStore: Float32Array;
  private readonly m2Store: Float32Array;
  private n = 0;
  private taken = false;

  constructor(length: number) {
    if (!Number.isInteger(length) || length < 0) {
      throw new VolumeError(
        'invalid-argument',
        `sample length must be a non-negative integer, got ${length}`,
      );
    }
    this.length = length;
    this.meanStore = new Float32Array(length);
    this.m2Store = new Float32Array(length);
  }

  /** Number of samples added so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one sample (length `this.length`). With `adopt` the caller hands the array over and
   * must not use it again: the first sample then becomes the mean store without a copy (a large
   * grid saves a copy and the first touch of a new volume's memory).
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
    const mean = this.meanStore;
    const m2 = this.m2Store;
    if (n === 1) {
      // Welford's first step is exact: mean = x, M2 += 0 (M2 is still all zero)
      if (options.adopt) this.meanStore = sample;
      else mean.set(sample);
      this.n = n;
      return;
    }
    const inv = 1 / n;
    for (let p = 0; p < sample.length; p++) {
      const x = sample[p];
      const m = mean[p];
      const delta = x - m;
      const m1 = m + delta * inv;
      mean[p] = m1;
      m2[p] += delta * (x - m1);
    }
    this.n = n;
  }

  /** Per-voxel mean (a copy). NaN everywhere before the first sample (like torch.mean of nothing). */
  mean(): Float32Array {
    this.checkNotTaken();
    if (this.n === 0) return new Float32Array(this.length).fill(NaN);
    return this.meanStore.slice();
  }

  /** Per-voxel variance M2 / (count - ddof); NaN where count <= ddof (like torch.var). */
  variance(opts: StdOptions = {}): Float32Array {
    this.checkNotTaken();
    const ddof = checkDdof(opts);
    const out = new Float32Array(this.length);
    const d = this.n - ddof;
    if (d <= 0) return out.fill(NaN);
    const inv = 1 / d;
    const m2 = this.m2Store;
    for (let p = 0; p < out.length; p++) out[p] = m2[p] * inv;
    return out;
  }

  /** Per-voxel standard deviation sqrt(M2 / (count - ddof)); NaN where count <= ddof (like torch.std). */
  std(opts: StdOptions = {}): Float32Array {
    this.checkNotTaken();
    return this.stdInto(new Float32Array(this.length), checkDdof(opts));
  }

  /**
   * The mean and standard deviation without copies: the stores themselves are handed over (the
   * std computed in place of M2), so a large grid needs no third and fourth volume. The object
   * is spent afterwards: add, mean, variance, std and take throw 'finished'.
   */
  take(opts: StdOptions = {}): { mean: Float32Array; std: Float32Array } {
    this.checkNotTaken();
    const ddof = checkDdof(opts);
    const mean = this.n === 0 ? this.meanStore.fill(NaN) : this.meanStore;
    const std = this.stdInto(this.m2Store, ddof);
    this.taken = true;
    return { mean, std };
  }

  private stdInto(out: Float32Array, ddof: 0 | 1): Float32Array {
    const d = this.n - ddof;
    if (d <= 0) return out.fill(NaN);
    const inv = 1 / d;
    const m2 = this.m2Store;
    for (let p = 0; p < out.length; p++) out[p] = Math.sqrt(m2[p] * inv);
    return out;
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
