/**
 * DDIM sampler (Song et al. 2021, eq. 12), for fast generation and for the
 * super-resolution cycles of docs/method.md section 4.
 *
 * One step t -> prev (ab = alphaBar; prev = -1 is the clean sample, ab_prev = 1):
 *
 *   x0     = (x_t - sqrt(1 - ab_t) * eps) / sqrt(ab_t)
 *   sigma  = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)
 *   x_prev = sqrt(ab_prev) * x0 + sqrt(1 - ab_prev - sigma^2) * eps + sigma * noise
 *
 * eta = 0 is deterministic (the paper's choice); eta = 1 is DDPM-like. The
 * step to the clean sample returns x0 itself (sigma = 0 there).
 *
 * Plans (see timesteps.ts): `setTimesteps(k)` from pure noise with "leading"
 * (default) or "trailing" spacing, and `setPartialTimesteps(tStart, k)` for
 * super-resolution: t_i = round(tStart * (k - i) / k), e.g. 100, 90, ..., 10,
 * after which the last step goes to the clean sample.
 *
 * All arithmetic is float64; results are returned as Float32Array.
 */
import { DiffusionError } from './errors';
import {
  addNoise,
  checkSameLength,
  checkTimestep,
  createSchedule,
  type NoiseSchedule,
  type ScheduleConfig,
} from './schedule';
import {
  CLEAN,
  leadingTimesteps,
  partialTimesteps,
  TimestepPlan,
  trailingTimesteps,
  type TimestepSpacing,
} from './timesteps';

export interface DDIMPlanOptions {
  /** 'leading' (default, diffusers' default) or 'trailing'. */
  readonly spacing?: TimestepSpacing;
}

export interface DDIMStepOptions {
  /** 0 (default): deterministic DDIM. Must be in [0, 1]. */
  readonly eta?: number;
  /** Standard normal noise, required when eta > 0. */
  readonly noise?: Float32Array;
}

function checkEta(eta: number): void {
  if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0 || eta > 1) {
    throw new DiffusionError('invalid-eta', `eta must be a number in [0, 1], got ${String(eta)}`, { eta });
  }
}

function checkPrev(schedule: NoiseSchedule, t: number, prevT: number): void {
  checkTimestep(schedule, t);
  if (prevT !== CLEAN && (!Number.isInteger(prevT) || prevT < 0 || prevT >= t)) {
    throw new DiffusionError(
      'invalid-timestep',
      `the target of a DDIM step from t = ${t} must be -1 (clean) or an integer in [0, ${t - 1}], got ${prevT}`,
      { t, prevT },
    );
  }
}

/** sigma of the DDIM step t -> prevT: eta * sqrt((1-ab_prev)/(1-ab_t)) * sqrt(1 - ab_t/ab_prev). */
export function ddimSigma(schedule: NoiseSchedule, t: number, prevT: number, eta: number): number {
  checkPrev(schedule, t, prevT);
  checkEta(eta);
  const abT = schedule.alphaBar[t];
  const abPrev = prevT === CLEAN ? 1 : schedule.alphaBar[prevT];
  return eta * Math.sqrt((1 - abPrev) / (1 - abT)) * Math.sqrt(1 - abT / abPrev);
}

/**
 * One DDIM step between an explicit pair t -> prevT (prevT = -1: to the clean
 * sample), independent of any plan. `noise` is required when eta > 0.
 */
