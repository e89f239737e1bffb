/**
 * Noise schedules of the latent diffusion model (docs/method.md section 3).
 *
 * Timesteps are 0-based, t = 0 .. T-1, like diffusers and MONAI: index t of
 * every array below belongs to timestep t. For the paper's model T = 1000 and
 *
 *   beta_t     = (linspace(sqrt(0.0015), sqrt(0.0195), T)[t])^2   ('scaled_linear')
 *   alpha_t    = 1 - beta_t
 *   alphaBar_t = prod_{s <= t} alpha_s
 *
 * The 'linear' schedule is beta_t = linspace(betaStart, betaEnd, T)[t].
 * linspace(a, b, n)[i] = a + i * (b - a) / (n - 1), the last element exactly b.
 *
 * The forward process (addNoise) is z_t = sqrt(alphaBar_t) z0 + sqrt(1 - alphaBar_t) eps.
 *
 * Everything is float64; vectors going in and out of the samplers are Float32.
 */
import { DiffusionError } from './errors';

export type BetaScheduleKind = 'scaled_linear' | 'linear';

/** Schedule facts, as the model manifest states them. */
export interface ScheduleConfig {
  /** T, the number of training timesteps (timesteps are 0 .. T-1). */
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaScheduleKind;
}

/** The paper's schedule: T = 1000, scaled-linear betas 0.0015 -> 0.0195. */
export const PAPER_SCHEDULE_CONFIG: Readonly<ScheduleConfig> = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.0015,
  betaEnd: 0.0195,
  betaSchedule: 'scaled_linear',
});

/** Largest T accepted (a sanity bound against manifests with garbage). */
export const MAX_TRAIN_TIMESTEPS = 100000;

/**
 * A computed schedule. The arrays have length T and must be treated as
 * read-only (they are shared by every scheduler built on this schedule).
 */
export interface NoiseSchedule {
  readonly config: Readonly<ScheduleConfig>;
  /** T. */
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphaBar: Float64Array;
}

const SCHEDULE_KINDS: readonly string[] = ['scaled_linear', 'linear'];

/**
 * Checks a schedule config (e.g. straight from a parsed manifest) and returns
 * a clean, frozen copy. Throws DiffusionError 'invalid-config' for missing or
 * out-of-range fields and 'unsupported-schedule' for an unknown betaSchedule.
 */
export function validateScheduleConfig(config: unknown): Readonly<ScheduleConfig> {
  if (typeof config !== 'object' || config === null) {
    throw new DiffusionError('invalid-config', 'schedule config must be an object', { config });
  }
  const c = config as Record<string, unknown>;
  const { numTrainTimesteps, betaStart, betaEnd, betaSchedule } = c;
  if (
    typeof numTrainTimesteps !== 'number' ||
    !Number.isInteger(numTrainTimesteps) ||
    numTrainTimesteps < 2 ||
    numTrainTimesteps > MAX_TRAIN_TIMESTEPS
  ) {
    throw new DiffusionError(
      'invalid-config',
      `numTrainTimesteps must be an integer in [2, ${MAX_TRAIN_TIMESTEPS}], got ${String(numTrainTimesteps)}`,
      { field: 'numTrainTimesteps', value: numTrainTimesteps },
    );
  }
  for (const [field, value] of [
    ['betaStart', betaStart],
    ['betaEnd', betaEnd],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
      throw new DiffusionError(
        'invalid-config',
        `${field} must be a number in (0, 1), got ${String(value)}`,
        {
          field,
          value,
        },
      );
    }
  }
  if ((betaEnd as number) < (betaStart as number)) {
    throw new DiffusionError('invalid-config', `betaEnd (${betaEnd}) must be >= betaStart (${betaStart})`, {
      field: 'betaEnd',
      value: betaEnd,
    });
  }
  if (typeof betaSchedule !== 'string') {
    throw new DiffusionError('invalid-config', 'betaSchedule must be a string', {
      field: 'betaSchedule',
      value: betaSchedule,
    });
  }
  if (!SCHEDULE_KINDS.includes(betaSchedule)) {
    throw new DiffusionError(
      'unsupported-schedule',
      `betaSchedule '${betaSchedule}' is not supported (expected one of ${SCHEDULE_KINDS.join(', ')})`,
      { field: 'betaSchedule', value: betaSchedule },
    );
  }
  return Object.freeze({
    numTrainTimesteps,
    betaStart: betaStart as number,
    betaEnd: betaEnd as number,
    betaSchedule: betaSchedule as BetaScheduleKind,
  });
}

/** n evenly spaced float64 values from start to end inclusive (n >= 2). */
export function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const step = (end - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  out[n - 1] = end;
  return out;
}

/** Betas, alphas and alphaBar of a (validated) config. Defaults to the paper's. */
export function createSchedule(config: ScheduleConfig = PAPER_SCHEDULE_CONFIG): NoiseSchedule {
  const cfg = validateScheduleConfig(config);
  const T = cfg.numTrainTimesteps;
  let betas: Float64Array;
  if (cfg.betaSchedule === 'scaled_linear') {
    betas = linspace(Math.sqrt(cfg.betaStart), Math.sqrt(cfg.betaEnd), T);
    for (let t = 0; t < T; t++) betas[t] = betas[t] * betas[t];
  } else {
    betas = linspace(cfg.betaStart, cfg.betaEnd, T);
  }
  const alphas = new Float64Array(T);
  const alphaBar = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    alphas[t] = 1 - betas[t];
    prod *= alphas[t];
    alphaBar[t] = prod;
  }
  return Object.freeze({ config: cfg, numTrainTimesteps: T, betas, alphas, alphaBar });
}

/** Throws 'invalid-timestep' unless t is an integer in [0, T-1]. */
export function checkTimestep(schedule: NoiseSchedule, t: number, what = 'timestep'): void {
  if (!Number.isInteger(t) || t < 0 || t >= schedule.numTrainTimesteps) {
    throw new DiffusionError(
      'invalid-timestep',
      `${what} must be an integer in [0, ${schedule.numTrainTimesteps - 1}], got ${t}`,
      { t },
    );
  }
}

/** Throws 'shape-mismatch' unless every named array has the length of the first. */
export function checkSameLength(arrays: Record<string, ArrayLike<number> | undefined>): number {
  let n = -1;
  let first = '';
  for (const [name, a] of Object.entries(arrays)) {
    if (a === undefined) continue;
    if (n < 0) {
      n = a.length;
      first = name;
    } else if (a.length !== n) {
      throw new DiffusionError('shape-mismatch', `${name} has length ${a.length}, ${first} has ${n}`, {
        [first]: n,
        [name]: a.length,
      });
    }
  }
  return n;
}

/**
 * Forward process: z_t = sqrt(alphaBar_t) z0 + sqrt(1 - alphaBar_t) eps,
 * computed in float64, returned as Float32.
 */
export function addNoise(
  schedule: NoiseSchedule,
  z0: Float32Array,
  eps: Float32Array,
  t: number,
): Float32Array {
  checkTimestep(schedule, t);
  const n = checkSameLength({ z0, eps });
  const ab = schedule.alphaBar[t];
  const a = Math.sqrt(ab);
  const b = Math.sqrt(1 - ab);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = a * z0[i] + b * eps[i];
  return out;
}
