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
import { applyPoint, type Affine } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Vec3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import {
  createFetchTransport,
  type DicomwebTransport,
} from '../../extensions/geometry-ldm/src/dicom/transport';
import { orthancCounts, orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference, sha256 } from '../support/reference';
import { ALL_REAL_SERIES, seedAll, seedSeries, type SeededSeries } from '../support/seed';

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
    });
  },
);

describe('gantry tilt and non-uniform spacing (ge-head-gantry-tilt)', () => {
  test("default 'error': a typed error, no volume", async () => {
    const s = seeded['ge-head-gantry-tilt'];
    const err = await readSeries(transport, s.studyInstanceUid, s.seriesInstanceUid).catch((e) => e);
    expect(err).toBeInstanceOf(DicomError);
    expect(['non-uniform-spacing', 'gantry-tilt']).toContain(err.code);
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
    await expect(readSeries(transport, s.studyInstanceUid, '1.2.3.4.5')).rejects.toBeInstanceOf(DicomError);
  });
});