export function ddimStepTo(
  schedule: NoiseSchedule,
  eps: Float32Array,
  t: number,
  prevT: number,
  sample: Float32Array,
  eta = 0,
  noise?: Float32Array,
): Float32Array {
  const n = checkSameLength({ sample, eps, noise });
  const sigma = ddimSigma(schedule, t, prevT, eta);
  if (eta > 0 && noise === undefined) {
    throw new DiffusionError('noise-required', `DDIM with eta = ${eta} > 0 needs a noise vector`, { t, eta });
  }
  const abT = schedule.alphaBar[t];
  const abPrev = prevT === CLEAN ? 1 : schedule.alphaBar[prevT];
  const sqrtAbT = Math.sqrt(abT);
  const sqrtOneMinusAbT = Math.sqrt(1 - abT);
  const sqrtAbPrev = Math.sqrt(abPrev);
  // 1 - ab_prev - sigma^2 = (1 - ab_prev) * (1 - eta^2 * (ab_prev - ab_t) / ((1 - ab_t) * ab_prev)) >= 0 for
  // eta <= 1; the clamp only guards the last-bit rounding of the final step (ab_prev = 1).
  const dirCoef = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x0 = (sample[i] - sqrtOneMinusAbT * eps[i]) / sqrtAbT;
    let x = sqrtAbPrev * x0 + dirCoef * eps[i];
    if (sigma > 0) x += sigma * (noise as Float32Array)[i];
    out[i] = x;
  }
  return out;
}

export class DDIMScheduler {
  readonly schedule: NoiseSchedule;
  private plan: TimestepPlan | null = null;

  constructor(config: ScheduleConfig) {
    this.schedule = createSchedule(config);
  }

  /**
   * Full plan from pure noise with k steps. 'leading': (k-1)*r, ..., r, 0 with
   * r = floor(T/k); 'trailing': roundHalfEven(T - i*T/k) - 1.
   */
  setTimesteps(numInferenceSteps: number, options: DDIMPlanOptions = {}): void {
    const T = this.schedule.numTrainTimesteps;
    const spacing = options.spacing ?? 'leading';
    let ts: Int32Array;
    if (spacing === 'leading') ts = leadingTimesteps(T, numInferenceSteps);
    else if (spacing === 'trailing') ts = trailingTimesteps(T, numInferenceSteps);
    else {
      throw new DiffusionError('invalid-plan', `unknown timestep spacing '${String(spacing)}'`, { spacing });
    }
    this.plan = new TimestepPlan(T, ts);
  }

  /**
   * Partial plan for super-resolution: k steps from tStart (1 <= k <= tStart < T),
   * t_i = round(tStart * (k - i) / k), i = 0..k-1, then to the clean sample.
   */
  setPartialTimesteps(tStart: number, numInferenceSteps: number): void {
    const T = this.schedule.numTrainTimesteps;
    this.plan = new TimestepPlan(T, partialTimesteps(T, tStart, numInferenceSteps));
  }

  /** The current plan, decreasing (a copy; empty before any setTimesteps). */
  get timesteps(): Int32Array {
    return this.plan ? this.plan.timesteps.slice() : new Int32Array(0);
  }

  get numInferenceSteps(): number {
    return this.plan ? this.plan.length : 0;
  }

  private requirePlan(): TimestepPlan {
    if (!this.plan) {
      throw new DiffusionError('no-plan', 'call setTimesteps or setPartialTimesteps before step');
    }
    return this.plan;
  }

  /** Where the step at t goes: the next plan timestep, or -1 (clean) after the last. */
  prevTimestep(t: number): number {
    const plan = this.requirePlan();
    checkTimestep(this.schedule, t);
    return plan.prevOf(t);
  }

  /** One step from t (in the current plan) to the plan's next timestep. */
  step(eps: Float32Array, t: number, sample: Float32Array, options: DDIMStepOptions = {}): Float32Array {
    const prev = this.prevTimestep(t);
    return ddimStepTo(this.schedule, eps, t, prev, sample, options.eta ?? 0, options.noise);
  }

  /** One step between an explicit pair, ignoring the plan (prevT = -1: clean). */
  stepTo(
    eps: Float32Array,
    t: number,
    prevT: number,
    sample: Float32Array,
    options: DDIMStepOptions = {},
  ): Float32Array {
    return ddimStepTo(this.schedule, eps, t, prevT, sample, options.eta ?? 0, options.noise);
  }

  /** Forward process: sqrt(alphaBar_t) z0 + sqrt(1 - alphaBar_t) eps. */
  addNoise(z0: Float32Array, eps: Float32Array, t: number): Float32Array {
    return addNoise(this.schedule, z0, eps, t);
  }
}
