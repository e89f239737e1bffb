/** Typed engine errors; `code` lets panels and the CLI react without parsing text. */
import { CodedError } from '../codedError';
export type InferenceErrorCode =
  | 'checksum-mismatch'
  | 'model-load-failed'
  | 'session-failed'
  | 'run-failed'
  | 'out-of-memory'
  | 'cancelled'
  | 'invalid-input'
  | 'unsupported-grid';

export class InferenceError extends CodedError<InferenceErrorCode> {
  constructor(code: InferenceErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('InferenceError', code, message, details);
  }
}

/** Thrown when an AbortSignal fires; pipelines check it between model calls. */
export function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new InferenceError('cancelled', 'the job was cancelled');
}
