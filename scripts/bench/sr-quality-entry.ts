/**
 * Bench entry for super-resolution quality (bundled by scripts/bench.mjs; the sets, cases,
 * options and the table are described in sr-quality.mjs). The truths it loads: Part 10 files
 * (`loadDicomTruth`, lidc-idri-0001), NIfTI scans (`loadNiftiTruth`, the held-out and
 * validation scans of ../shared/data/train or your own), and folders of DICOM series stored
 * in a private Orthanc and read back through the product's `readSeries` (`readPacsTruths`, the
 * dicom-unseen set and your own folders). `reslice` turns a truth into sagittal or coronal
 * slices; `degrade` coarsens it with a known acquisition (volume/acquisition.ts, whole truth
 * voxels per sample; `degradeProblem` says why a case cannot be made), the pipeline
 * super-resolves it back onto the truth grid, and `score` / `stdErrorCorrelation` compare
 * every image with the truth.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import dcmjs from 'dcmjs';
import {
  compose,
  scaling,
  translation,
  type Affine,
} from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { regularGeometry, spacingOf } from '../../extensions/geometry-ldm/src/geometry/dicomGeometry';
import {
  Acquisition,
  type AxisAcquisition,
  type SliceProfile,
} from '../../extensions/geometry-ldm/src/volume/acquisition';
import { crop } from '../../extensions/geometry-ldm/src/volume/pad';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
import type { EmscriptenFactory } from '../../extensions/geometry-ldm/src/dicom/codecs/emscriptenCodec';
import type { OpenJpegModule } from '../../extensions/geometry-ldm/src/dicom/codecs/openjpeg';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { orthancTransport } from '../../test/support/dicomweb';
import { startOrthanc } from '../../test/support/orthanc';
import { prepareImport } from '../../extensions/geometry-ldm/src/dicom/importFiles';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';

export { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
export {
  autoSliceModel,
  describeSliceModel,
} from '../../extensions/geometry-ldm/src/volume/seriesAcquisition';

const AIR = -1024;

/** lidc-idri-0001 at native resolution (0.70 x 0.70 x 2.5 mm), the central `inPlane` x `inPlane` columns/rows. */
export function loadDicomTruth(dir: string, inPlane: number): Volume {
  const slices = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.endsWith('.md') && !f.endsWith('.json'))
    .map((f) => {
      const buf = readFileSync(join(dir, f));
      const parsed = dcmjs.data.DicomMessage.readFile(
        buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
      );
      return { ds: dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict), file: f };
    })
    .filter((s) => s.ds.PixelData !== undefined);
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
  const x0 = Math.floor((cols - inPlane) / 2);
  const y0 = Math.floor((rows - inPlane) / 2);
  const nz = slices.length;
  const data = new Float32Array(inPlane * inPlane * nz);
  for (let k = 0; k < nz; k++) {
    const ds = slices[g.stack.order[k]].ds;
    const raw = (ds.PixelData as ArrayBuffer[])[0];
    const px = ds.PixelRepresentation === 1 ? new Int16Array(raw) : new Uint16Array(raw);
    const slope = Number(ds.RescaleSlope ?? 1);
    const intercept = Number(ds.RescaleIntercept ?? 0);
    for (let j = 0; j < inPlane; j++)
      for (let i = 0; i < inPlane; i++)
        data[(k * inPlane + j) * inPlane + i] = Math.max(
          AIR,
          px[(y0 + j) * cols + x0 + i] * slope + intercept,
        );
  }
  return makeVolume([inPlane, inPlane, nz], compose(g.affine, translation([x0, y0, 0])), data, 'HU');
}

/** A NIfTI-1 file (.nii or .nii.gz, sform affine, RAS) as an LPS volume in HU. */
export function loadNiftiTruth(path: string): Volume {
  let buf = readFileSync(path);
  if (path.endsWith('.gz')) buf = gunzipSync(buf);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getInt32(0, true) !== 348) throw new Error(`${path}: not a little-endian NIfTI-1 file`);
  const dims: Dims3 = [v.getInt16(42, true), v.getInt16(44, true), v.getInt16(46, true)];
  const datatype = v.getInt16(70, true);
  if (v.getInt16(254, true) <= 0) throw new Error(`${path}: no sform affine`);
  const row = (o: number) => [0, 1, 2, 3].map((c) => v.getFloat32(o + 4 * c, true));
  const [sx, sy, sz] = [row(280), row(296), row(312)];
  // LPS = diag(-1, -1, 1) RAS
  const affine: Affine = [...sx.map((x) => -x), ...sy.map((y) => -y), ...sz, 0, 0, 0, 1];
  const offset = Math.max(352, Math.round(v.getFloat32(108, true)));
  const n = dims[0] * dims[1] * dims[2];
  const slope = v.getFloat32(112, true);
  const inter = v.getFloat32(116, true);
  const scale = Number.isFinite(slope) && slope !== 0 ? slope : 1;
  const add = Number.isFinite(slope) && slope !== 0 && Number.isFinite(inter) ? inter : 0;
  const data = new Float32Array(n);
  const read: Record<number, (q: number) => number> = {
    4: (q) => v.getInt16(offset + 2 * q, true),
    8: (q) => v.getInt32(offset + 4 * q, true),
    16: (q) => v.getFloat32(offset + 4 * q, true),
    512: (q) => v.getUint16(offset + 2 * q, true),
  };
  const get = read[datatype];
  if (!get) throw new Error(`${path}: NIfTI datatype ${datatype} not supported here`);
  for (let q = 0; q < n; q++) data[q] = Math.max(AIR, get(q) * scale + add);
  return makeVolume(dims, affine, data, 'HU');
}

