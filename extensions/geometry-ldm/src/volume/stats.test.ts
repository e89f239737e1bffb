import { kthSmallest, RunningStats } from './stats';
import { VolumeError } from './volume';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box-Muller. */
function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Two-pass float64 reference over float32 samples. */
function twoPass(samples: Float32Array[], ddof: number): { mean: Float64Array; std: Float64Array } {
  const len = samples[0].length;
  const n = samples.length;
  const mean = new Float64Array(len);
  for (const s of samples) for (let p = 0; p < len; p++) mean[p] += s[p];
  for (let p = 0; p < len; p++) mean[p] /= n;
  const std = new Float64Array(len);
  for (const s of samples)
    for (let p = 0; p < len; p++) {
      const d = s[p] - mean[p];
      std[p] += d * d;
    }
  for (let p = 0; p < len; p++) std[p] = Math.sqrt(std[p] / (n - ddof));
  return { mean, std };
}

function makeSamples(
  seed: number,
  count: number,
  length: number,
  offset: (p: number) => number,
  spread: number,
) {
  const r = rng(seed);
  const out: Float32Array[] = [];
  for (let s = 0; s < count; s++) {
    const a = new Float32Array(length);
    for (let p = 0; p < length; p++) a[p] = offset(p) + spread * normal(r);
    out.push(a);
  }
  return out;
}

function maxRelative(got: Float32Array, want: Float64Array): number {
  let worst = 0;
  for (let p = 0; p < want.length; p++)
    worst = Math.max(worst, Math.abs(got[p] - want[p]) / Math.abs(want[p]));
  return worst;
}

function maxAbs(got: Float32Array, want: Float64Array): number {
  let worst = 0;
  for (let p = 0; p < want.length; p++) worst = Math.max(worst, Math.abs(got[p] - want[p]));
  return worst;
}

