/**
 * Typed DICOM / DICOMweb errors. Each carries a stable `code` so that callers
 * (panels, CLI exit codes, worker messages) can react without parsing text.
 */
import { CodedError } from '../codedError';
export type DicomErrorCode =
  /** The series is not CT (Modality / SOP class). */
  | 'not-ct'
  /** The series holds no images (SR, presentation state, ...) or the image is not a single-sample grey image. */
  | 'not-image'
  /** A multi-frame instance where only single-frame images are supported. */
  | 'multi-frame'
  /** ImagePositionPatient / ImageOrientationPatient / PixelSpacing / Rows / Columns missing or malformed. */
  | 'missing-geometry'
  /** Study / Series / SOP Instance UID missing or empty. */
  | 'missing-uid'
  /** Different orientations, grid sizes, pixel formats or duplicate positions within one series. */
  | 'mixed-series'
  | 'non-uniform-spacing'
  | 'gantry-tilt'
  /** Neighbouring slices further apart than 1.5x the median spacing and their thickness: anatomy is missing. */
  | 'slice-gap'
  /** Fewer slices than a volume needs (readSeries minSlices). */
  | 'too-few-slices'
  /** RescaleSlope / RescaleIntercept missing, not a number or implausible. */
  | 'invalid-rescale'
  /** The assembled HU are far outside what CT holds (wrong rescale, sign or pixel format). */
  | 'implausible-values'
  /** A frame could not be decoded (corrupt data, wrong length, unknown codec). */
  | 'decode-failed'
  /** The transfer syntax has no decoder configured (inject one). */
  | 'unsupported-transfer-syntax'
  /** A value given to a writer or reader is invalid (bad volume, missing source, ...). */
  | 'invalid-input'
  | 'not-found'
  /** HTTP 401 / 403. */
  | 'pacs-unauthorized'
  /** HTTP 409 (e.g. STOW to a study URL that does not match the instances). */
  | 'pacs-conflict'
  /** Any other HTTP error status, or a response that could not be understood. */
  | 'pacs-error'
  /** The connection failed or dropped. */
  | 'network'
  /** Some instances were stored and some were not (details: stored, notStored). */
  | 'partial-store'
  /** Everything was sent and acknowledged, but the final QIDO check does not find every instance. */
  | 'verify-failed';

export class DicomError extends CodedError<DicomErrorCode> {
  constructor(code: DicomErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('DicomError', code, message, details);
  }
}

export function isDicomError(e: unknown, code?: DicomErrorCode): e is DicomError {
  return e instanceof DicomError && (code === undefined || e.code === code);
}
