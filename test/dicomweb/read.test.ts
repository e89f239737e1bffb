/**
 * Real series of ../shared/data through a real Orthanc (DICOMweb plugin,
 * authentication on): uploaded with UID repair, read back with readSeries,
 * compared voxel for voxel with the independent pydicom reader
 * (test/reference/read_series_reference.py).
 *
 * JPEG 2000 (totalseg-abdomen): pydicom here has no J2K decoder, so the
 * reference decodes those frames with the system OpenJPEG (libopenjp2 via
 * ctypes) while the product uses Cornerstone's OpenJPEG wasm: independent
 * builds and pipelines (fragment extraction, stored-value handling, rescale)
 * of the same library family.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyPoint, type Affine } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Vec3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
import { pooledCodecs } from '../../extensions/geometry-ldm/src/dicom/decodePool';
import { nodeDecodePool } from '../support/decodePool';
import { writeSyntheticStudy } from '../../extensions/geometry-ldm/src/dicom/writeSyntheticStudy';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';
import { searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import {
  readSeries,
  readSeriesLayout,
  readSeriesPixels,
} from '../../extensions/geometry-ldm/src/dicom/readSeries';
import {
  createFetchTransport,
  type DicomwebTransport,
} from '../../extensions/geometry-ldm/src/dicom/transport';
import { orthancCounts, orthancTransport } from '../support/dicomweb';
import { uploadCopy as uploadCopyTo, type RawDict } from '../support/uploadCopy';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference, sha256 } from '../support/reference';
import { ALL_REAL_SERIES, seedAll, seedSeries, seriesDir, type SeededSeries } from '../support/seed';

let orthanc: OrthancInstance;
let transport: DicomwebTransport;
let seeded: Record<string, SeededSeries>;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
  seeded = await seedAll(transport);
}, 180000);

afterAll(async () => {
  await orthanc?.stop();
});

/** Max distance between affine voxel positions and the slices' own IPP-based positions (corners of every slice: exact bound, the maps are linear in i, j). */
function maxPositionError(
  affine: Affine,
  ref: { ipp: number[] }[],
  dims: readonly number[],
  iop: number[],
  ps: number[],
): number {
  const X = iop.slice(0, 3);
  const Y = iop.slice(3, 6);
  let worst = 0;
  ref.forEach((s, k) => {
    for (const i of [0, dims[0] - 1]) {
      for (const j of [0, dims[1] - 1]) {
        const expected = [0, 1, 2].map((c) => s.ipp[c] + i * ps[1] * X[c] + j * ps[0] * Y[c]);
        const got = applyPoint(affine, [i, j, k] as Vec3);
        worst = Math.max(worst, Math.hypot(got[0] - expected[0], got[1] - expected[1], got[2] - expected[2]));
      }
    }
  });
  return worst;
}