/**
 * Real DICOM series (a folder of Part 10 files each) read as the product reads a source series:
 * stored in a private Orthanc (UIDs repaired where the files lack them, as an import does) and read back over DICOMweb by
 * readSeries, an irregular or tilted stack resampled exactly onto a regular grid (what the panel
 * and the CLI do), then the central `inPlane` x `inPlane` columns/rows; values below -1024 HU
 * (padding outside the reconstruction circle) become -1024, as in the other truths. `openjpeg`:
 * the Cornerstone JPEG 2000 decoder's factory (a bundle cannot require it itself).
 */
export async function readPacsTruths(
  folders: readonly { readonly name: string; readonly dir: string }[],
  inPlane: number,
  openjpeg: EmscriptenFactory<OpenJpegModule>,
  log: (line: string) => void = () => {},
): Promise<{ name: string; volume: Volume; resampled: boolean }[]> {
  const orthanc = await startOrthanc();
  try {
    const transport = orthancTransport(orthanc);
    const out: { name: string; volume: Volume; resampled: boolean }[] = [];
    for (const { name, dir } of folders) {
      const files = readdirSync(dir)
        .filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile())
        .sort();
      const { instances } = prepareImport(
        files.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) })),
        'sr-quality',
      );
      // a folder may hold several series: the one with the most instances is the truth
      const bySeries = new Map<string, typeof instances>();
      for (const i of instances) {
        const list = bySeries.get(i.seriesInstanceUid);
        if (list) list.push(i);
        else bySeries.set(i.seriesInstanceUid, [i]);
      }
      const series = [...bySeries.values()].sort((a, b) => b.length - a.length)[0];
      if (bySeries.size > 1)
        log(`${name}: ${bySeries.size} series in ${dir}; using the largest (${series.length} instances)`);
      await stowInstances(transport, series);
      const r = await readSeries(transport, series[0].studyInstanceUid, series[0].seriesInstanceUid, {
        irregular: 'resample',
        codecs: defaultCodecs({ openjpeg: { factory: async () => openjpeg } }),
      });
      const [nx, ny, nz] = r.volume.dims;
      const w = Math.min(inPlane, nx);
      const h = Math.min(inPlane, ny);
      const c = crop(r.volume, {
        start: [Math.floor((nx - w) / 2), Math.floor((ny - h) / 2), 0],
        dims: [w, h, nz],
      });
      const data = Float32Array.from(c.data, (x) => Math.max(AIR, x));
      out.push({ name, volume: makeVolume(c.dims, c.affine, data, 'HU'), resampled: r.geometry.resampled });
    }
    return out;
  } finally {
    await orthanc.stop();
  }
}

/**
 * The truth re-sliced so that its slices are taken across another index axis (the scans here are
 * axial, so i runs left-right and j front-back): 'sagittal' makes i the slice axis k, 'coronal'
 * makes j the slice axis, 'axial' keeps the volume. The voxels and their patient positions are
 * unchanged; only the index order (and so which axis a degradation's third factor coarsens) moves,
 * as in a sagittal or coronal reformat.
 */
export function reslice(v: Volume, orientation: 'axial' | 'sagittal' | 'coronal'): Volume {
  if (orientation === 'axial') return v;
  // new axis a reads old axis from[a]
  const from = orientation === 'sagittal' ? [1, 2, 0] : [0, 2, 1];
  const dims = from.map((a) => v.dims[a]) as unknown as Dims3;
  const stride = [1, v.dims[0], v.dims[0] * v.dims[1]];
  const s = from.map((a) => stride[a]);
  const data = new Float32Array(v.data.length);
  let q = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) data[q++] = v.data[i * s[0] + j * s[1] + k * s[2]];
  // affine columns follow their axes (row-major 4 x 4)
  const m = [...v.affine];
  for (let r = 0; r < 3; r++) for (let a = 0; a < 3; a++) m[4 * r + a] = v.affine[4 * r + from[a]];
  return makeVolume(dims, m, data, v.unit);
}

/** Largest n' <= n with n' / f a whole number (f may be fractional: 2.5, 5/3). */
function wholeSamples(n: number, f: number): number {
  for (let m = n; m > 0; m--) if (Math.abs(m / f - Math.round(m / f)) < 1e-6) return m;
  throw new Error(`no crop of ${n} voxels holds whole ${f}-voxel samples`);
}

