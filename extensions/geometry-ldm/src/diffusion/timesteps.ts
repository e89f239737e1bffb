/**
 * Inference plans: which timesteps a sampler visits, in order.
 *
 * A plan is a strictly decreasing list of timesteps t_0 > t_1 > ... > t_{k-1}.
 * The step at t_i goes to prev = t_{i+1}; the step at the last one goes to the
 * clean sample, written prev = -1 with alphaBar_{-1} = 1 (diffusers'
 * "set_alpha_to_one"). Spacings (T = numTrainTimesteps, k = number of steps):
 *
 * - leading  (diffusers' default): r = floor(T / k), t_i = (k - 1 - i) * r,
 *            e.g. T = 1000, k = 50 -> 980, 960, ..., 20, 0.
 * - trailing (diffusers): r = T / k (float64), t_i = roundHalfEven(T - i * r) - 1,
 *            e.g. T = 1000, k = 10 -> 999, 899, ..., 99.
 * - partial  (super-resolution, start at tStart instead of pure noise):
 *            t_i = round(tStart * (k - i) / k), rounding halves up, computed in
 *            exact integer arithmetic as floor((2 * tStart * (k - i) + k) / (2k)),
 *            e.g. tStart = 100, k = 10 -> 100, 90, ..., 10.
 */
import { DiffusionError } from './errors';

export type TimestepSpacing = 'leading' | 'trailing';

/** Prev value meaning "the clean sample" (alphaBar_prev = 1). */
export const CLEAN = -1;

function checkSteps(numTrainTimesteps: number, k: number, max: number, what: string): void {
  if (!Number.isInteger(k) || k < 1 || k > max) {
    throw new DiffusionError('invalid-plan', `${what} must be an integer in [1, ${max}], got ${k}`, {
      numTrainTimesteps,
      numInferenceSteps: k,
    });
  }
}

/** Rounds to the nearest integer, halves to even (numpy's np.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Leading spacing: (k-1)*r, ..., r, 0 with r = floor(T/k). */
export function leadingTimesteps(numTrainTimesteps: number, k: number): Int32Array {
  checkSteps(numTrainTimesteps, k, numTrainTimesteps, 'number of inference steps');
  const r = Math.floor(numTrainTimesteps / k);
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = (k - 1 - i) * r;
  return out;
}

/** Trailing spacing: roundHalfEven(T - i*T/k) - 1 for i = 0..k-1. */
export function trailingTimesteps(numTrainTimesteps: number, k: number): Int32Array {
  checkSteps(numTrainTimesteps, k, numTrainTimesteps, 'number of inference steps');
  const r = numTrainTimesteps / k;
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = roundHalfEven(numTrainTimesteps - i * r) - 1;
  return out;
}

/** Partial plan from tStart: round(tStart*(k-i)/k) for i = 0..k-1 (1 <= k <= tStart < T). */
export function partialTimesteps(numTrainTimesteps: number, tStart: number, k: number): Int32Array {
  if (!Number.isInteger(tStart) || tStart < 1 || tStart >= numTrainTimesteps) {
    throw new DiffusionError(
      'invalid-plan',
      `start timestep must be an integer in [1, ${numTrainTimesteps - 1}], got ${tStart}`,
      { numTrainTimesteps, tStart, numInferenceSteps: k },
    );
  }
  checkSteps(numTrainTimesteps, k, tStart, 'number of steps of a partial plan (at most the start timestep)');
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.floor((2 * tStart * (k - i) + k) / (2 * k));
  return out;
}

/** A validated plan with O(1) lookup of the step that starts at t. */
export class TimestepPlan {
  readonly timesteps: Int32Array;
  private readonly indexOf = new Map<number, number>();

  constructor(numTrainTimesteps: number, timesteps: ArrayLike<number>) {
    const ts = Int32Array.from(timesteps);
    if (ts.length === 0) {
      throw new DiffusionError('invalid-plan', 'a plan needs at least one timestep', { numTrainTimesteps });
    }
    for (let i = 0; i < ts.length; i++) {
      const t = timesteps[i];
      if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
        throw new DiffusionError(
          'invalid-plan',
          `plan timestep ${t} is not an integer in [0, ${numTrainTimesteps - 1}]`,
          { numTrainTimesteps, timesteps: Array.from(timesteps) },
        );
      }
      if (i > 0 && ts[i] >= ts[i - 1]) {
        throw new DiffusionError('invalid-plan', 'plan timesteps must be distinct and strictly decreasing', {
          numTrainTimesteps,
          timesteps: Array.from(timesteps),
        });
      }
      this.indexOf.set(ts[i], i);
    }
    this.timesteps = ts;
  }

  get length(): number {
    return this.timesteps.length;
  }

  has(t: number): boolean {
    return this.indexOf.has(t);
  }

  /** The timestep the step at t goes to; CLEAN (-1) after the last one. */
  prevOf(t: number): number {
    const i = this.indexOf.get(t);
    if (i === undefined) {
      throw new DiffusionError('timestep-not-in-plan', `timestep ${t} is not in the current plan`, {
        t,
        timesteps: Array.from(this.timesteps),
      });
    }
    return i + 1 < this.timesteps.length ? this.timesteps[i + 1] : CLEAN;
  }
}
