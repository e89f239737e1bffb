/** The reverse-diffusion loop shared by generation and super-resolution. */
import type { Dims3 } from '../geometry/conventions';
import { DDIMScheduler, DDPMScheduler, type Rng } from '../diffusion';
import { scheduleConfig, type ModelManifest } from '../model/manifest';
import { throwIfCancelled } from './errors';
import { predictNoise } from './latentOps';
import type { LoadedModel } from './modelSessions';
import type { ProgressTracker } from './progress';

export type SamplerSpec =
  | { readonly kind: 'ddim'; readonly steps: number; readonly eta?: number }
  | { readonly kind: 'ddpm'; readonly steps?: number };

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
}

export function schedulerFor(manifest: ModelManifest, sampler: SamplerSpec) {
  const config = scheduleConfig(manifest);
  if (sampler.kind === 'ddpm') {
    const s = new DDPMScheduler(config, { varianceType: manifest.scheduler.varianceType });
    s.setTimesteps(sampler.steps ?? config.numTrainTimesteps);
    return {
      timesteps: s.timesteps,
      stochastic: true,
      step: (eps: Float32Array, t: number, z: Float32Array, noise?: Float32Array) => s.step(eps, t, z, noise),
    };
  }
  const s = new DDIMScheduler(config);
  s.setTimesteps(sampler.steps, { spacing: manifest.generation.timestepSpacing ?? 'leading' });
  const eta = sampler.eta ?? 0;
  return {
    timesteps: s.timesteps,
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
  for (const t of args.timesteps) {
    throwIfCancelled(args.signal);
    const eps = await predictNoise(args.model, z, t, args.latentCond, args.latentDims, args.batch);
    const noise = args.stochastic ? batchNoise(args.rngs, perSample) : undefined;
    z = args.step(eps, t, z, noise);
    args.tracker.tick('denoise', { sample: args.sampleIndex, samples: args.samples });
  }
  return z;
}
