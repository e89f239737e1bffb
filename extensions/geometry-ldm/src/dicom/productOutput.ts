/**
 * Series this product wrote (super-resolution results, uncertainty maps, synthetic CT), known by
 * its own markers: Manufacturer 'geometry-ldm' on every instance it writes, and the series
 * descriptions it gives them. Such a series is never offered as a source: super-resolving AI
 * output compounds its errors, and a std map is not an image of the patient.
 * One rule for the panels and the CLI.
 */
import { PRODUCT_MANUFACTURER } from './ctImage';
import { DERIVED_TEXT } from './writeDerivedSeries';
import { SYNTHETIC_TEXT } from './writeSyntheticStudy';

const HEADS = [DERIVED_TEXT.resultSeriesHead, DERIVED_TEXT.stdSeriesHead, SYNTHETIC_TEXT.seriesDescription];

/** Why the series is this product's output (words for the user), or null. */
export function productOutputReason(s: {
  readonly manufacturer?: string | null;
  readonly seriesDescription?: string | null;
}): string | null {
  const d = (s.seriesDescription ?? '').trim();
  const head = HEADS.find((h) => d.startsWith(h));
  if (head) return `"${head}" was written by this product (AI output)`;
  if ((s.manufacturer ?? '').trim() === PRODUCT_MANUFACTURER)
    return `the series was written by this product (Manufacturer ${PRODUCT_MANUFACTURER}: AI output)`;
  return null;
}
