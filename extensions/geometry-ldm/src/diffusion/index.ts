/**
 * Diffusion math (docs/method.md sections 3 and 4): noise schedules, DDPM and DDIM
 * samplers, and a reproducible seeded RNG. Pure math: no I/O, no platform code.
 */
export { DiffusionError, type DiffusionErrorCode } from './errors';
export {
  addNoise,
  createSchedule,
  linspace,
  MAX_TRAIN_TIMESTEPS,
  PAPER_SCHEDULE_CONFIG,
  validateScheduleConfig,
  type BetaScheduleKind,
  type NoiseSchedule,
  type ScheduleConfig,
} from './schedule';
export {
  CLEAN,
  leadingTimesteps,
  partialTimesteps,
  roundHalfEven,
  trailingTimesteps,
  TimestepPlan,
  type TimestepSpacing,
} from './timesteps';
export { DDPMScheduler, type DDPMOptions, type DDPMStepCoefficients, type VarianceType } from './ddpm';
export { DDIMScheduler, ddimSigma, ddimStepTo, type DDIMPlanOptions, type DDIMStepOptions } from './ddim';
export { createRng, deriveSeed, fdlibmLog, fnv1a32, seedToUint32, utf8Bytes, type Rng } from './rng';
