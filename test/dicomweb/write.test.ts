/**
 * Writing: a super-resolution result (+ its std map) as derived series in the
 * source's study and frame of reference, and a generated volume as a new
 * synthetic study, through a real Orthanc; read back with readSeries and
 * compared (values within half a rescale step, patient position of every voxel
 * within 0.01 mm). The instances Orthanc holds are also read independently
 * (files from Orthanc's REST API, geometry and values by pydicom in
 * test/reference/written_geometry_reference.py) and compared with the intended
 * volume, including non-square PixelSpacing and oblique orientations, so a
 * row/column swap made consistently in writer and reader cannot pass.
 * Every instance sent is validated with dciodvfy.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  applyPoint,
  compose,
  fromColumns,
  rotationEulerDeg,
  type Affine,
} from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3, Vec3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { resample } from '../../extensions/geometry-ldm/src/volume/resample';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { items, str, strs } from '../../extensions/geometry-ldm/src/dicom/dicomJson';
import { parseMultipart } from '../../extensions/geometry-ldm/src/dicom/multipart';
import { retrieveSeriesMetadata, searchInstances } from '../../extensions/geometry-ldm/src/dicom/qido';
import { readSeries, type ReadSeriesResult } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { writeDerivedSeries } from '../../extensions/geometry-ldm/src/dicom/writeDerivedSeries';
import {
  SYNTHETIC_PATIENT_NAME,
  writeSyntheticStudy,
} from '../../extensions/geometry-ldm/src/dicom/writeSyntheticStudy';
import { dciodvfy } from '../support/dciodvfy';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { SYSTEM_PYTHON } from '../support/reference';
import { seedSeries, type SeededSeries } from '../support/seed';

/**
 * dciodvfy warnings accepted, each with its justification. Anything else (and
 * any error) fails the test.
 */
const ACCEPTED_WARNINGS: { pattern: RegExp; why: string }[] = [
  {
    pattern: /empty when actually unknown.*<Laterality>/,
    why: 'synthetic study: no body part is known, so whether it is paired is genuinely unknown (Type 2C, empty)',
  },
  {
    pattern: /needed to build DICOMDIR - Study ID/,
    why: "derived series: StudyID is copied verbatim from the source study, whose StudyID is empty (Type 2); a derived series must not change its study's attributes",
  },
  {
    pattern: /<Lung_Dx-A0002> - Retired Person Name form/,
    why: "derived series: PatientName is copied verbatim from the source (the TCIA pseudonym 'Lung_Dx-A0002'); rewriting it would split the patient",
  },
];

let orthanc: OrthancInstance;
let transport: DicomwebTransport;
/** Every Part 10 instance sent by STOW in this file. */
const sent: Uint8Array[] = [];
let source: SeededSeries;
let sourceRead: ReadSeriesResult;

beforeAll(async () => {
  orthanc = await startOrthanc();
  const inner = orthancTransport(orthanc);
  transport = {
    request: async (req) => {
      const res = await inner.request(req);
      if (req.service === 'stow' && req.body && req.contentType) {
        for (const p of parseMultipart(req.body, req.contentType)) sent.push(p.body.slice());
      }
      return res;
    },
  };
  source = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
  sent.length = 0;
  sourceRead = await readSeries(transport, source.studyInstanceUid, source.seriesInstanceUid);
}, 120000);

afterAll(async () => {
  await orthanc?.stop();
});

