/**
 * Is an assembled CT volume plausibly in HU? A wrong header (RescaleSlope/Intercept,
 * PixelRepresentation, BitsAllocated) turns a series into numbers that still look like an
 * image but are not HU; a model fed them returns confident nonsense. Real CT lies within
 * about -1100..+4000 HU: air -1000 (plus noise), dense bone and contrast below 3000, and a few
 * voxels of metal above. Scanners fill the corners outside the reconstruction circle with
 * -2048 or -3024 (about 21 % of a square slice), often without PixelPaddingValue, so values
 * below -1100 are allowed up to half the voxels; values above +4000 up to 1 % (metal).
 * Voxels whose stored value equals PixelPaddingValue are not counted.
 */
import { DicomError } from './errors';

export const PLAUSIBLE_HU = {
  lowHu: -1100,
  highHu: 4000,
  /** Largest fraction of counted voxels allowed above highHu (metal, extended-range scanners). */
  maxFractionAbove: 0.01,
  /** Largest fraction allowed below lowHu (out-of-field fill not declared as padding). */
  maxFractionBelow: 0.5,
} as const;

export interface HuTally {
  counted: number;
  padding: number;
  above: number;
  below: number;
  minHu: number;
  maxHu: number;
}

export function newHuTally(): HuTally {
  return { counted: 0, padding: 0, above: 0, below: 0, minHu: Infinity, maxHu: -Infinity };
}

/**
 * One slice of stored values -> HU (stored * slope + intercept in float64, kept as float32) into
 * `out`, tallied in the same pass; stored === padding is converted but not counted. One pass
 * over a Float32Array (the stored values are widened by TypedArray.set, exact for <= 16 bits),
 * so the loop sees one array type whatever the frame's: about 10x faster than indexing the
 * frame's own type in a loop shared by all of them.
 */
export function storedToHu(
  stored: Uint8Array | Int8Array | Uint16Array | Int16Array,
  slope: number,
  intercept: number,
  out: Float32Array,
  t: HuTally,
  padding: number | null,
): void {
  if (out.length !== stored.length)
    throw new RangeError(`storedToHu: ${stored.length} stored values for ${out.length} outputs`);
  out.set(stored);
  const pad = padding ?? NaN; // NaN equals nothing: no padding
  const { highHu, lowHu } = PLAUSIBLE_HU;
  const len = out.length;
  let padded = 0;
  let above = 0;
  let below = 0;
  let minHu = t.minHu;
  let maxHu = t.maxHu;
  // branch-free counting: the data decides nothing but the padding test
  for (let n = 0; n < len; n++) {
    const s = out[n];
    const v = Math.fround(s * slope + intercept);
    out[n] = v;
    if (s === pad) {
      padded++;
      continue;
    }
    above += v > highHu || v !== v ? 1 : 0; // NaN counts as implausible
    below += v < lowHu ? 1 : 0;
    minHu = v < minHu ? v : minHu;
    maxHu = v > maxHu ? v : maxHu;
  }
  t.counted += len - padded;
  t.padding += padded;
  t.above += above;
  t.below += below;
  t.minHu = minHu;
  t.maxHu = maxHu;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** Throws 'implausible-values' with the numbers when the tally is not CT-like. */
export function checkPlausibleHu(t: HuTally, seriesLabel = 'the series'): void {
  if (t.counted === 0) {
    throw new DicomError('implausible-values', `${seriesLabel} holds only padding (PixelPaddingValue)`, {
      ...t,
    });
  }
  const above = t.above / t.counted;
  const below = t.below / t.counted;
  const range = `plausible CT lies within ${PLAUSIBLE_HU.lowHu}..+${PLAUSIBLE_HU.highHu} HU`;
  const why = 'RescaleSlope/RescaleIntercept, PixelRepresentation or BitsAllocated are probably wrong';
  if (above > PLAUSIBLE_HU.maxFractionAbove) {
    throw new DicomError(
      'implausible-values',
      `${seriesLabel} is not plausible CT: ${pct(above)} of voxels are above +${PLAUSIBLE_HU.highHu} HU ` +
        `(max ${Math.round(t.maxHu)} HU; ${range}, padding excluded): ${why}`,
      { ...t, fractionAbove: above, fractionBelow: below },
    );
  }
  if (below > PLAUSIBLE_HU.maxFractionBelow) {
    throw new DicomError(
      'implausible-values',
      `${seriesLabel} is not plausible CT: ${pct(below)} of voxels are below ${PLAUSIBLE_HU.lowHu} HU ` +
        `(min ${Math.round(t.minHu)} HU; ${range}, padding excluded): ${why}`,
      { ...t, fractionAbove: above, fractionBelow: below },
    );
  }
}
