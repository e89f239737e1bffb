/**
 * Bench entry for generation quality (bundled by scripts/bench.mjs; see generation-quality.mjs):
 * real held-out crops at a generation geometry, and the Wasserstein-1 distance between HU
 * histograms.
 */
import { compose } from '../../extensions/geometry-ldm/src/geometry/affine';
import { groupToPatient, scanExtentGroupSpace } from '../../extensions/geometry-ldm/src/geometry/groupSpace';
import type { ResolvedGeometry } from '../../extensions/geometry-ldm/src/geometry/generationGeometry';
import { crop } from '../../extensions/geometry-ldm/src/volume/pad';
import { resample } from '../../extensions/geometry-ldm/src/volume/resample';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { decode, encode } from '../../extensions/geometry-ldm/src/inference/latentOps';
import {
  denoise,
  generationGuidance,
  guidanceFor,
} from '../../extensions/geometry-ldm/src/inference/sampler';
import { ProgressTracker } from '../../extensions/geometry-ldm/src/inference/progress';
import {
  addNoise,
  createRng,
  createSchedule,
  DDIMScheduler,
} from '../../extensions/geometry-ldm/src/diffusion';
import { latentConditioning } from '../../extensions/geometry-ldm/src/geometry/coordinateChannels';
import type { LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { intensityParams, scheduleConfig } from '../../extensions/geometry-ldm/src/model/manifest';
import { huToModel, modelToHu } from '../../extensions/geometry-ldm/src/volume/intensity';

export { generate } from '../../extensions/geometry-ldm/src/inference/generate';
export { loadDicomTruth, loadNiftiTruth } from './sr-quality-entry';
export { midSlices, montage, png } from '../model-card-images-entry';
export { generationBaseline, summarizeGeneration } from './generationSummary';
export { boneShape, lungShape } from './anatomyShape';
export { bandSharesOf, HU_BANDS, huHistogram, w1ByBandOf } from './histogramBands';

/**
 * The real scan seen through a generation geometry: its index -> group affine applied to the
 * scan's own scan-extent group space (the model's convention), resampled trilinearly; outside
 * the scan: air.
 */
export function realAtGeometry(scan: Volume, g: ResolvedGeometry): Volume {
  const group = scanExtentGroupSpace(scan.dims, scan.affine);
  return resample(
    scan,
    { dims: g.dims, affine: compose(groupToPatient(group), g.indexToGroup) },
    { outside: 'constant', fill: -1024 },
  );
}

/**
 * Slices [start, stop) of a volume (stop null: to the end), in place in patient space: a training
 * config's "slices" entry (e.g. the chest of a head-to-thigh scan), as ldm.data.slab reads it.
 */
export function slab(v: Volume, start: number, stop: number | null): Volume {
  const end = stop ?? v.dims[2];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= v.dims[2]))
    throw new Error(`slices [${start}, ${end}) outside the volume's ${v.dims[2]} slices`);
  return crop(v, { start: [0, 0, start], dims: [v.dims[0], v.dims[1], end - start] });
}

/**
 * Wasserstein-1 distance (HU) between the value distributions of two volumes, values clipped to
 * [-1024, 2000]: the mean absolute difference of their sorted values at matched quantiles.
 */
export function wasserstein1(a: Float32Array, b: Float32Array, quantiles = 2000): number {
  const clip = (v: Float32Array) => Float32Array.from(v, (x) => Math.min(2000, Math.max(-1024, x))).sort();
  const sa = clip(a);
  const sb = clip(b);
  let sum = 0;
  for (let q = 0; q < quantiles; q++) {
    const p = (q + 0.5) / quantiles;
    sum += Math.abs(sa[Math.floor(p * sa.length)] - sb[Math.floor(p * sb.length)]);
  }
  return sum / quantiles;
}

/**
 * Fraction of body voxels (> -500 HU) at or above 200 HU: how much bone (and contrast) a volume
 * shows. A histogram distance barely moves when a few percent of bone go missing; this does.
 */
