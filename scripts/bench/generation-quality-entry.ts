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
import { decode, encode, predictNoise } from '../../extensions/geometry-ldm/src/inference/latentOps';
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

/**
 * The real crop through the autoencoder alone (encode with the crop's coordinate channels, then
 * decode), in HU: how close any sample can get, since generation decodes with the same decoder.
 */
export async function autoencoderRoundTrip(
  model: LoadedModel,
  crop: Volume,
  g: ResolvedGeometry,
): Promise<Volume> {
  const p = intensityParams(model.manifest);
  const x = huToModel(crop, p);
  const z = await encode(model, x.data, { indexToGroup: g.indexToGroup }, crop.dims);
  const f = model.manifest.latent.factor;
  const latentDims = crop.dims.map((n) => n / f) as unknown as Dims3;
  const y = await decode(model, z, latentDims, 1);
  return modelToHu(makeVolume(crop.dims, crop.affine, y, 'model'), p);
}

/**
 * Where in t a sample's shapes are decided: the real crop encoded, noised to `tStart` (fresh noise
 * from `seed`), denoised by the generation sampler from there (DDIM with the manifest's eta, its
 * steps scaled to the partial plan: ddimSteps x tStart / T, at least 1), decoded. tStart near T is a
 * generation with the real crop's latent forgotten; small tStart is nearly the autoencoder round trip.
 */
export async function noisedRoundTrip(
  model: LoadedModel,
  crop: Volume,
  g: ResolvedGeometry,
  tStart: number,
  seed: string,
): Promise<Volume> {
  const m = model.manifest;
  const p = intensityParams(m);
  const f = m.latent.factor;
  const latentDims = crop.dims.map((n) => n / f) as unknown as Dims3;
  const z0 = await encode(model, huToModel(crop, p).data, { indexToGroup: g.indexToGroup }, crop.dims);
  const config = scheduleConfig(m);
  const rng = createRng(seed);
  const noise = new Float32Array(z0.length);
  rng.fillGaussian(noise);
  let z = addNoise(createSchedule(config), z0, noise, tStart);
  const ddim = new DDIMScheduler(config);
  const steps = Math.max(1, Math.round((m.generation.ddimSteps * tStart) / config.numTrainTimesteps));
  ddim.setPartialTimesteps(tStart, steps);
  const eta = m.generation.ddimEta ?? 0;
  const latentCond = latentConditioning(crop.dims, g.indexToGroup, f);
  for (const t of ddim.timesteps) {
    const eps = await predictNoise(model, z, t, latentCond, latentDims, 1);
    const stepNoise = eta > 0 ? rng.fillGaussian(new Float32Array(z.length)) : undefined;
    z = ddim.step(eps, t, z, { eta, noise: stepNoise });
  }
  const y = await decode(model, z, latentDims, 1);
  return modelToHu(makeVolume(crop.dims, crop.affine, y, 'model'), p);
}
