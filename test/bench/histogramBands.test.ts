import { bandShares, HU_BANDS, w1ByBand } from '../../scripts/bench/histogramBands';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const band = (name: string) => HU_BANDS.findIndex((b) => b.name.startsWith(name));

/** Exact W1 of two equal-sized samples: the mean gap between their sorted values. */
function sortedW1(a: Float32Array, b: Float32Array): number {
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  let s = 0;
  for (let i = 0; i < sa.length; i++) s += Math.abs(sa[i] - sb[i]);
  return s / sa.length;
}

describe('W1 split by HU band', () => {
  it('puts a shift inside one band into that band', () => {
    const parts = w1ByBand(new Float32Array(50).fill(0), new Float32Array(70).fill(100));
    expect(parts[band('soft tissue')]).toBeCloseTo(100, 10);
    expect(sum(parts)).toBeCloseTo(100, 10);
  });

  it('splits a shift across a band edge at the edge', () => {
    // -100 -> 100 crosses the fat / soft tissue edge at -20: 80 HU below it, 120 above
    const parts = w1ByBand(new Float32Array(10).fill(-100), new Float32Array(10).fill(100));
    expect(parts[band('fat')]).toBeCloseTo(80, 10);
    expect(parts[band('soft tissue')]).toBeCloseTo(120, 10);
    expect(sum(parts)).toBeCloseTo(200, 10);
  });

  it('adds up to the exact W1 of integer-valued samples, and is symmetric', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const draw = (shift: number) =>
      Float32Array.from({ length: 4000 }, (_, i) =>
        Math.round((i % 3 === 0 ? -1000 : -300) + shift + 900 * rand()),
      );
    const a = draw(0);
    const b = draw(150);
    const truth = sortedW1(a, b);
    expect(truth).toBeGreaterThan(50);
    expect(sum(w1ByBand(a, b))).toBeCloseTo(truth, 6);
    w1ByBand(b, a).forEach((p, i) => expect(p).toBeCloseTo(w1ByBand(a, b)[i], 9));
  });

  it('clips to [-1024, 2000] HU as the bench distance does', () => {
    const parts = w1ByBand(new Float32Array([-3000, 5000]), new Float32Array([-1024, 2000]));
    expect(sum(parts)).toBe(0);
  });

  it('gives the share of voxels in each band', () => {
    const v = new Float32Array([-1000, -1000, -600, 40, 300, 3000, -20, -21]);
    const s = bandShares(v);
    expect(s[band('air')]).toBeCloseTo(2 / 8, 12);
    expect(s[band('lung')]).toBeCloseTo(1 / 8, 12);
    expect(s[band('fat')]).toBeCloseTo(1 / 8, 12);
    expect(s[band('soft tissue')]).toBeCloseTo(2 / 8, 12);
    expect(s[band('bone')]).toBeCloseTo(2 / 8, 12);
  });

  it('refuses an empty volume', () => {
    expect(() => w1ByBand(new Float32Array(0), new Float32Array(3))).toThrow(/empty volume/);
  });
});
