/**
 * Typed geometry errors. Each carries a stable `code` so that callers (panels,
 * CLI exit codes, worker messages) can react without parsing text.
 */
import { CodedError } from '../codedError';
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

export class GeometryError extends CodedError<GeometryErrorCode> {
  constructor(code: GeometryErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('GeometryError', code, message, details);
  }
}