describe('RunningStats (Welford) vs a two-pass float64 reference', () => {
  it('values around 1000 +- 1 (large offset, small spread)', () => {
    const samples = makeSamples(1, 200, 2000, () => 1000, 1);
    const stats = new RunningStats(2000);
    for (const s of samples) stats.add(s);
    expect(stats.count).toBe(200);
    for (const ddof of [0, 1] as const) {
      const ref = twoPass(samples, ddof);
      // mean is stored as float32 (half an ulp at 1000 is 3e-5) and rounded
      // at each of the 200 updates: a random walk of ~sqrt(200) half-ulps.
      expect(maxAbs(stats.mean(), ref.mean)).toBeLessThan(2e-6 * 1000);
      expect(maxRelative(stats.std({ ddof }), ref.std)).toBeLessThan(1e-4);
    }
    // Default ddof is 1 (like torch.std).
    const ref1 = twoPass(samples, 1);
    expect(maxRelative(stats.std(), ref1.std)).toBeLessThan(1e-4);
    const ref0 = twoPass(samples, 0);
    // ... and differs from ddof 0 by sqrt(n / (n - 1)).
    expect(Math.abs(ref1.std[0] / ref0.std[0] - Math.sqrt(200 / 199))).toBeLessThan(1e-12);
  });

  it('HU-like offsets per voxel with varying spread', () => {
    const r = rng(7);
    const offsets = Array.from({ length: 500 }, () => -1000 + 3000 * r());
    const samples = makeSamples(2, 64, 500, (p) => offsets[p], 25);
    const stats = new RunningStats(500);
    for (const s of samples) stats.add(s);
    for (const ddof of [0, 1] as const) {
      const ref = twoPass(samples, ddof);
      expect(maxAbs(stats.mean(), ref.mean)).toBeLessThan(2e-6 * 2000);
      expect(maxRelative(stats.std({ ddof }), ref.std)).toBeLessThan(1e-4);
      const variance = stats.variance({ ddof });
      for (let p = 0; p < 500; p++)
        expect(Math.abs(variance[p] - ref.std[p] ** 2) / ref.std[p] ** 2).toBeLessThan(2e-4);
    }
  });

  it('a few samples, hand-computed', () => {
    const stats = new RunningStats(2);
    stats.add(Float32Array.from([1, 10]));
    stats.add(Float32Array.from([2, 10]));
    stats.add(Float32Array.from([6, 10]));
    expect(Array.from(stats.mean())).toEqual([3, 10]);
    // deviations -2, -1, 3: M2 = 14
    expect(stats.std({ ddof: 0 })[0]).toBeCloseTo(Math.sqrt(14 / 3), 6);
    expect(stats.std({ ddof: 1 })[0]).toBeCloseTo(Math.sqrt(7), 6);
    expect(stats.std()[1]).toBe(0);
  });

  it('NaN before enough samples (like torch)', () => {
    const stats = new RunningStats(3);
    expect(stats.count).toBe(0);
    expect(Array.from(stats.mean()).every(Number.isNaN)).toBe(true);
    expect(Array.from(stats.std({ ddof: 0 })).every(Number.isNaN)).toBe(true);
    stats.add(Float32Array.from([1, 2, 3]));
    expect(Array.from(stats.mean())).toEqual([1, 2, 3]);
    expect(Array.from(stats.std({ ddof: 0 }))).toEqual([0, 0, 0]);
    expect(Array.from(stats.std()).every(Number.isNaN)).toBe(true);
  });

  it('mean() returns a copy', () => {
    const stats = new RunningStats(1);
    stats.add(Float32Array.from([4]));
    stats.mean()[0] = 99;
    expect(stats.mean()[0]).toBe(4);
  });

  it('take() hands over the same mean and std as mean() and std(), then refuses further use', () => {
    const samples = makeSamples(7, 5, 200, (p) => 1000 + p, 3);
    const a = new RunningStats(200);
    const b = new RunningStats(200);
    for (const x of samples) {
      a.add(x);
      b.add(x);
    }
    const taken = b.take({ ddof: 1 });
    expect(Array.from(taken.mean)).toEqual(Array.from(a.mean()));
    expect(Array.from(taken.std)).toEqual(Array.from(a.std({ ddof: 1 })));
    const ref = twoPass(samples, 1);
    expect(maxRelative(taken.std, ref.std)).toBeLessThan(1e-4);
    for (const use of [() => b.add(samples[0]), () => b.mean(), () => b.std(), () => b.take()]) {
      expect(use).toThrow(VolumeError);
      expect(use).toThrow(/taken/);
    }
    // one sample: the mean is the sample itself, unchanged by float rounding
    const one = new RunningStats(3);
    one.add(Float32Array.from([0.1, -2.5e7, 3]));
    const t = one.take({ ddof: 0 });
    expect(Array.from(t.mean)).toEqual(Array.from(Float32Array.from([0.1, -2.5e7, 3])));
    expect(Array.from(t.std)).toEqual([0, 0, 0]);
    expect(Array.from(new RunningStats(2).take().mean).every(Number.isNaN)).toBe(true);
  });

  it('meanOnly keeps the same mean, bit for bit, and nothing else; takeMean hands it over', () => {
    const samples = makeSamples(13, 6, 150, (p) => 900 - 4 * p, 15);
    const full = new RunningStats(150);
    const meanOnly = new RunningStats(150, { meanOnly: true });
    const adopted = new RunningStats(150, { meanOnly: true });
    for (const x of samples) {
      full.add(x);
      meanOnly.add(x);
      adopted.add(x.slice(), { adopt: true });
    }
    expect(Array.from(meanOnly.mean())).toEqual(Array.from(full.mean()));
    // against the two-pass float64 mean: float32 rounding apart
    const ref = twoPass(samples, 1);
    expect(maxRelative(meanOnly.mean(), ref.mean)).toBeLessThan(1e-6);
    for (const use of [() => meanOnly.std(), () => meanOnly.variance(), () => meanOnly.take()]) {
      expect(use).toThrow(VolumeError);
      expect(use).toThrow(/mean only/);
    }
    const first = samples[0].slice();
    const single = new RunningStats(150, { meanOnly: true });
    single.add(first, { adopt: true });
    expect(single.takeMean()).toBe(first);
    expect(() => single.add(first)).toThrow(/taken/);
    expect(Array.from(adopted.takeMean())).toEqual(Array.from(full.mean()));
    expect(Array.from(new RunningStats(2, { meanOnly: true }).takeMean()).every(Number.isNaN)).toBe(true);
  });

  it('adopting samples gives the same statistics; the first two adopted arrays become mean and std', () => {
    const samples = makeSamples(11, 4, 100, (p) => -800 + 5 * p, 20);
    const copied = new RunningStats(100);
    const adopted = new RunningStats(100);
    for (const x of samples) {
      copied.add(x);
      adopted.add(x.slice(), { adopt: true });
    }
    const first = samples[0].slice();
    const second = samples[1].slice();
    const own = new RunningStats(100);
    own.add(first, { adopt: true });
    own.add(second, { adopt: true });
    own.add(samples[2]);
    const a = adopted.take({ ddof: 1 });
    expect(Array.from(a.mean)).toEqual(Array.from(copied.mean()));
    expect(Array.from(a.std)).toEqual(Array.from(copied.std({ ddof: 1 })));
    expect(adopted.count).toBe(4);
    // the first adopted array holds the mean, the second the std
    const o = own.take();
    expect(o.mean).toBe(first);
    expect(o.std).toBe(second);
    const ref = twoPass(samples.slice(0, 3), 1);
    expect(maxRelative(o.std, ref.std)).toBeLessThan(1e-4);
    // copying samples leaves the caller's arrays as they were
    expect(Array.from(samples[0])).toEqual(Array.from(makeSamples(11, 4, 100, (p) => -800 + 5 * p, 20)[0]));
  });

  it('rejects wrong sample sizes and ddof with typed errors', () => {
    const stats = new RunningStats(3);
    const code = (fn: () => void): string | undefined => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(VolumeError);
        return (e as VolumeError).code;
      }
      return undefined;
    };
    expect(code(() => stats.add(new Float32Array(2)))).toBe('shape-mismatch');
    expect(code(() => stats.add(new Float64Array(3) as unknown as Float32Array))).toBe('shape-mismatch');
    expect(code(() => stats.std({ ddof: 2 as 1 }))).toBe('invalid-argument');
    expect(code(() => new RunningStats(-1))).toBe('invalid-argument');
    expect(stats.count).toBe(0);
  });
});