/** Why `degrade` cannot take these factors (one below 1, none above 1, or an axis with no whole number of samples), or null. */
export function degradeProblem(full: Volume, axes: readonly AxisDegradation[]): string | null {
  const f = axes.map((d) => d.factor);
  if (f.some((x) => x < 1 - 1e-6))
    return `a factor below 1 (${f.map((x) => +x.toFixed(3)).join(', ')}): the scan is already coarser than that`;
  if (f.every((x) => Math.abs(x - 1) < 1e-6)) return 'no axis coarsened: the scan already has that spacing';
  for (let a = 0; a < 3; a++) {
    try {
      wholeSamples(full.dims[a], axes[a].factor);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return null;
}

export interface AxisDegradation {
  /** Acquired spacing / truth spacing. */
  readonly factor: number;
  readonly profile: SliceProfile;
}

export interface DegradedCase {
  readonly truth: Volume;
  /** The acquired series, its affine placing sample centres exactly. */
  readonly low: Volume;
  /** What a DICOM header of the acquired series would say. */
  readonly sliceThicknessMm: number;
  readonly trueProfile: SliceProfile;
}

/**
 * Crops the truth so each axis holds whole samples, then acquires it: sample s of axis a is
 * centred at truth index (f - 1) / 2 + s f and weighs the truth with its profile (width or FWHM f).
 */
export function degrade(
  full: Volume,
  axes: readonly [AxisDegradation, AxisDegradation, AxisDegradation],
): DegradedCase {
  const dims = full.dims.map((n, a) => wholeSamples(n, axes[a].factor)) as unknown as Dims3;
  const start = full.dims.map((n, a) => Math.floor((n - dims[a]) / 2));
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++) {
      const src = ((k + start[2]) * full.dims[1] + j + start[1]) * full.dims[0] + start[0];
      data.set(full.data.subarray(src, src + dims[0]), (k * dims[1] + j) * dims[0]);
    }
  const truth = makeVolume(dims, compose(full.affine, translation(start as unknown as Dims3)), data, 'HU');
  const acqAxes = axes.map((d, a): AxisAcquisition => ({
    count: Math.round(dims[a] / d.factor),
    first: (d.factor - 1) / 2,
    spacing: d.factor,
    profile: d.profile,
    width: d.factor,
  })) as unknown as [AxisAcquisition, AxisAcquisition, AxisAcquisition];
  const acq = new Acquisition(dims, acqAxes);
  const f = axes.map((d) => d.factor) as unknown as Dims3;
  const low = makeVolume(
    acq.acquiredDims,
    compose(truth.affine, translation(f.map((x) => (x - 1) / 2) as unknown as Dims3), scaling(f)),
    acq.forward(truth.data),
    'HU',
  );
  return {
    truth,
    low,
    sliceThicknessMm: axes[2].factor * spacingOf(truth.affine)[2],
    trueProfile: axes[2].profile,
  };
}

export interface Scores {
  readonly maeHu: number;
  readonly psnrDb: number;
}

/** MAE (HU) and PSNR (peak 2000 HU) over the body: voxels whose truth is above -900 HU. */
export function score(truth: Float32Array, test: Float32Array): Scores {
  let abs = 0;
  let sq = 0;
  let n = 0;
  for (let q = 0; q < truth.length; q++) {
    if (!(truth[q] > -900)) continue;
    const d = test[q] - truth[q];
    abs += Math.abs(d);
    sq += d * d;
    n++;
  }
  return { maeHu: abs / n, psnrDb: 10 * Math.log10((2000 * 2000) / (sq / n)) };
}

/** Pearson r between the std map and |mean - truth| over the body voxels. */
export function stdErrorCorrelation(truth: Float32Array, mean: Float32Array, std: Float32Array): number {
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let n = 0;
  for (let q = 0; q < truth.length; q++) {
    if (!(truth[q] > -900)) continue;
    const x = std[q];
    const y = Math.abs(mean[q] - truth[q]);
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
    n++;
  }
  const cov = sxy - (sx * sy) / n;
  return cov / Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
}

/**
 * The model-card reference (scripts/model-card-images.mjs): lidc-idri-0001 with each `block` x
 * `block` in-plane block averaged and its central `nz` slices.
 */
export function loadReference(dir: string, block: number, nz: number): Volume {
  const full = loadDicomTruth(dir, 512);
  const z0 = Math.floor((full.dims[2] - nz) / 2);
  if (z0 < 0) throw new RangeError(`the scan has ${full.dims[2]} slices, fewer than ${nz}`);
  const sub = crop(full, { start: [0, 0, z0], dims: [full.dims[0], full.dims[1], nz] });
  const box = { factor: block, profile: 'box' as const };
  return degrade(sub, [box, box, { factor: 1, profile: 'box' }]).low;
}
