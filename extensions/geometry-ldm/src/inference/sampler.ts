/** The reverse-diffusion loop shared by generation and super-resolution. */
import type { Dims3 } from '../geometry/conventions';
import { CLEAN, ddimStepTo, DDIMScheduler, DDPMScheduler, type NoiseSchedule, type Rng } from '../diffusion';
import { scheduleConfig, type ModelManifest } from '../model/manifest';
import { InferenceError, throwIfCancelled } from './errors';
import { predictNoise } from './latentOps';
import type { LoadedModel } from './modelSessions';
import type { PreviewSlice, ProgressTracker } from './progress';

export type SamplerSpec =
  | { readonly kind: 'ddim'; readonly steps: number; readonly eta?: number }
  | { readonly kind: 'ddpm'; readonly steps?: number };

/**
 * The sampler a generation runs: DDIM without an eta takes the model's (manifest
 * generation.ddimEta, absent = 0: deterministic). Throws InferenceError('invalid-input') for an
 * eta outside [0, 1].
 */
export function generationSampler(manifest: ModelManifest, sampler: SamplerSpec): SamplerSpec {
  if (sampler.kind !== 'ddim') return sampler;
  const eta = sampler.eta ?? manifest.generation.ddimEta ?? 0;
  if (!(eta >= 0 && eta <= 1))
    throw new InferenceError('invalid-input', `DDIM eta must be between 0 and 1, got ${String(eta)}`);
  return { ...sampler, eta };
}

/**
 * Classifier-free guidance of a generation (manifest generation.guidanceScale; absent = 1: none,
 * one UNet call per step). Throws InferenceError('invalid-input') for a scale below 1 or not finite.
 */
export function generationGuidance(manifest: ModelManifest): number {
  const scale = manifest.generation.guidanceScale ?? 1;
  if (!(Number.isFinite(scale) && scale >= 1))
    throw new InferenceError(
      'invalid-input',
      `guidance scale must be a finite number >= 1, got ${String(scale)}`,
    );
  return scale;
}

/**
 * Classifier-free guidance: eps = eps_null + scale (eps_cond - eps_null), where eps_null is the
 * UNet's prediction under the null condition, all-zero coordinate channels (what a UNet trained
 * with diffusion.cond_drop > 0 saw in place of the coordinates for that share of its crops; a real
 * coordinate field varies across any grid of more than one voxel, so zero is never a real one).
 * Two UNet calls per step.
 */
export interface Guidance {
  readonly scale: number;
  /** The null condition: zeros, the length of the job's latent conditioning. */
  readonly nullCond: Float32Array;
}

/** The guidance for a job, or undefined for a scale of 1 (no second UNet call). */
export function guidanceFor(scale: number, latentCond: Float32Array): Guidance | undefined {
  return scale === 1 ? undefined : { scale, nullCond: new Float32Array(latentCond.length) };
}

/** eps_null + scale (eps_cond - eps_null), into eps_cond's array (a new one from each UNet call). */
export function guidedEps(cond: Float32Array, uncond: Float32Array, scale: number): Float32Array {
  for (let i = 0; i < cond.length; i++) cond[i] = uncond[i] + scale * (cond[i] - uncond[i]);
  return cond;
}

export interface DenoiseArgs {
  readonly model: LoadedModel;
  /** B latents concatenated ([B, C, d, h, w]); denoised in place semantics: a new array is returned. */
  readonly z: Float32Array;
  readonly batch: number;
  readonly latentDims: Dims3;
  readonly latentCond: Float32Array;
  /** One RNG per sample of the batch (noise for stochastic steps). */
  readonly rngs: readonly Rng[];
  readonly timesteps: Int32Array;
  readonly step: (
    eps: Float32Array,
    t: number,
    z: Float32Array,
    noise: Float32Array | undefined,
  ) => Float32Array;
  readonly stochastic: boolean;
  readonly tracker: ProgressTracker;
  readonly signal?: AbortSignal;
  readonly sampleIndex?: number;
  readonly samples?: number;
  /** Previews of the denoised estimate while sampling (opt-in: each costs a decoder call). */
  readonly preview?: SamplingPreview;
  /** Classifier-free guidance (guidanceFor); absent: the conditional prediction alone. */
  readonly guidance?: Guidance;
}

