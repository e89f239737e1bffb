/**
 * Bench entry for super-resolution quality on the held-out scan (bundled by
 * scripts/bench.mjs). Reads lidc-idri-0001 straight from its Part 10 files,
 * builds the reference volume, the degraded inputs, and scores the SR mean
 * and the trilinear baseline against the reference.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { compose, scaling, translation } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { regularGeometry } from '../../extensions/geometry-ldm/src/geometry/dicomGeometry';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';

export { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';

interface Slice {
  readonly ds: Record<string, unknown>;
  readonly file: string;
}

function readSlices(dir: string): Slice[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.endsWith('.md') && !f.endsWith('.json'))
    .map((f) => {
      const buf = readFileSync(join(dir, f));
      const parsed = dcmjs.data.DicomMessage.readFile(
        buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
      );
      return { ds: dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict), file: f };
    })
    .filter((s) => s.ds.PixelData !== undefined);
}

/**
 * The reference: the scan with each 4x4 in-plane block averaged (area
 * average, 0.70 mm -> 2.81 mm) and the central `nz` slices kept (2.5 mm).
 * Padding outside the reconstruction circle (-2048) counts as air (-1024).
 */
export function loadReference(dir: string, block: number, nz: number): Volume {
  const slices = readSlices(dir);
  const g = regularGeometry(
    slices.map((s) => ({
      imagePositionPatient: s.ds.ImagePositionPatient as number[],
      imageOrientationPatient: s.ds.ImageOrientationPatient as number[],
      pixelSpacing: s.ds.PixelSpacing as number[],
      rows: s.ds.Rows as number,
      columns: s.ds.Columns as number,
      id: s.file,
    })),
  );
  const rows = slices[0].ds.Rows as number;
  const cols = slices[0].ds.Columns as number;
  const nx = Math.floor(cols / block);
  const ny = Math.floor(rows / block);
  const z0 = Math.floor((slices.length - nz) / 2);
  if (z0 < 0) throw new RangeError(`the scan has ${slices.length} slices, fewer than ${nz}`);
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    const ds = slices[g.stack.order[z0 + k]].ds;
    const raw = (ds.PixelData as ArrayBuffer[])[0];
    const px = ds.PixelRepresentation === 1 ? new Int16Array(raw) : new Uint16Array(raw);
    const slope = Number(ds.RescaleSlope ?? 1);
    const intercept = Number(ds.RescaleIntercept ?? 0);
    for (let j = 0; j < ny * block; j++)
      for (let i = 0; i < nx * block; i++) {
        const hu = Math.max(-1024, px[j * cols + i] * slope + intercept);
        data[(k * ny + Math.floor(j / block)) * nx + Math.floor(i / block)] += hu / (block * block);
      }
  }
  const c = (block - 1) / 2;
  return makeVolume(
    [nx, ny, nz],
    compose(g.affine, translation([c, c, z0]), scaling([block, block, 1])),
    data,
    'HU',
  );
}

/** Block mean by integer factors per axis (a thick-slice / low-resolution acquisition), with its exact affine. */
export function blockMean(v: Volume, f: Dims3): Volume {
  const [nx, ny, nz] = v.dims;
  const dims: Dims3 = [Math.floor(nx / f[0]), Math.floor(ny / f[1]), Math.floor(nz / f[2])];
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  const w = 1 / (f[0] * f[1] * f[2]);
  for (let k = 0; k < dims[2] * f[2]; k++)
    for (let j = 0; j < dims[1] * f[1]; j++)
      for (let i = 0; i < dims[0] * f[0]; i++) {
        const o = (Math.floor(k / f[2]) * dims[1] + Math.floor(j / f[1])) * dims[0] + Math.floor(i / f[0]);
        out[o] += v.data[(k * ny + j) * nx + i] * w;
      }
  const affine = compose(v.affine, translation(f.map((x) => (x - 1) / 2) as unknown as Dims3), scaling(f));
  return makeVolume(dims, affine, out, 'HU');
}

export interface Scores {
  readonly maeHu: number;
  readonly psnrDb: number;
}

/** MAE and PSNR inside the model's HU window [lo, hi] (both images clipped to it; peak = hi - lo). */
export function score(ref: Float32Array, test: Float32Array, lo: number, hi: number): Scores {
  let abs = 0;
  let sq = 0;
  for (let n = 0; n < ref.length; n++) {
    const d = Math.min(hi, Math.max(lo, test[n])) - Math.min(hi, Math.max(lo, ref[n]));
    abs += Math.abs(d);
    sq += d * d;
  }
  const mse = sq / ref.length;
  return { maeHu: abs / ref.length, psnrDb: 10 * Math.log10(((hi - lo) * (hi - lo)) / mse) };
}

/** Pearson correlation between the std map and the absolute error of the mean (clipped to the window). */
export function stdErrorCorrelation(
  ref: Float32Array,
  mean: Float32Array,
  std: Float32Array,
  lo: number,
  hi: number,
): number {
  const n = ref.length;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let q = 0; q < n; q++) {
    const x = std[q];
    const y = Math.abs(Math.min(hi, Math.max(lo, mean[q])) - Math.min(hi, Math.max(lo, ref[q])));
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  const cov = sxy - (sx * sy) / n;
  return cov / Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
}