describe('seeding', () => {
  test('every real series is stored, UIDs repaired only for totalseg-abdomen, and reseeding adds nothing', async () => {
    expect(Object.keys(seeded).sort()).toEqual([...ALL_REAL_SERIES].sort());
    for (const s of Object.values(seeded)) {
      expect(s.report.notStored).toEqual([]);
      expect(s.report.verified).toBe(true);
      expect(s.repaired).toBe(s.name === 'totalseg-abdomen');
    }
    const before = await orthancCounts(orthanc);
    expect(before.instances).toBe(133 + 64 + 30 + 28 + 20);
    const again = await seedSeries(transport, 'totalseg-abdomen');
    expect(again.studyInstanceUid).toBe(seeded['totalseg-abdomen'].studyInstanceUid);
    expect(again.seriesInstanceUid).toBe(seeded['totalseg-abdomen'].seriesInstanceUid);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('QIDO finds the studies and series', async () => {
    const studies = await searchStudies(transport);
    expect(studies.map((s) => s.studyInstanceUid).sort()).toEqual(
      [...new Set(Object.values(seeded).map((s) => s.studyInstanceUid))].sort(),
    );
    const lidc = seeded['lidc-idri-0001'];
    const series = await searchSeries(transport, lidc.studyInstanceUid);
    expect(series.map((s) => s.seriesInstanceUid)).toContain(lidc.seriesInstanceUid);
    expect(series.find((s) => s.seriesInstanceUid === lidc.seriesInstanceUid)?.modality).toBe('CT');
  });
});

describe.each(['lidc-idri-0001', 'lung-pet-ct-dx-a0001', 'lung-pet-ct-dx-a0002', 'totalseg-abdomen'])(
  'read %s',
  (name) => {
    test('matches the independent reader voxel for voxel, geometry within 0.01 mm', async () => {
      const s = seeded[name];
      const ref = readReference(s.dir);
      const result = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid);
      const { volume } = result;
      expect(volume.unit).toBe('HU');
      expect(volume.dims).toEqual(ref.dims);
      expect(result.transferSyntaxUids).toEqual([ref.transferSyntax]);
      // slice order: the same files (SOP UIDs) in the same order along the normal
      const fileBySop = new Map(s.files.map((f) => [f.sopInstanceUid, f.file.split('/').pop()]));
      expect(result.instances.map((h) => fileBySop.get(h.sopInstanceUid!))).toEqual(
        ref.slices.map((x) => x.file),
      );
      // voxel values: per-slice SHA-256 of float32 HU
      const [nx, ny, nz] = volume.dims;
      const sliceHashes = Array.from({ length: nz }, (_, k) =>
        sha256(volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
      );
      expect(sliceHashes).toEqual(ref.sliceSha256);
      expect(sha256(volume.data)).toBe(ref.volumeSha256);
      // geometry
      expect(
        maxPositionError(volume.affine, ref.slices, volume.dims, ref.iop, ref.pixelSpacing),
      ).toBeLessThan(0.01);
      expect(result.geometry.resampled).toBe(false);
      // the default fetched every instance in one series-level request; frame by frame, with
      // compressed frames decoded by the worker pool, gives the same voxels
      expect(result.retrieval).toBe('series');
      const pool = nodeDecodePool(2);
      try {
        const pooled = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid, {
          codecs: pooledCodecs(pool, defaultCodecs()),
          retrieval: 'frames',
        });
        expect(pooled.retrieval).toBe('frames');
        expect(sha256(pooled.volume.data)).toBe(ref.volumeSha256);
      } finally {
        pool.close();
      }
    });
  },
);

/** Gaps along the normal between the reference reader's sorted slices (mm). */
function referenceGaps(ref: { iop: number[]; slices: { ipp: number[] }[] }): number[] {
  const [a, b, c, d, e, f] = ref.iop;
  const n = [b * f - c * e, c * d - a * f, a * e - b * d];
  const dist = ref.slices.map((s) => s.ipp[0] * n[0] + s.ipp[1] * n[1] + s.ipp[2] * n[2]);
  return dist.slice(1).map((x, k) => x - dist[k]);
}

/** `files` re-identified into a new series (their pixel data untouched unless `edit` changes it). */
const uploadCopy = (files: readonly string[], edit?: (dict: RawDict, n: number) => void) =>
  uploadCopyTo(transport, files, edit);

/** The reference reader on a copy of just these files. */
function referenceOf(files: readonly string[]): ReturnType<typeof readReference> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ref-subset-'));
  for (const f of files) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  try {
    return readReference(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Files of a real series in the reference reader's order along the normal. */
function sortedFiles(name: 'lung-pet-ct-dx-a0002'): string[] {
  const dir = seriesDir(name);
  return readReference(dir).slices.map((x) => path.join(dir, x.file));
}

describe('pixel module per instance (BitsStored / HighBit / rescale differ between instances)', () => {
  test.each([0, 1])(
    'slice %i stored with 16 bits (shifted values, compensating intercept), the others 12 bits with junk above: HU equal the original files',
    async (wide) => {
      const files = sortedFiles('lung-pet-ct-dx-a0002').slice(10, 14);
      const ref = referenceOf(files);
      const { study, series } = await uploadCopy(files, (dict, n) => {
        expect(dict['00280101'].Value![0]).toBe(12);
        const px = new Uint16Array(dict['7FE00010'].Value![0] as ArrayBuffer);
        if (n === wide) {
          // values need all 16 bits now: BitsStored 16 and the intercept lowered by the same amount
          for (let i = 0; i < px.length; i++) px[i] = (px[i] & 0x0fff) + 0x2000;
          dict['00280101'] = { vr: 'US', Value: [16] };
          dict['00280102'] = { vr: 'US', Value: [15] };
          dict['00281052'] = { vr: 'DS', Value: [Number(dict['00281052'].Value![0]) - 0x2000] };
        } else {
          // bits above BitsStored are not part of the value (PS3.5 8.1.1): junk there must be ignored
          for (let i = 0; i < px.length; i++) px[i] = (px[i] & 0x0fff) | (n % 2 ? 0x4000 : 0x8000);
        }
      });
      const r = await readSeries(transport, study, series);
      expect(r.instances.map((h) => h.bitsStored)).toEqual([0, 1, 2, 3].map((n) => (n === wide ? 16 : 12)));
      const [nx, ny, nz] = r.volume.dims;
      const hashes = Array.from({ length: nz }, (_, k) =>
        sha256(r.volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
      );
      expect(hashes).toEqual(ref.sliceSha256);
    },
  );
});

describe('gantry tilt and non-uniform spacing (ge-head-gantry-tilt)', () => {
  test("default 'error': gantry-tilt (the stack is also non-uniform: both in the details), no volume", async () => {
    const s = seeded['ge-head-gantry-tilt'];
    const ref = readReference(s.dir);
    const err = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid).catch((e) => e);
    expect(err).toBeInstanceOf(DicomError);
    expect(err.code).toBe('gantry-tilt');
    expect(err.message).toMatch(/gantry tilt of 18\.\d\d degrees and non-uniform spacing/);
    expect(err.details.tiltDeg).toBeGreaterThan(18);
    expect(err.details.tiltDeg).toBeLessThan(19);
    expect(err.details.nonUniform).toBe(true);
    const gaps = referenceGaps(ref);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(5);
    expect(err.details.gapsMm).toHaveLength(gaps.length);
    (err.details.gapsMm as number[]).forEach((g, n) => expect(Math.abs(g - gaps[n])).toBeLessThan(1e-4));
  });

  test("non-uniform only (one slice of a real 8 mm series moved 3 mm along the normal): non-uniform-spacing; 'resample' reads it", async () => {
    const files = sortedFiles('lung-pet-ct-dx-a0002').slice(0, 6);
    const { study, series } = await uploadCopy(files, (dict, n) => {
      if (n !== 3) return;
      const ipp = (dict['00200032'].Value as (string | number)[]).map(Number);
      dict['00200032'] = { vr: 'DS', Value: [ipp[0], ipp[1], ipp[2] + 3] }; // axial: the normal is z
    });
    const err = await readSeries(transport, study, series).catch((e) => e);
    expect(err).toBeInstanceOf(DicomError);
    expect(err.code).toBe('non-uniform-spacing');
    expect(err.details.nonUniform).toBe(true);
    expect(err.details.tiltDeg).toBeLessThan(0.01);
    expect([...(err.details.gapsMm as number[])].map((g) => Math.round(g)).sort()).toEqual(
      [11, 5, 8, 8, 8].sort(),
    );
    const r = await readSeries(transport, study, series, { irregular: 'resample' });
    expect(r.geometry.resampled).toBe(true);
    expect(r.geometry.bridgedGaps).toEqual([]);
  });

  test("one slice left out (a 16 mm hole in an 8 mm series): slice-gap; 'resample' reads it only with bridgeGaps", async () => {
    const files = sortedFiles('lung-pet-ct-dx-a0002').slice(0, 6);
    files.splice(3, 1);
    const gaps = referenceGaps(referenceOf(files));
    expect(Math.max(...gaps) / Math.min(...gaps)).toBeGreaterThan(1.9);
    const { study, series } = await uploadCopy(files);
    for (const irregular of ['error', 'resample'] as const) {
      const err = await readSeries(transport, study, series, { irregular }).catch((e) => e);
      expect(err.code).toBe('slice-gap');
    }
    const r = await readSeries(transport, study, series, { irregular: 'resample', bridgeGaps: true });
    expect(r.geometry.resampled).toBe(true);
    expect(r.geometry.bridgedGaps).toHaveLength(1);
  });

  test("tilted but uniform (a sheared synthetic stack): gantry-tilt with the tilt angle; 'resample' reads it", async () => {
    // k steps 2 mm along the normal and 1 mm along the column direction: tilt atan(1/2)
    const affine = [1, 0, 0, -10, 0, 1, 1, -10, 0, 0, 2, 30, 0, 0, 0, 1];
    const volume = makeVolume([16, 16, 5], affine, new Float32Array(16 * 16 * 5).fill(100), 'HU');
    const generation = {
      grid: [16, 16, 5],
      spacingMm: [1, 1, 2],
      fov: null,
      rotationDeg: [0, 0, 0],
      seed: 1,
      sampler: 'ddim',
      model: { name: 'tilt-test', version: '0' },
    };
    const w = await writeSyntheticStudy(transport, { volume, generation });
    const err = await readSeries(transport, w.studyInstanceUid, w.seriesInstanceUid).catch((e) => e);
    expect(err).toBeInstanceOf(DicomError);
    expect(err.code).toBe('gantry-tilt');
    expect(err.details.nonUniform).toBe(false);
    expect(Math.abs(err.details.tiltDeg - (Math.atan(1 / 2) * 180) / Math.PI)).toBeLessThan(1e-3);
    const r = await readSeries(transport, w.studyInstanceUid, w.seriesInstanceUid, { irregular: 'resample' });
    expect(r.geometry.resampled).toBe(true);
    expect(r.geometry.report.tilted).toBe(true);
  });

  test("'resample': a regular orthogonal grid whose first slice equals the first stored slice", async () => {
    const s = seeded['ge-head-gantry-tilt'];
    const ref = readReference(s.dir, true);
    const result = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid, {
      irregular: 'resample',
    });
    expect(result.geometry.resampled).toBe(true);
    expect(result.geometry.report.tilted).toBe(true);
    expect(result.geometry.report.tiltDeg).toBeGreaterThan(18);
    expect(result.geometry.report.tiltDeg).toBeLessThan(19);
    const v = result.volume;
    // orthogonal axes along X, Y, N
    const a = v.affine;
    const col = (c: number): Vec3 => [a[c], a[4 + c], a[8 + c]];
    const dotp = (p: Vec3, q: Vec3): number => p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    expect(Math.abs(dotp(col(0), col(2)))).toBeLessThan(1e-9);
    expect(Math.abs(dotp(col(1), col(2)))).toBeLessThan(1e-9);
    // target slice 0 lies in source slice 0's plane, on its pixel lattice: exact values where covered
    const [sx, sy] = [ref.dims[0], ref.dims[1]];
    const first = ref.slices[0].ipp;
    // index of source pixel (0,0) of slice 0 in the target grid
    const X: Vec3 = [ref.iop[0], ref.iop[1], ref.iop[2]];
    const Y: Vec3 = [ref.iop[3], ref.iop[4], ref.iop[5]];
    const o: Vec3 = [a[3], a[7], a[11]];
    const di = Math.round(dotp([first[0] - o[0], first[1] - o[1], first[2] - o[2]], X) / ref.pixelSpacing[1]);
    const dj = Math.round(dotp([first[0] - o[0], first[1] - o[1], first[2] - o[2]], Y) / ref.pixelSpacing[0]);
    let maxDiff = 0;
    for (let j = 0; j < sy; j += 7) {
      for (let i = 0; i < sx; i += 7) {
        const got = v.data[(j + dj) * v.dims[0] + (i + di)];
        maxDiff = Math.max(maxDiff, Math.abs(got - ref.raw![j * sx + i]));
      }
    }
    expect(maxDiff).toBeLessThan(1e-3);
    // the target covers the stack from the first to the last slice plane
    const lastK = v.dims[2] - 1;
    const lastCentre = applyPoint(a, [0, 0, lastK]);
    const n = col(2).map((x) => x / Math.hypot(...col(2))) as unknown as Vec3;
    const lastRef = ref.slices[ref.slices.length - 1].ipp as Vec3;
    expect(Math.abs(dotp(lastCentre, n) - dotp(lastRef, n))).toBeLessThan(
      v.dims[2] > 1 ? Math.hypot(...col(2)) : 1,
    );
  });
});

describe('reader errors', () => {
  test('wrong credentials: pacs-unauthorized', async () => {
    const bad = createFetchTransport({
      root: orthanc.dicomWebRoot,
      headers: { Authorization: 'Basic ' + Buffer.from('x:y').toString('base64') },
    });
    const s = seeded['lidc-idri-0001'];
    await expect(readSeries(bad, s.studyInstanceUid, s.seriesInstanceUid)).rejects.toMatchObject({
      code: 'pacs-unauthorized',
    });
  });

  test('unknown series: not-found', async () => {
    const s = seeded['lidc-idri-0001'];
    const err = await readSeries(transport, s.studyInstanceUid, '1.2.3.4.5').catch((e) => e);
    expect(err).toBeInstanceOf(DicomError);
    expect(err.code).toBe('not-found');
  });
});

describe('reading only a slab of slices', () => {
  test('slices 20..35 of lidc-idri-0001: only their frames are fetched; voxel-identical to the same slab of a full read', async () => {
    const s = seeded['lidc-idri-0001'];
    const full = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid);
    const frames: string[] = [];
    const counting: DicomwebTransport = {
      request: (req) => {
        if (/\/frames\/\d+$/.test(req.path)) frames.push(req.path);
        return transport.request(req);
      },
    };
    const layout = await readSeriesLayout(counting, s.studyInstanceUid, s.seriesInstanceUid);
    const slab = await readSeriesPixels(counting, layout, { slab: { start: 20, count: 16 } });
    expect(frames).toHaveLength(16);
    const [nx, ny] = full.volume.dims;
    expect(slab.volume.dims).toEqual([nx, ny, 16]);
    expect(Array.from(slab.volume.data)).toEqual(
      Array.from(full.volume.data.subarray(20 * nx * ny, 36 * nx * ny)),
    );
    // the slab's voxel (i, j, 0) is the full volume's (i, j, 20)
    const p = applyPoint(slab.volume.affine as Affine, [3, 5, 0]);
    const q = applyPoint(full.volume.affine as Affine, [3, 5, 20]);
    p.forEach((x, n) => expect(x).toBeCloseTo(q[n], 9));
    expect(slab.instances.map((h) => h.sopInstanceUid)).toEqual(
      full.instances.slice(20, 36).map((h) => h.sopInstanceUid),
    );
    await expect(
      readSeriesPixels(counting, layout, { slab: { start: 130, count: 16 } }),
    ).rejects.toMatchObject({
      code: 'invalid-input',
    });
  });
});
