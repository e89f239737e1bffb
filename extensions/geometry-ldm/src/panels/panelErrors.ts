/**
 * Any error a panel job can meet -> a notification in plain words: a title
 * that says what failed, a message that says why and what to try. Decisions
 * are made on the typed errors' codes, never on message text (except for the
 * browser's own allocation failures, which have no code).
 */
import { DicomError } from '../dicom/errors';
import { GeometryError } from '../geometry/errors';
import { InferenceError, type InferenceErrorCode } from '../inference/errors';
import { unhandledCode } from '../codedError';
import { ManifestError } from '../model/manifest';

/** What the panel was doing when the error happened (changes the wording). */
export type ErrorContext = 'load-model' | 'read-series' | 'run' | 'save';

export interface PanelNotice {
  /** 'cancelled' is not an error: panels show it without a notification. */
  readonly kind: 'error' | 'cancelled';
  readonly title: string;
  readonly message: string;
}

const OOM_HINT =
  'Try a smaller region or target grid, fewer samples, tiling the decoder (Advanced), or the wasm backend.';

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Allocation failures of the browser or of onnxruntime (no typed code). */
function isAllocationFailure(e: unknown): boolean {
  return (
    e instanceof RangeError ||
    /out of memory|array buffer allocation failed|allocation failed|bad_alloc|cannot allocate/i.test(
      messageOf(e),
    )
  );
}

export function describeError(e: unknown, context: ErrorContext): PanelNotice {
  const code = codeOf(e);
  const detail = messageOf(e);
  if (code === 'cancelled')
    return { kind: 'cancelled', title: 'Cancelled', message: 'The job was cancelled.' };

  if ((e instanceof InferenceError && code === 'out-of-memory') || isAllocationFailure(e)) {
    return { kind: 'error', title: 'Out of memory', message: `${detail}. ${OOM_HINT}` };
  }

  if (e instanceof DicomError) {
    switch (e.code) {
      case 'not-ct':
      case 'not-image':
        return {
          kind: 'error',
          title: 'Not a CT series',
          message: `This series cannot be used: ${detail}. Choose a CT image series.`,
        };
      case 'multi-frame':
        return {
          kind: 'error',
          title: 'Unsupported CT format',
          message: `${detail}. Single-frame CT and Enhanced / Legacy Converted Enhanced CT are supported.`,
        };
      case 'missing-geometry':
      case 'mixed-series':
      case 'non-uniform-spacing':
      case 'gantry-tilt':
      case 'missing-uid':
      case 'too-few-slices':
        return { kind: 'error', title: 'Series geometry not usable', message: detail };
      case 'slice-gap':
        return {
          kind: 'error',
          title: 'Slices are missing from the series',
          message: `${detail}. Tick "Bridge gaps" (Advanced) to interpolate across them.`,
        };
      case 'invalid-rescale':
      case 'implausible-values':
        return { kind: 'error', title: 'The series does not hold usable HU', message: detail };
      case 'decode-failed':
      case 'unsupported-transfer-syntax':
        return { kind: 'error', title: 'Could not decode the images', message: detail };
      case 'pacs-unauthorized':
      case 'pacs-conflict':
      case 'pacs-error':
      case 'partial-store':
      case 'verify-failed':
      case 'network':
      case 'not-found':
        if (context === 'save') {
          // Both panels keep the UIDs of a run's save: a second Save sends only what is missing.
          const retry =
            code === 'pacs-unauthorized' || code === 'pacs-conflict'
              ? ''
              : ' Press Save again to store the missing images into the same series (images the PACS already holds are not sent twice); to remove a partial series instead, see "Removing a partial series" in the README.';
          return {
            kind: 'error',
            title: code === 'partial-store' ? 'The upload was not completed' : 'The PACS refused the upload',
            message: `${detail}. Nothing is shown as saved unless the PACS confirmed it.${retry}`,
          };
        }
        return { kind: 'error', title: 'Could not read from the PACS', message: detail };
      case 'invalid-input':
        return { kind: 'error', title: 'DICOM problem', message: detail };
      default:
        return unhandledCode(e.code);
    }
  }

  if (e instanceof GeometryError) {
    return { kind: 'error', title: 'Invalid geometry', message: detail };
  }

  if (e instanceof ManifestError) {
    if (e.code === 'unsupported-grid') {
      return { kind: 'error', title: 'Grid outside the model range', message: detail };
    }
    return {
      kind: 'error',
      title: 'The model failed to load',
      message: `The model description (model.json) is not usable: ${detail}`,
    };
  }

  if (e instanceof InferenceError) return describeInferenceError(e.code, detail, context);
  // an engine error that crossed the worker boundary without its class
  if (code === 'model-load-failed' || code === 'checksum-mismatch')
    return describeInferenceError(code, detail, context);

  const titles: Record<ErrorContext, string> = {
    'load-model': 'The model failed to load',
    'read-series': 'Could not read the series',
    run: 'The job failed',
    save: 'Saving failed',
  };
  return { kind: 'error', title: titles[context], message: detail };
}

/** Every InferenceError code in words (the compiler checks that none is missing). */
function describeInferenceError(
  code: InferenceErrorCode,
  detail: string,
  context: ErrorContext,
): PanelNotice {
  switch (code) {
    case 'model-load-failed':
    case 'checksum-mismatch':
      return { kind: 'error', title: 'The model failed to load', message: detail };
    case 'session-failed':
      return context === 'load-model'
        ? { kind: 'error', title: 'The model failed to load', message: detail }
        : {
            kind: 'error',
            title: 'The inference engine stopped',
            message: `${detail}. Try again, or switch to the wasm backend.`,
          };
    case 'unsupported-grid':
      return { kind: 'error', title: 'Grid outside the model range', message: detail };
    case 'invalid-input':
      return { kind: 'error', title: 'Invalid settings', message: detail };
    case 'run-failed':
      return { kind: 'error', title: 'Inference failed', message: detail };
    case 'out-of-memory':
      return { kind: 'error', title: 'Out of memory', message: `${detail}. ${OOM_HINT}` };
    case 'cancelled':
      return { kind: 'cancelled', title: 'Cancelled', message: 'The job was cancelled.' };
    default:
      return unhandledCode(code);
  }
}