export interface SamplingPreview {
  /** Schedule of the sampler, for x0-hat. */
  readonly schedule: NoiseSchedule;
  /** A preview after every `every`-th step of this loop. */
  readonly every: number;
  /** No preview after the loop's last step: the caller previews the decoded result, the same estimate. */
  readonly skipLast: boolean;
  /** x0-hat of sample 0 (diffusion latent) -> its preview slice. */
  readonly render: (x0: Float32Array) => Promise<PreviewSlice>;
}

/** How many previews one denoising loop of `steps` makes (the rule in `denoise` below). */
export function previewsPerLoop(steps: number, every: number, skipLast: boolean): number {
  return Math.floor(steps / every) - (skipLast && steps % every === 0 ? 1 : 0);
}

/** Checks an optional `previewEvery` option: a positive integer (steps), or absent. */
export function checkPreviewEvery(every: number | undefined): void {
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) {
    throw new InferenceError(
      'invalid-input',
      `previewEvery must be a positive integer, got ${String(every)}`,
    );
  }
}

export function schedulerFor(manifest: ModelManifest, sampler: SamplerSpec) {
  const config = scheduleConfig(manifest);
  if (sampler.kind === 'ddpm') {
    const s = new DDPMScheduler(config, { varianceType: manifest.scheduler.varianceType });
    s.setTimesteps(sampler.steps ?? config.numTrainTimesteps);
    return {
      timesteps: s.timesteps,
      schedule: s.schedule,
      stochastic: true,
      step: (eps: Float32Array, t: number, z: Float32Array, noise?: Float32Array) => s.step(eps, t, z, noise),
    };
  }
  const s = new DDIMScheduler(config);
  s.setTimesteps(sampler.steps, { spacing: manifest.generation.timestepSpacing ?? 'leading' });
  const eta = sampler.eta ?? 0;
  return {
    timesteps: s.timesteps,
    schedule: s.schedule,
    stochastic: eta > 0,
    step: (eps: Float32Array, t: number, z: Float32Array, noise?: Float32Array) =>
      s.step(eps, t, z, { eta, noise }),
  };
}

/** Noise for a batch: sample b's values come from rngs[b] only (independent of the batch size). */
export function batchNoise(rngs: readonly Rng[], perSample: number): Float32Array {
  const out = new Float32Array(rngs.length * perSample);
  rngs.forEach((rng, b) => rng.fillGaussian(out.subarray(b * perSample, (b + 1) * perSample)));
  return out;
}

export async function denoise(args: DenoiseArgs): Promise<Float32Array> {
  let z = args.z;
  const perSample = z.length / args.batch;
  const { preview } = args;
  const steps = args.timesteps.length;
  for (let i = 0; i < steps; i++) {
    const t = args.timesteps[i];
    throwIfCancelled(args.signal);
    let eps = await predictNoise(args.model, z, t, args.latentCond, args.latentDims, args.batch);
    if (args.guidance) {
      throwIfCancelled(args.signal);
      const { scale, nullCond } = args.guidance;
      eps = guidedEps(
        eps,
        await predictNoise(args.model, z, t, nullCond, args.latentDims, args.batch),
        scale,
      );
    }
    let slice: PreviewSlice | undefined;
    if (preview && (i + 1) % preview.every === 0 && !(preview.skipLast && i + 1 === steps)) {
      // x0-hat = (z_t - sqrt(1 - ab_t) eps) / sqrt(ab_t): the (deterministic) DDIM step to the clean
      // sample, for DDPM too. Sample 0 only; z and eps of this step, before z moves on.
      const x0 = ddimStepTo(preview.schedule, eps.subarray(0, perSample), t, CLEAN, z.subarray(0, perSample));
      throwIfCancelled(args.signal);
      slice = await args.tracker.preview(() => preview.render(x0));
    }
    const noise = args.stochastic ? batchNoise(args.rngs, perSample) : undefined;
    z = args.step(eps, t, z, noise);
    // one UNet call over the batch: one unit of work per sample
    args.tracker.tick(
      'denoise',
      { sample: args.sampleIndex, samples: args.samples, ...(slice ? { preview: slice } : {}) },
      args.batch,
    );
  }
  return z;
}
