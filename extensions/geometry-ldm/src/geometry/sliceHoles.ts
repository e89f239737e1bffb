/**
 * Holes in a slice stack: neighbouring slices so far apart that anatomy between them was
 * never acquired (missing slices, a stack assembled from two ranges). A gap is a hole when
 * it exceeds HOLE_FACTOR x the median gap AND HOLE_FACTOR x the thicker of its two slices:
 * the second condition keeps stacks whose spacing changes with the slice thickness (a head
 * scan at 4 mm then 7 mm: gap 7 = thickness 7) from being called holes.
 * Pure: distances along the normal (mm, ascending) and thicknesses in the same order.
 */
export const HOLE_FACTOR = 1.5;

export interface SliceHole {
  /** Index (k order) of the slice before the hole; the next is k + 1. */
  readonly k: number;
  readonly gapMm: number;
  readonly medianGapMm: number;
  /** Position along the normal of the slices either side (mm). */
  readonly fromMm: number;
  readonly toMm: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** thicknessesMm[k] null (absent SliceThickness) counts as the median gap. */
export function sliceHoles(
  distancesMm: readonly number[],
  thicknessesMm: readonly (number | null)[],
): SliceHole[] {
  if (distancesMm.length < 3) return []; // two slices have no "usual" spacing to compare with
  const gaps = distancesMm.slice(1).map((d, k) => d - distancesMm[k]);
  const med = median(gaps);
  const thick = (k: number): number => {
    const t = thicknessesMm[k];
    return t != null && t > 0 ? t : med;
  };
  const holes: SliceHole[] = [];
  gaps.forEach((g, k) => {
    if (g > HOLE_FACTOR * med && g > HOLE_FACTOR * Math.max(thick(k), thick(k + 1))) {
      holes.push({ k, gapMm: g, medianGapMm: med, fromMm: distancesMm[k], toMm: distancesMm[k + 1] });
    }
  });
  return holes;
}
