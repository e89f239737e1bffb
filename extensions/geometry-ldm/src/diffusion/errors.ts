/**
 * Typed diffusion errors. Each carries a stable `code` so that callers (panels,
 * CLI exit codes, worker messages) can react without parsing text.
 */
import { CodedError } from '../codedError';
export type DiffusionErrorCode =
  /** A schedule config field is missing, of the wrong type or out of range. */
  | 'invalid-config'
  /** `betaSchedule` names a schedule this module does not implement. */
  | 'unsupported-schedule'
  /** A timestep is not an integer in [0, numTrainTimesteps - 1]. */
  | 'invalid-timestep'
  /** An inference plan (number of steps, start timestep, spacing) is invalid. */
  | 'invalid-plan'
  /** `step` was called before `setTimesteps` / `setPartialTimesteps`. */
  | 'no-plan'
  /** `step` was called with a timestep that is not in the current plan. */
  | 'timestep-not-in-plan'
  /** Input arrays (sample, eps, noise, z0) differ in length. */
  | 'shape-mismatch'
  /** The step adds noise but no noise vector was given. */
  | 'noise-required'
  /** DDIM eta outside [0, 1]. */
  | 'invalid-eta'
  /** An RNG seed or seed-path element is not of the accepted form. */
  | 'invalid-seed';

export class DiffusionError extends CodedError<DiffusionErrorCode> {
  constructor(code: DiffusionErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('DiffusionError', code, message, details);
  }
}
