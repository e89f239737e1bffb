/**
 * Typed geometry errors. Each carries a stable `code` so that callers (panels,
 * CLI exit codes, worker messages) can react without parsing text.
 */
export type GeometryErrorCode =
  | 'missing-tag'
  | 'contradictory-tags'
  | 'single-slice'
  | 'non-uniform-spacing'
  | 'gantry-tilt'
  | 'mixed-orientation'
  | 'duplicate-position'
  /** A slice's ImagePositionPatient lies off the line through the first and last slice (in its plane). */
  | 'misaligned-slice'
  | 'singular-affine'
  | 'invalid-spec';

export class GeometryError extends Error {
  readonly code: GeometryErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: GeometryErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'GeometryError';
    this.code = code;
    this.details = details;
  }
}