/** Largest distance between the patient positions two affines give, over a grid (exact: the difference is affine, so its maximum is at a corner). */
function maxCornerDistance(a: Affine, b: Affine, dims: Dims3): number {
  let worst = 0;
  for (const i of [0, dims[0] - 1]) {
    for (const j of [0, dims[1] - 1]) {
      for (const k of [0, dims[2] - 1]) {
        const p = applyPoint(a, [i, j, k]);
        const q = applyPoint(b, [i, j, k]);
        worst = Math.max(worst, Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
      }
    }
  }
  return worst;
}

interface PydicomSlice {
  sop: string;
  rows: number;
  columns: number;
  pixelSpacing: [number, number];
  samples: { r: number; c: number; pos: [number, number, number]; hu: number }[];
}

/** The series' files as Orthanc holds them (its REST API), read by pydicom. */
async function pydicomRead(seriesInstanceUid: string): Promise<PydicomSlice[]> {
  const auth = { authorization: orthanc.authorization };
  const lookup = (await (
    await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', headers: auth, body: seriesInstanceUid })
  ).json()) as { ID: string; Type: string }[];
  const id = lookup.find((l) => l.Type === 'Series')!.ID;
  const { Instances } = (await (await fetch(`${orthanc.url}/series/${id}`, { headers: auth })).json()) as {
    Instances: string[];
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'written-'));
  try {
    for (const [n, inst] of Instances.entries()) {
      const res = await fetch(`${orthanc.url}/instances/${inst}/file`, { headers: auth });
      fs.writeFileSync(path.join(dir, `${n}.dcm`), new Uint8Array(await res.arrayBuffer()));
    }
    const script = path.resolve(__dirname, '..', 'reference', 'written_geometry_reference.py');
    return JSON.parse(
      execFileSync(SYSTEM_PYTHON, [script, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
    ) as PydicomSlice[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Compares pydicom's view of the written series with the intended volume: each
 * file is matched to the slice k whose intended origin A(0,0,k) is nearest its
 * IPP, then every sampled voxel (r, c) must sit at A(c, r, k) and hold the
 * intended value at (i = c, j = r, k).
 */
function compareWithIntended(
  slices: PydicomSlice[],
  intended: Volume,
): { maxPositionErrorMm: number; maxValueError: number; ks: number[] } {
  const [nx, ny, nz] = intended.dims;
  let maxPositionErrorMm = 0;
  let maxValueError = 0;
  const ks: number[] = [];
  for (const s of slices) {
    expect([s.columns, s.rows]).toEqual([nx, ny]);
    const origin = s.samples.find((x) => x.r === 0 && x.c === 0)!.pos;
    let k = 0;
    let best = Infinity;
    for (let kk = 0; kk < nz; kk++) {
      const p = applyPoint(intended.affine, [0, 0, kk]);
      const d = Math.hypot(p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]);
      if (d < best) [best, k] = [d, kk];
    }
    ks.push(k);
    for (const x of s.samples) {
      const p = applyPoint(intended.affine, [x.c, x.r, k]);
      maxPositionErrorMm = Math.max(
        maxPositionErrorMm,
        Math.hypot(p[0] - x.pos[0], p[1] - x.pos[1], p[2] - x.pos[2]),
      );
      const v = intended.data[k * nx * ny + x.r * nx + x.c];
      maxValueError = Math.max(maxValueError, Math.abs(v - x.hu));
    }
  }
  return { maxPositionErrorMm, maxValueError, ks: ks.sort((a, b) => a - b) };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}

/** A stand-in for a super-resolution result: the source resampled to 2x finer slices on an in-plane crop. */
function fakeSuperResolution(src: Volume): Volume {
  const a = src.affine;
  const crop = 160;
  const i0 = 170;
  const j0 = 150;
  const origin = applyPoint(a, [i0, j0, 0]);
  const ez: Vec3 = [a[2] / 2, a[6] / 2, a[10] / 2];
  const dims: Dims3 = [crop, crop, 2 * (src.dims[2] - 1) + 1];
  const affine = fromColumns([a[0], a[4], a[8]], [a[1], a[5], a[9]], ez, origin);
  return resample(src, { dims, affine }, { outside: 'border' });
}

/** Longer than the room left in a 64-character SeriesDescription next to the markers. */
const LONG_LABEL = 'SR 272x272x288 from 0.70x0.70x1.25mm';

describe('derived series (super-resolution + uncertainty)', () => {
  let result: Volume;
  let std: Volume;
  let written: Awaited<ReturnType<typeof writeDerivedSeries>>;

  beforeAll(async () => {
    result = fakeSuperResolution(sourceRead.volume);
    const stdData = new Float32Array(result.data.length);
    for (let n = 0; n < stdData.length; n++) stdData[n] = 25.3 * Math.abs(Math.sin(n * 0.001)) + 0.01;
    std = makeVolume(result.dims, result.affine, stdData, 'HU-std');
    written = await writeDerivedSeries(transport, {
      source: sourceRead.instances,
      result,
      uncertainty: std,
      model: { name: 'geometry-ldm super-resolution', version: '0.1.0-test' },
      product: { softwareVersion: 'geometry-ldm extension 0.1.0' },
      label: LONG_LABEL,
    });
  }, 120000);

  test('stored completely (final QIDO check) in the source study', async () => {
    for (const w of [written.result, written.uncertainty!]) {
      expect(w.report.notStored).toEqual([]);
      expect(w.report.verified).toBe(true);
      expect(w.studyInstanceUid).toBe(source.studyInstanceUid);
      const found = await searchInstances(transport, w.studyInstanceUid, w.seriesInstanceUid);
      expect(found.map((f) => f.sopInstanceUid).sort()).toEqual([...w.sopInstanceUids].sort());
    }
  });

  test('reads back: geometry within 0.01 mm for every voxel, HU within half a stored step', async () => {
    const back = await readSeries(
      transport,
      written.result.studyInstanceUid,
      written.result.seriesInstanceUid,
    );
    expect(back.volume.dims).toEqual(result.dims);
    expect(maxCornerDistance(back.volume.affine, result.affine, result.dims)).toBeLessThan(0.01);
    expect(maxAbsDiff(back.volume.data, result.data)).toBeLessThanOrEqual(0.5 + 1e-3);
    const backStd = await readSeries(
      transport,
      written.uncertainty!.studyInstanceUid,
      written.uncertainty!.seriesInstanceUid,
    );
    const slope = backStd.instances[0].rescaleSlope!;
    expect(slope).toBeLessThan(0.001);
    expect(maxAbsDiff(backStd.volume.data, std.data)).toBeLessThanOrEqual(slope / 2 + 1e-5);
  });

  test('pydicom reads the stored files at the intended positions and values (result and std)', async () => {
    for (const [w, intended, tol] of [
      [written.result, result, 0.5 + 1e-3],
      [written.uncertainty!, std, 25.31 / 65535 / 2 + 1e-5], // half a stored step of the full-range rescale
    ] as const) {
      const slices = await pydicomRead(w.seriesInstanceUid);
      expect(slices.map((x) => x.sop).sort()).toEqual([...w.sopInstanceUids].sort());
      const c = compareWithIntended(slices, intended);
      expect(c.ks).toEqual(Array.from({ length: intended.dims[2] }, (_, k) => k));
      expect(c.maxPositionErrorMm).toBeLessThan(0.01);
      expect(c.maxValueError).toBeLessThanOrEqual(tol);
    }
  });

  test.each([
    [
      'result',
      'AI super-resolution',
      /^AI-GENERATED IMAGE \(super-resolution by .*NOT FOR DIAGNOSTIC USE\.$/,
    ],
    ['uncertainty', 'AI SR uncertainty', /^AI-GENERATED UNCERTAINTY MAP: .*NOT FOR DIAGNOSTIC USE\.$/],
  ] as const)(
    '%s series: same study and frame of reference; provenance and AI labels (long label)',
    async (kind, head, comments) => {
      const w = kind === 'result' ? written.result : written.uncertainty!;
      const meta = await retrieveSeriesMetadata(transport, w.studyInstanceUid, w.seriesInstanceUid);
      expect(meta).toHaveLength(result.dims[2]);
      const srcFor = sourceRead.instances[0].frameOfReferenceUid;
      const sourceSops = new Set(sourceRead.instances.map((h) => h.sopInstanceUid));
      for (const m of meta) {
        expect(str(m, '0020000D')).toBe(source.studyInstanceUid);
        expect(str(m, '00200052')).toBe(srcFor);
        expect(strs(m, '00080008')).toEqual(['DERIVED', 'SECONDARY', 'AXIAL']);
        const description = str(m, '0008103E')!;
        expect(description).toMatch(/AI .*NOT FOR DIAGNOSTIC USE/);
        expect(description.length).toBeLessThanOrEqual(64);
        expect(description.startsWith(`${head} SR 272x272x288`)).toBe(true);
        expect(description.endsWith(' - NOT FOR DIAGNOSTIC USE')).toBe(true);
        expect(str(m, '00204000')).toMatch(/AI-GENERATED.*NOT FOR DIAGNOSTIC USE/);
        expect(str(m, '00204000')).toMatch(comments);
        expect(str(items(m, '00089215')[0], '00080100')).toBe('113085');
        expect(str(m, '00082111')).toMatch(/super-resolution/);
        expect(str(m, '00082111')).toMatch(
          kind === 'result'
            ? /^AI super-resolution by .*NOT FOR DIAGNOSTIC USE\.$/
            : /^AI super-resolution uncertainty/,
        );
        const sources = items(m, '00082112');
        expect(sources.length).toBeGreaterThanOrEqual(1);
        for (const s of sources) {
          expect(sourceSops.has(str(s, '00081155'))).toBe(true);
          expect(str(items(s, '0040A170')[0], '00080100')).toBe('121322');
        }
        const refSeries = items(m, '00081115');
        expect(str(refSeries[0], '0020000E')).toBe(source.seriesInstanceUid);
        expect(items(refSeries[0], '0008114A')).toHaveLength(sourceRead.instances.length);
        const equipment = items(m, '0018A001')[0];
        expect(str(equipment, '00081090')).toBe('geometry-ldm super-resolution');
        expect(strs(equipment, '00181020')).toContain('0.1.0-test');
        expect(str(equipment, '0018A003')).toMatch(
          kind === 'result' ? /^AI super-resolution$/ : /^AI super-resolution uncertainty/,
        );
        expect(str(items(equipment, '0040A170')[0], '00080100')).toBe('109102');
        // SeriesNumber: source SeriesNumber + 1000 (this study had no such series yet), std the next
        const sourceNumber = Number(str(sourceRead.instances[0].json, '00200011'));
        expect(Number(str(m, '00200011'))).toBe(sourceNumber + 1000 + (kind === 'result' ? 0 : 1));
      }
    },
  );

  test('every run gets new Series and SOP Instance UIDs', async () => {
    const again = await writeDerivedSeries(transport, {
      source: sourceRead.instances,
      result,
      model: { name: 'geometry-ldm super-resolution', version: '0.1.0-test' },
    });
    expect(again.result.seriesInstanceUid).not.toBe(written.result.seriesInstanceUid);
    const before = new Set([...written.result.sopInstanceUids, ...written.uncertainty!.sopInstanceUids]);
    expect(again.result.sopInstanceUids.some((u) => before.has(u))).toBe(false);
    expect(again.result.sopInstanceUids.every((u) => /^2\.25\.\d+$/.test(u))).toBe(true);
    // its SeriesNumber avoids the ones the study already has (Orthanc's own index, not the product's QIDO)
    const res = await fetch(`${orthanc.url}/tools/find`, {
      method: 'POST',
      headers: { authorization: orthanc.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({
        Level: 'Series',
        Query: { StudyInstanceUID: source.studyInstanceUid },
        Expand: true,
      }),
    });
    const numbers = ((await res.json()) as { MainDicomTags: { SeriesNumber?: string } }[]).map((x) =>
      Number(x.MainDicomTags.SeriesNumber),
    );
    expect(numbers).toHaveLength(4);
    expect(new Set(numbers).size).toBe(4);
    const sourceNumber = Number(str(sourceRead.instances[0].json, '00200011'));
    expect(numbers.sort((a, b) => a - b)).toEqual([
      sourceNumber,
      sourceNumber + 1000,
      sourceNumber + 1001,
      sourceNumber + 1002,
    ]);
  });
});

describe('synthetic study', () => {
  test('a new study for a synthetic patient, own frame of reference, parameters recorded, geometry round trip', async () => {
    const dims: Dims3 = [64, 48, 24];
    const spacing: Vec3 = [0.8, 0.9, 1.5];
    const rot = rotationEulerDeg(10, 0, 30);
    const centre: Vec3 = [12, -30, 150];
    const affine = compose(
      fromColumns([1, 0, 0], [0, 1, 0], [0, 0, 1], centre),
      rot,
      fromColumns([spacing[0], 0, 0], [0, spacing[1], 0], [0, 0, spacing[2]], [0, 0, 0]),
      fromColumns(
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [-(dims[0] - 1) / 2, -(dims[1] - 1) / 2, -(dims[2] - 1) / 2],
      ),
    );
    const data = new Float32Array(dims[0] * dims[1] * dims[2]);
    for (let n = 0; n < data.length; n++) data[n] = -1000 + 1500 * (0.5 + 0.5 * Math.sin(n * 0.0137)) + 0.25;
    const volume = makeVolume(dims, affine, data, 'HU');
    const generation = {
      grid: [...dims],
      spacingMm: [...spacing],
      fov: [
        [0.1, 0.9],
        [0.2, 0.8],
        [0.3, 0.7],
      ],
      rotationDeg: [10, 0, 30],
      seed: 12345,
      sampler: { name: 'ddim', steps: 50, eta: 0 },
      model: { name: 'geometry-ldm generator', version: '0.1.0-test' },
    };
    const w = await writeSyntheticStudy(transport, { volume, generation });
    expect(w.report.notStored).toEqual([]);
    expect(w.studyInstanceUid).not.toBe(source.studyInstanceUid);
    expect(w.frameOfReferenceUid).not.toBe(sourceRead.instances[0].frameOfReferenceUid);
    const back = await readSeries(transport, w.studyInstanceUid, w.seriesInstanceUid);
    expect(back.volume.dims).toEqual(dims);
    expect(maxCornerDistance(back.volume.affine, affine, dims)).toBeLessThan(0.01);
    expect(maxAbsDiff(back.volume.data, data)).toBeLessThanOrEqual(0.5 + 1e-3);
    const m = back.instances[0].json;
    expect(str(m, '00100010')).toBe(SYNTHETIC_PATIENT_NAME);
    expect(str(m, '00100020')).toMatch(/^SYNTH-/);
    expect(str(m, '00200052')).toBe(w.frameOfReferenceUid);
    const comments = str(m, '00204000')!;
    expect(comments).toMatch(/SYNTHETIC.*NOT FOR DIAGNOSTIC USE/);
    expect(JSON.parse(comments.slice(comments.indexOf('{')))).toEqual(generation);
  });

  test.each([
    ['non-square PixelSpacing, oblique, non-square grid', [40, 28, 9], [0.6, 1.1, 1.7], [25, -15, 40]],
    ['axial, columns spaced wider than rows', [36, 20, 5], [1.3, 0.45, 2.5], [0, 0, 0]],
    ['steep oblique (sagittal-ish)', [24, 30, 7], [0.9, 0.7, 1.2], [80, 35, -60]],
  ] as const)(
    'pydicom geometry of a written synthetic series: %s',
    async (_name, dims, spacing, rotationDeg) => {
      const affine = compose(
        fromColumns([1, 0, 0], [0, 1, 0], [0, 0, 1], [-20, 35, 110]),
        rotationEulerDeg(rotationDeg[0], rotationDeg[1], rotationDeg[2]),
        fromColumns([spacing[0], 0, 0], [0, spacing[1], 0], [0, 0, spacing[2]], [0, 0, 0]),
      );
      const data = new Float32Array(dims[0] * dims[1] * dims[2]);
      // a value that tells i, j and k apart: a transposed or flipped slice cannot match
      for (let k = 0; k < dims[2]; k++)
        for (let j = 0; j < dims[1]; j++)
          for (let i = 0; i < dims[0]; i++)
            data[(k * dims[1] + j) * dims[0] + i] = 3 * i - 17 * j + 101 * k - 500;
      const volume = makeVolume([...dims], affine, data, 'HU');
      const w = await writeSyntheticStudy(transport, {
        volume,
        generation: {
          grid: [...dims],
          spacingMm: [...spacing],
          fov: null,
          rotationDeg: [...rotationDeg],
          seed: 7,
          sampler: 'ddim',
          model: { name: 'geometry-test', version: '0' },
        },
      });
      const slices = await pydicomRead(w.seriesInstanceUid);
      expect(slices).toHaveLength(dims[2]);
      // PixelSpacing is [row spacing, column spacing] = [j step, i step]
      for (const s of slices) {
        expect(Math.abs(s.pixelSpacing[0] - spacing[1])).toBeLessThan(1e-6);
        expect(Math.abs(s.pixelSpacing[1] - spacing[0])).toBeLessThan(1e-6);
      }
      const c = compareWithIntended(slices, volume);
      expect(c.ks).toEqual(Array.from({ length: dims[2] }, (_, k) => k));
      expect(c.maxPositionErrorMm).toBeLessThan(0.01);
      expect(c.maxValueError).toBe(0);
      // and the product's reader agrees with the intended geometry too
      const back = await readSeries(transport, w.studyInstanceUid, w.seriesInstanceUid);
      expect(maxCornerDistance(back.volume.affine, affine, [...dims])).toBeLessThan(0.01);
    },
  );

  test('a real patient only with explicit confirmation', async () => {
    const volume = makeVolume(
      [4, 4, 2],
      [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      new Float32Array(32),
      'HU',
    );
    const generation = {
      grid: [4, 4, 2],
      spacingMm: [1, 1, 1],
      fov: null,
      rotationDeg: [0, 0, 0],
      seed: 1,
      sampler: 'ddim',
      model: { name: 'm', version: '1' },
    };
    await expect(
      writeSyntheticStudy(transport, {
        volume,
        generation,
        patient: { kind: 'real', confirmed: false, patientName: 'DOE^JANE', patientId: '123' },
      }),
    ).rejects.toMatchObject({ code: 'invalid-input' });
  });
});

describe('dciodvfy', () => {
  test('every written instance validates with no errors; warnings only the accepted ones', () => {
    expect(sent.length).toBeGreaterThan(100);
    const unexpected = new Map<string, number>();
    let errors = 0;
    for (const bytes of sent) {
      const r = dciodvfy(bytes);
      expect(r.output).toMatch(/CTImage/);
      errors += r.errors.length;
      for (const e of r.errors) unexpected.set(e, (unexpected.get(e) ?? 0) + 1);
      for (const w of r.warnings) {
        if (!ACCEPTED_WARNINGS.some((a) => a.pattern.test(w)))
          unexpected.set(w, (unexpected.get(w) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(unexpected)).toEqual({});
    expect(errors).toBe(0);
  });
});