export function boneFraction(v: Float32Array, bodyHu = -500, boneHu = 200): number {
  let body = 0;
  let bone = 0;
  for (const x of v) {
    if (x > bodyHu) {
      body++;
      if (x >= boneHu) bone++;
    }
  }
  return body > 0 ? bone / body : 0;
}

/** A real crop's latent (encoded with the crop's coordinate channels) and the latent grid. */
export interface EncodedCrop {
  readonly z: Float32Array;
  readonly latentDims: Dims3;
}

/** Encodes a real crop at its generation geometry: the latent every round trip below starts from. */
export async function encodeCrop(
  model: LoadedModel,
  crop: Volume,
  g: ResolvedGeometry,
): Promise<EncodedCrop> {
  const x = huToModel(crop, intensityParams(model.manifest));
  const z = await encode(model, x.data, { indexToGroup: g.indexToGroup }, crop.dims);
  const f = model.manifest.latent.factor;
  return { z, latentDims: crop.dims.map((n) => n / f) as unknown as Dims3 };
}

async function decodeToHu(
  model: LoadedModel,
  z: Float32Array,
  latentDims: Dims3,
  crop: Volume,
): Promise<Volume> {
  const y = await decode(model, z, latentDims, 1);
  return modelToHu(makeVolume(crop.dims, crop.affine, y, 'model'), intensityParams(model.manifest));
}

/**
 * The real crop through the autoencoder alone (encode with the crop's coordinate channels, then
 * decode), in HU: how close any sample can get, since generation decodes with the same decoder.
 * `encoded` (encodeCrop of the same crop and geometry) saves encoding it again.
 */
export async function autoencoderRoundTrip(
  model: LoadedModel,
  crop: Volume,
  g: ResolvedGeometry,
  encoded?: EncodedCrop,
): Promise<Volume> {
  const { z, latentDims } = encoded ?? (await encodeCrop(model, crop, g));
  return decodeToHu(model, z, latentDims, crop);
}

/**
 * Where in t a sample's shapes are decided: the real crop's latent (`encoded`: encodeCrop of the
 * crop at g), noised to `tStart` (fresh noise from `seed`), denoised by the generation sampler's
 * loop from there (DDIM with the manifest's eta and guidance, its steps scaled to the partial plan:
 * ddimSteps x tStart / T, at least 1), decoded. tStart near T is a generation with the real crop's
 * latent forgotten; small tStart is nearly the autoencoder round trip.
 */
export async function noisedRoundTrip(
  model: LoadedModel,
  crop: Volume,
  g: ResolvedGeometry,
  encoded: EncodedCrop,
  tStart: number,
  seed: string,
): Promise<Volume> {
  const m = model.manifest;
  const config = scheduleConfig(m);
  const { latentDims } = encoded;
  const rng = createRng(seed);
  const noise = new Float32Array(encoded.z.length);
  rng.fillGaussian(noise);
  const ddim = new DDIMScheduler(config);
  const steps = Math.max(1, Math.round((m.generation.ddimSteps * tStart) / config.numTrainTimesteps));
  ddim.setPartialTimesteps(tStart, steps);
  const eta = m.generation.ddimEta ?? 0;
  const latentCond = latentConditioning(crop.dims, g.indexToGroup, m.latent.factor);
  const z = await denoise({
    model,
    z: addNoise(createSchedule(config), encoded.z, noise, tStart),
    batch: 1,
    latentDims,
    latentCond,
    rngs: [rng],
    timesteps: ddim.timesteps,
    step: (eps, t, zt, stepNoise) => ddim.step(eps, t, zt, { eta, noise: stepNoise }),
    stochastic: eta > 0,
    tracker: new ProgressTracker({}, undefined),
    guidance: guidanceFor(generationGuidance(m), latentCond),
  });
  return decodeToHu(model, z, latentDims, crop);
}
