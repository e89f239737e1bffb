/**
 * Where a HU-histogram distance comes from (the generation-quality bench). Wasserstein-1 between
 * two value distributions is the area between their cumulative distribution functions,
 * W1 = integral over HU of |F_a(x) - F_b(x)|; splitting that integral at band edges says which HU
 * range a distance is lost in (too little lung, too bright bone, soft tissue shifted), and the
 * share of each volume's voxels in each band says which way.
 *
 * Values are clipped to [-1024, 2000] HU, as `wasserstein1` in generation-quality-entry.ts does,
 * and binned at 1 HU, so the bands' contributions add up to that W1 within about a HU.
 */

/** The bands, [lowHu, highHu) each, covering the clipped range; named for the tissue usually there. */
export const HU_BANDS: readonly { readonly name: string; readonly lowHu: number; readonly highHu: number }[] =
  [
    { name: 'air (< -900)', lowHu: -1024, highHu: -900 },
    { name: 'lung (-900 to -400)', lowHu: -900, highHu: -400 },
    { name: 'fat (-400 to -20)', lowHu: -400, highHu: -20 },
    { name: 'soft tissue (-20 to 200)', lowHu: -20, highHu: 200 },
    { name: 'bone (>= 200)', lowHu: 200, highHu: 2001 },
  ];

const LOW = -1024;
const HIGH = 2000;
const BINS = HIGH - LOW + 1; // bin b holds round(clip(x)) = LOW + b

/** Normalised 1-HU histogram of the clipped, rounded values (compute once per volume, pass to the *Of functions). */
export function huHistogram(v: Float32Array): Float64Array {
  if (v.length === 0) throw new Error('histogramBands: an empty volume has no distribution');
  const h = new Float64Array(BINS);
  for (const x of v) {
    const c = Math.round(Math.min(HIGH, Math.max(LOW, x)));
    h[c - LOW]++;
  }
  for (let b = 0; b < BINS; b++) h[b] /= v.length;
  return h;
}

/**
 * Each band's part of W1(a, b) in HU: the integral of |F_a - F_b| over the band, with F the CDF
 * of the 1-HU histograms (F steps at each integer HU and is flat in between, so the integral over
 * [c, c + 1) is |F_a(c) - F_b(c)|). The parts sum to the whole W1.
 */
export function w1ByBand(a: Float32Array, b: Float32Array): number[] {
  return w1ByBandOf(huHistogram(a), huHistogram(b));
}

/** w1ByBand from two volumes' huHistogram. */
export function w1ByBandOf(ha: Float64Array, hb: Float64Array): number[] {
  const parts = HU_BANDS.map(() => 0);
  let fa = 0;
  let fb = 0;
  let band = 0;
  for (let bin = 0; bin < BINS - 1; bin++) {
    fa += ha[bin];
    fb += hb[bin];
    const hu = LOW + bin;
    while (hu >= HU_BANDS[band].highHu) band++;
    parts[band] += Math.abs(fa - fb);
  }
  return parts;
}

/** The share of a volume's voxels in each band (clipped values; sums to 1). */
export function bandShares(v: Float32Array): number[] {
  return bandSharesOf(huHistogram(v));
}

/** bandShares from a volume's huHistogram. */
export function bandSharesOf(h: Float64Array): number[] {
  return HU_BANDS.map(({ lowHu, highHu }) => {
    let s = 0;
    for (let hu = lowHu; hu < Math.min(highHu, HIGH + 1); hu++) s += h[hu - LOW];
    return s;
  });
}
