/**
 * The model calls of the pipelines, in one place: encode, denoise (one UNet
 * call), decode, with the manifest's latent scale and tensor names.
 * Shapes follow geometry/conventions.ts: [B, C, nz, ny, nx].
 */
import { compose, translation, type Affine } from '../geometry/affine';
import { onnxShape, voxelCount, type Dims3 } from '../geometry/conventions';
import { coordinateChannels } from '../geometry/coordinateChannels';
import type { LoadedModel } from './modelSessions';
import { InferenceError, throwIfCancelled } from './errors';
import type { Float32Tensor } from './runtime';
import { huToModelValues, type IntensityParams } from '../volume/intensity';
import { copyBox, runTiled, tileCount, tilesFor, type TilingPolicy } from './tiling';

/** How an encoder or decoder call runs: tiling, per-tile progress, cancellation. */
export interface LatentCallOptions {
  /** Tile the call when one call over the whole volume would exceed this policy's budget. */
  readonly tiling?: TilingPolicy;
  /** After each finished model call (one per tile, or one for an untiled call): calls done / planned. */
  readonly onTile?: (done: number, total: number) => void;
  /** Checked before every model call (each tile): at most the call in flight finishes after an abort. */
  readonly signal?: AbortSignal;
}

function only(out: Record<string, Float32Tensor>, name: string, model: string): Float32Tensor {
  const t = out[name] ?? Object.values(out)[0];
  if (!t) throw new InferenceError('run-failed', `model "${model}" returned no output "${name}"`);
  return t;
}

function ioName(
  model: LoadedModel,
  part: 'encoder' | 'decoder' | 'unet',
  kind: 'inputs' | 'outputs',
  n: number,
): string {
  return model.manifest.onnx[part][kind][n].name;
}

/**
 * The encoder's image: in model intensity, or in HU with the model's mapping applied as each
 * tile is read (a large grid then needs no second, model-unit copy of the volume).
 */
export type EncoderImage = Float32Array | { readonly hu: Float32Array; readonly intensity: IntensityParams };

/**
 * image + coordinate channels -> latent scaled for diffusion (tiled when the policy says so).
 * `coords` is the [3][nz][ny][nx] array, or the index -> group affine it comes from: then only the
 * coordinates of the tile being encoded are ever computed (a 272x272x288 grid's would take 255 MB).
 */
export async function encode(
  model: LoadedModel,
  image: EncoderImage,
  coords: Float32Array | { readonly indexToGroup: Affine },
  dims: Dims3,
  options: LatentCallOptions = {},
): Promise<Float32Array> {
  const { tiling, onTile, signal } = options;
  throwIfCancelled(signal);
  const f = model.manifest.latent.factor;
  const latentDims = dims.map((n) => n / f) as unknown as Dims3;
  const runOnce = async (img: Float32Array, crd: Float32Array, d: Dims3) => {
    const out = await model.encoder.run({
      [ioName(model, 'encoder', 'inputs', 0)]: { data: img, dims: onnxShape(1, 1, d) },
      [ioName(model, 'encoder', 'inputs', 1)]: { data: crd, dims: onnxShape(1, 3, d) },
    });
    return only(out, ioName(model, 'encoder', 'outputs', 0), 'encoder').data;
  };
  const plan = tilesFor(latentDims, f, tiling);
  let z: Float32Array;
  const src = image instanceof Float32Array ? image : image.hu;
  const toModel = image instanceof Float32Array ? null : image.intensity;
  if (!plan) {
    z = await runOnce(
      toModel ? huToModelValues(src, new Float32Array(src.length), toModel) : src,
      coords instanceof Float32Array ? coords : coordinateChannels(dims, coords.indexToGroup),
      dims,
    );
    onTile?.(1, 1);
  } else {
    // each tile's input: its image box, then its coordinate channels (copied, or computed from the
    // affine), in one buffer for every tile (runTiled has finished a tile's run before it reads the next)
    let buffer: Float32Array | undefined;
    const readTile = (start: Dims3, td: Dims3) => {
      const tn = voxelCount(td);
      const tile = buffer?.length === 4 * tn ? buffer : (buffer = new Float32Array(4 * tn));
      const box = copyBox(src, dims, 1, start, td, tile.subarray(0, tn));
      if (toModel) huToModelValues(box, box, toModel);
      if (coords instanceof Float32Array) copyBox(coords, dims, 3, start, td, tile.subarray(tn));
      else coordinateChannels(td, compose(coords.indexToGroup, translation(start)), tile.subarray(tn));
      return tile;
    };
    z = await runTiled({
      input: readTile,
      inChannels: 4,
      outChannels: model.manifest.latent.channels,
      latentDims,
      inFactor: f,
      outFactor: 1,
      plan,
      run: (tile, td) => {
        const tn = voxelCount(td);
        return runOnce(tile.subarray(0, tn), tile.subarray(tn), td);
      },
      onTile,
      signal,
    });
  }
  const scale = model.manifest.latent.scale;
  const scaled = new Float32Array(z.length);
  for (let n = 0; n < z.length; n++) scaled[n] = z[n] * scale;
  return scaled;
}

