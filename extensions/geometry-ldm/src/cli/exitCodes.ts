/**
 * Exit codes of the geometry-ldm command, and the mapping from typed errors.
 * 2 bad input (arguments, UIDs, grids, geometry), 3 PACS (HTTP, network,
 * refused or partial store), 4 model (files, checksums, runtime), 130 cancelled.
 */
export const EXIT = { ok: 0, badInput: 2, pacs: 3, model: 4, cancelled: 130, internal: 1 } as const;

export class UsageError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const PACS_CODES = /^(pacs-|network|partial-store|verify-failed)/;
const INPUT_CODES = new Set([
  'usage',
  'invalid-input',
  'unsupported-grid',
  'invalid-spec',
  'not-found',
  'not-ct',
  'not-image',
  'multi-frame',
  'missing-geometry',
  'missing-uid',
  'mixed-series',
  'non-uniform-spacing',
  'gantry-tilt',
  'slice-gap',
  'too-few-slices',
  'invalid-rescale',
  'implausible-values',
  'missing-tag',
  'contradictory-tags',
  'single-slice',
  'mixed-orientation',
  'duplicate-position',
]);

export function exitCodeFor(error: unknown): number {
  const e = error as { name?: string; code?: string };
  if (e?.code === 'cancelled') return EXIT.cancelled;
  if (e?.code && PACS_CODES.test(e.code)) return EXIT.pacs;
  if (e?.code && INPUT_CODES.has(e.code)) return EXIT.badInput;
  if (e?.name === 'GeometryError') return EXIT.badInput;
  if (e?.name === 'InferenceError' || e?.name === 'ManifestError') return EXIT.model;
  if (e?.name === 'DicomError') return EXIT.pacs;
  return EXIT.internal;
}
