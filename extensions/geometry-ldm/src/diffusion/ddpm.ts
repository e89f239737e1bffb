/**
 * DDPM ancestral sampler (Ho et al. 2020; docs/method.md section 3).
 *
 * Paper formula, for the full chain t = T-1, ..., 0 (stride 1):
 *
 *   z_{t-1} = (z_t - beta_t / sqrt(1 - alphaBar_t) * eps) / sqrt(alpha_t) + sigma_t * n
 *
 * with n ~ N(0, I), and no noise at the last step (t = 0).
 *
 * Strided plans (k < T steps, "leading" spacing) use the same formula for the
 * step t -> prev, with the effective one-step quantities of that jump
 * (alphaBar_{-1} = 1 for the last step to the clean sample):
 *
 *   alpha'_t = alphaBar_t / alphaBar_prev,   beta'_t = 1 - alpha'_t
 *   z_prev   = (z_t - beta'_t / sqrt(1 - alphaBar_t) * eps) / sqrt(alpha'_t) + sigma_t * n
 *
 * which is the mean of the posterior q(z_prev | z_t, z0) with z0 predicted from
 * eps (the same as diffusers' DDPMScheduler). For stride 1 (prev = t - 1)
 * alpha'_t = alpha_t and beta'_t = beta_t exactly in real arithmetic; the code
 * then takes alphas[t] and betas[t] themselves, so the full chain computes the
 * paper formula literally (not a rounding-different rewrite of it).
 *
 * Variance of the added noise:
 *   'fixed_large' (default, the paper's): sigma_t^2 = beta'_t
 *   'fixed_small' (posterior variance):   sigma_t^2 = (1 - alphaBar_prev) / (1 - alphaBar_t) * beta'_t
 * The step to the clean sample (prev = -1, i.e. t = 0 for every DDPM plan)
 * adds no noise.
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
import { CLEAN, leadingTimesteps, TimestepPlan } from './timesteps';

export type VarianceType = 'fixed_large' | 'fixed_small';

export interface DDPMOptions {
  /** 'fixed_large' (sigma^2 = beta, the paper's; default) or 'fixed_small' (posterior variance). */
  readonly varianceType?: VarianceType;
}

/** Float64 coefficients of one DDPM step t -> prev. */
export interface DDPMStepCoefficients {
  readonly t: number;
  readonly prev: number;
  /** alpha'_t (alpha_t for stride 1). */
  readonly alpha: number;
  /** beta'_t (beta_t for stride 1). */
  readonly beta: number;
  /** sigma_t^2 (0 for the step to the clean sample). */
  readonly variance: number;
}

export class DDPMScheduler {
  readonly schedule: NoiseSchedule;
  readonly varianceType: VarianceType;
  private plan: TimestepPlan;

  constructor(config: ScheduleConfig, options: DDPMOptions = {}) {
    this.schedule = createSchedule(config);
    const varianceType = options.varianceType ?? 'fixed_large';
    if (varianceType !== 'fixed_large' && varianceType !== 'fixed_small') {
      throw new DiffusionError('invalid-config', `varianceType must be 'fixed_large' or 'fixed_small'`, {
        field: 'varianceType',
        value: varianceType,
      });
    }
    this.varianceType = varianceType;
    this.plan = new TimestepPlan(
      this.schedule.numTrainTimesteps,
      leadingTimesteps(this.schedule.numTrainTimesteps, this.schedule.numTrainTimesteps),
    );
  }

  /**
   * Plans the chain: by default (or with k = T) every timestep T-1, ..., 0;
   * with k < T the "leading" spacing (k-1)*r, ..., r, 0 with r = floor(T/k).
   */
  setTimesteps(numInferenceSteps: number = this.schedule.numTrainTimesteps): void {
    const T = this.schedule.numTrainTimesteps;
    this.plan = new TimestepPlan(T, leadingTimesteps(T, numInferenceSteps));
  }

  /** The current plan, decreasing (a copy). */
  get timesteps(): Int32Array {
    return this.plan.timesteps.slice();
  }

  get numInferenceSteps(): number {
    return this.plan.length;
  }

  /** Where the step at t goes: the next plan timestep, or -1 (clean) after the last. */
  prevTimestep(t: number): number {
    checkTimestep(this.schedule, t);
    return this.plan.prevOf(t);
  }

  /** The float64 coefficients of the step that starts at t in the current plan. */
  coefficients(t: number): DDPMStepCoefficients {
    const prev = this.prevTimestep(t);
    const s = this.schedule;
    const abT = s.alphaBar[t];
    const abPrev = prev === CLEAN ? 1 : s.alphaBar[prev];
    let alpha: number;
    let beta: number;
    if (prev === t - 1) {
      // Stride 1 (this includes t = 0 -> clean): the paper's own alpha_t, beta_t.
      alpha = s.alphas[t];
      beta = s.betas[t];
    } else {
      alpha = abT / abPrev;
      beta = 1 - alpha;
    }
    let variance = 0;
    if (prev !== CLEAN) {
      variance = this.varianceType === 'fixed_large' ? beta : ((1 - abPrev) / (1 - abT)) * beta;
    }
    return { t, prev, alpha, beta, variance };
  }

  /**
   * One reverse step from timestep t (which must be in the current plan):
   * z_prev = (z_t - beta'_t / sqrt(1 - alphaBar_t) * eps) / sqrt(alpha'_t) + sigma_t * noise.
   * `noise` (standard normal) is required unless this is the last step.
   */
  step(epsPred: Float32Array, t: number, sample: Float32Array, noise?: Float32Array): Float32Array {
    const n = checkSameLength({ sample, epsPred, noise });
    const { alpha, beta, variance, prev } = this.coefficients(t);
    const epsCoef = beta / Math.sqrt(1 - this.schedule.alphaBar[t]);
    const sqrtAlpha = Math.sqrt(alpha);
    const out = new Float32Array(n);
    if (variance > 0) {
      if (noise === undefined) {
        throw new DiffusionError(
          'noise-required',
          `the DDPM step at t = ${t} (to ${prev}) adds noise: pass it`,
          {
            t,
          },
        );
      }
      const sigma = Math.sqrt(variance);
      for (let i = 0; i < n; i++) out[i] = (sample[i] - epsCoef * epsPred[i]) / sqrtAlpha + sigma * noise[i];
    } else {
      for (let i = 0; i < n; i++) out[i] = (sample[i] - epsCoef * epsPred[i]) / sqrtAlpha;
    }
    return out;
  }

  /** Forward process: sqrt(alphaBar_t) z0 + sqrt(1 - alphaBar_t) eps. */
  addNoise(z0: Float32Array, eps: Float32Array, t: number): Float32Array {
    return addNoise(this.schedule, z0, eps, t);
  }
}