describe('kthSmallest', () => {
  it('equals the sorted array at every k, for random, sorted, constant and few-valued data', () => {
    const r = rng(7);
    const cases: Float32Array[] = [
      Float32Array.from({ length: 1001 }, () => normal(r) * 100),
      Float32Array.from({ length: 500 }, (_, q) => q),
      Float32Array.from({ length: 500 }, (_, q) => 500 - q),
      new Float32Array(300).fill(3.5),
      Float32Array.from({ length: 777 }, () => Math.floor(r() * 4)),
      Float32Array.of(2),
      Float32Array.of(Infinity, 1, -Infinity, 0),
    ];
    for (const values of cases) {
      const sorted = values.slice().sort();
      const ks =
        values.length < 40
          ? values.keys()
          : [0, 1, 7, values.length >> 1, values.length - 2, values.length - 1];
      for (const k of ks) expect(kthSmallest(values.slice(), k)).toBe(sorted[k]);
    }
  });

  it('refuses a k outside the array', () => {
    expect(() => kthSmallest(new Float32Array(3), 3)).toThrow(RangeError);
    expect(() => kthSmallest(new Float32Array(0), 0)).toThrow(RangeError);
    expect(() => kthSmallest(new Float32Array(3), 1.5)).toThrow(RangeError);
  });
});