const batched = new WeakMap<Float32Array, { batch: number; data: Float32Array }>();

/** The conditioning repeated for every sample of a batch; the same array for every step of a job. */
function batchedConditioning(latentCond: Float32Array, batch: number): Float32Array {
  if (batch === 1) return latentCond;
  const hit = batched.get(latentCond);
  if (hit?.batch === batch) return hit.data;
  const data = new Float32Array(batch * latentCond.length);
  for (let b = 0; b < batch; b++) data.set(latentCond, b * latentCond.length);
  batched.set(latentCond, { batch, data });
  return data;
}

/** A batch of B diffusion latents (concatenated) -> eps predictions. */
export async function predictNoise(
  model: LoadedModel,
  zt: Float32Array,
  t: number,
  latentCond: Float32Array,
  latentDims: Dims3,
  batch: number,
): Promise<Float32Array> {
  const c = model.manifest.latent.channels;
  const n = voxelCount(latentDims);
  if (zt.length !== batch * c * n)
    throw new InferenceError('invalid-input', 'latent batch has the wrong size');
  const cond = batchedConditioning(latentCond, batch);
  const out = await model.unet.run({
    [ioName(model, 'unet', 'inputs', 0)]: { data: zt, dims: onnxShape(batch, c, latentDims) },
    [ioName(model, 'unet', 'inputs', 1)]: { data: new Float32Array(batch).fill(t), dims: [batch] },
    // constant: the same array every step, so a GPU runtime can keep it on the device
    [ioName(model, 'unet', 'inputs', 2)]: {
      data: cond,
      dims: onnxShape(batch, 3, latentDims),
      constant: true,
    },
  });
  return only(out, ioName(model, 'unet', 'outputs', 0), 'unet').data;
}

/**
 * A batch of diffusion latents -> images in model intensity ([B][nz][ny][nx]); tiled per the policy.
 * Untiled, the batch runs in as few calls as the policy's budget allows (all B in one without a policy);
 * tiled, each sample runs tile by tile. `onTile` counts every call of the batch.
 */
export async function decode(
  model: LoadedModel,
  z: Float32Array,
  latentDims: Dims3,
  batch: number,
  options: LatentCallOptions = {},
): Promise<Float32Array> {
  const { tiling, onTile, signal } = options;
  throwIfCancelled(signal);
  const c = model.manifest.latent.channels;
  const f = model.manifest.latent.factor;
  const inv = 1 / model.manifest.latent.scale;
  const unscaled = new Float32Array(z.length);
  for (let n = 0; n < z.length; n++) unscaled[n] = z[n] * inv;
  const runOnce = async (lat: Float32Array, d: Dims3, b: number) => {
    const out = await model.decoder.run({
      [ioName(model, 'decoder', 'inputs', 0)]: { data: lat, dims: onnxShape(b, c, d) },
    });
    return only(out, ioName(model, 'decoder', 'outputs', 0), 'decoder').data;
  };
  const perLatent = c * voxelCount(latentDims);
  const perImage = voxelCount(latentDims) * f ** 3;
  const plan = tilesFor(latentDims, f, tiling);
  if (!plan) {
    const chunk = tiling ? Math.max(1, Math.floor(tiling.maxImageVoxelsPerCall / perImage)) : batch;
    if (chunk >= batch) {
      const out = await runOnce(unscaled, latentDims, batch);
      onTile?.(1, 1);
      return out;
    }
    const out = new Float32Array(batch * perImage);
    const calls = Math.ceil(batch / chunk);
    for (let first = 0, call = 0; first < batch; first += chunk) {
      throwIfCancelled(signal);
      const b = Math.min(chunk, batch - first);
      const lat = unscaled.subarray(first * perLatent, (first + b) * perLatent);
      out.set(await runOnce(lat, latentDims, b), first * perImage);
      onTile?.(++call, calls);
    }
    return out;
  }
  const out = new Float32Array(batch * perImage);
  const tiles = tileCount(plan);
  for (let b = 0; b < batch; b++) {
    await runTiled({
      into: out.subarray(b * perImage, (b + 1) * perImage),
      input: unscaled.subarray(b * perLatent, (b + 1) * perLatent),
      inChannels: c,
      outChannels: 1,
      latentDims,
      inFactor: 1,
      outFactor: f,
      plan,
      run: (tile, td) => runOnce(tile, td, 1),
      onTile: onTile ? (done) => onTile(b * tiles + done, batch * tiles) : undefined,
      signal,
    });
  }
  return out;
}

/** Downsampled mid-slice (k = nz/2) of image 0 of a batch, for progress previews. */
export function midSlicePreview(
  image: Float32Array,
  dims: Dims3,
  maxSize = 64,
): { width: number; height: number; data: Float32Array } {
  const [nx, ny, nz] = dims;
  const step = Math.max(1, Math.ceil(Math.max(nx, ny) / maxSize));
  const width = Math.ceil(nx / step);
  const height = Math.ceil(ny / step);
  const data = new Float32Array(width * height);
  const k = Math.floor(nz / 2);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = image[(k * ny + y * step) * nx + x * step];
  return { width, height, data };
}
