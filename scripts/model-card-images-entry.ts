/**
 * Model-card pictures through the product's TypeScript pipeline (bundled by
 * scripts/model-card-images.mjs): generation at several grids, a partial-body
 * FOV and a rotated orientation, and the autoencoder reconstruction of the
 * held-out scan, all from the committed ONNX files on onnxruntime-node.
 * Mid-slices (axial, coronal, sagittal) rendered at 1.5 mm per pixel, window
 * [-1000, 500] HU, written as 8-bit greyscale PNG (node:zlib, no image library).
 */
import { deflateSync } from 'node:zlib';
import type { Dims3 } from '../extensions/geometry-ldm/src/geometry/conventions';
import { spacingOf } from '../extensions/geometry-ldm/src/geometry/dicomGeometry';
import { coordinateChannels } from '../extensions/geometry-ldm/src/geometry/coordinateChannels';
import { indexToGroup, scanExtentGroupSpace } from '../extensions/geometry-ldm/src/geometry/groupSpace';
import { decode, encode } from '../extensions/geometry-ldm/src/inference/latentOps';
import type { LoadedModel } from '../extensions/geometry-ldm/src/inference/modelSessions';
import { intensityParams } from '../extensions/geometry-ldm/src/model/manifest';
import { huToModel, modelToHu } from '../extensions/geometry-ldm/src/volume/intensity';
import { makeVolume, type Volume } from '../extensions/geometry-ldm/src/volume/volume';

export { generate } from '../extensions/geometry-ldm/src/inference/generate';
export { loadReference } from './bench/sr-quality-entry';

/** Encode + decode (the autoencoder's reconstruction) of an HU volume, in the scan-extent group space. */
export async function reconstruct(model: LoadedModel, hu: Volume): Promise<Volume> {
  const params = intensityParams(model.manifest);
  const x = huToModel(hu, params);
  const a = indexToGroup(hu.affine, scanExtentGroupSpace(hu.dims, hu.affine));
  const z = await encode(model, x.data, coordinateChannels(hu.dims, a), hu.dims);
  const f = model.manifest.latent.factor;
  const latentDims = hu.dims.map((n) => n / f) as unknown as Dims3;
  const img = await decode(model, z, latentDims, 1);
  return modelToHu(makeVolume(hu.dims, hu.affine, img, 'model'), params);
}

interface Gray {
  readonly w: number;
  readonly h: number;
  readonly px: Uint8Array;
}

const LO = -1000;
const HI = 500;
const MM_PER_PX = 1.5;

function toByte(hu: number): number {
  return Math.round(255 * Math.min(1, Math.max(0, (hu - LO) / (HI - LO))));
}

/** Nearest-neighbour sampling of a 2D plane at MM_PER_PX; `at(u, v)` reads voxel (u, v) of the plane. */
function plane(nu: number, nv: number, du: number, dv: number, at: (u: number, v: number) => number): Gray {
  const w = Math.max(1, Math.round((nu * du) / MM_PER_PX));
  const h = Math.max(1, Math.round((nv * dv) / MM_PER_PX));
  const px = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const u = Math.min(nu - 1, Math.floor((x * nu) / w));
      const v = Math.min(nv - 1, Math.floor((y * nv) / h));
      px[y * w + x] = toByte(at(u, v));
    }
  return { w, h, px };
}

/** Axial (k mid, rows down), coronal (j mid, head up), sagittal (i mid, head up). */
export function midSlices(v: Volume): Gray[] {
  const [nx, ny, nz] = v.dims;
  const [sx, sy, sz] = spacingOf(v.affine);
  const d = v.data;
  const idx = (i: number, j: number, k: number) => d[(k * ny + j) * nx + i];
  const ci = nx >> 1;
  const cj = ny >> 1;
  const ck = nz >> 1;
  return [
    plane(nx, ny, sx, sy, (i, j) => idx(i, j, ck)),
    plane(nx, nz, sx, sz, (i, k) => idx(i, cj, nz - 1 - k)),
    plane(ny, nz, sy, sz, (j, k) => idx(ci, j, nz - 1 - k)),
  ];
}

/** Rows of images on a black background with a gap. */
export function montage(rows: Gray[][], gap = 4): Gray {
  const w = Math.max(...rows.map((r) => r.reduce((s, g) => s + g.w + gap, -gap)));
  const h = rows.reduce((s, r) => s + Math.max(...r.map((g) => g.h)) + gap, -gap);
  const px = new Uint8Array(w * h);
  let y0 = 0;
  for (const r of rows) {
    let x0 = 0;
    for (const g of r) {
      for (let y = 0; y < g.h; y++) px.set(g.px.subarray(y * g.w, (y + 1) * g.w), (y0 + y) * w + x0);
      x0 += g.w + gap;
    }
    y0 += Math.max(...r.map((g) => g.h)) + gap;
  }
  return { w, h, px };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** 8-bit greyscale PNG. */
export function png(g: Gray): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(g.w, 0);
  ihdr.writeUInt32BE(g.h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((g.w + 1) * g.h);
  for (let y = 0; y < g.h; y++) raw.set(g.px.subarray(y * g.w, (y + 1) * g.w), y * (g.w + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Absolute error |a - b| rendered with white = 300 HU. */
export function errorVolume(a: Volume, b: Volume): Volume {
  const d = new Float32Array(a.data.length);
  for (let n = 0; n < d.length; n++)
    d[n] = LO + ((HI - LO) * Math.min(300, Math.abs(a.data[n] - b.data[n]))) / 300;
  return makeVolume(a.dims, a.affine, d, 'HU');
}
