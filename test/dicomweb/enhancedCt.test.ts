/**
 * Modern multi-frame CT: a real single-frame series (Lung-PET-CT-Dx A0002, 30 slices) converted
 * with pydicom (test/reference/make_enhanced_ct.py, independent of the reader) into one Legacy
 * Converted Enhanced CT instance (dciodvfy: no errors) and one Enhanced CT instance (rescale in
 * the shared functional groups), stored in a real Orthanc and read back over DICOMweb frame by
 * frame: the volume is voxel-for-voxel and affine-for-affine the single-frame original's. A
 * derived series written from it references the source frames by number and passes dciodvfy.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readPart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { readSeries, type ReadSeriesResult } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import { buildDerivedSeries } from '../../extensions/geometry-ldm/src/dicom/writeDerivedSeries';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';
import { dciodvfy } from '../support/dciodvfy';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { SYSTEM_PYTHON } from '../support/reference';
import { seedSeries, seriesDir, type SeededSeries } from '../support/seed';

const MAKE = path.join(__dirname, '..', 'reference', 'make_enhanced_ct.py');

let orthanc: OrthancInstance;
let transport: DicomwebTransport;
let work: string;
let original: SeededSeries;
let single: ReadSeriesResult;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enhanced-ct-'));
  original = await seedSeries(transport, 'lung-pet-ct-dx-a0002');
  single = await readSeries(transport, original.studyInstanceUid, original.seriesInstanceUid);
}, 120000);

afterAll(async () => {
  await orthanc?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** The original series as one multi-frame instance of a new series in the same study. */
async function storeMultiFrame(args: string[]): Promise<{ series: string; sop: string; bytes: Uint8Array }> {
  const series = newUid();
  const sop = newUid();
  const out = path.join(work, `${series}.dcm`);
  execFileSync(SYSTEM_PYTHON, [
    MAKE,
    seriesDir('lung-pet-ct-dx-a0002'),
    out,
    '--study',
    original.studyInstanceUid,
    '--series',
    series,
    '--sop',
    sop,
    ...args,
  ]);
  const bytes = new Uint8Array(fs.readFileSync(out));
  const report = await stowInstances(transport, [
    { bytes, studyInstanceUid: original.studyInstanceUid, seriesInstanceUid: series, sopInstanceUid: sop },
  ]);
  expect(report.verified).toBe(true);
  return { series, sop, bytes };
}

function expectSameVolume(r: ReadSeriesResult): void {
  expect(r.volume.dims).toEqual(single.volume.dims);
  r.volume.affine.forEach((x, n) => expect(Math.abs(x - single.volume.affine[n])).toBeLessThan(1e-9));
  let differ = 0;
  for (let n = 0; n < r.volume.data.length; n++) if (r.volume.data[n] !== single.volume.data[n]) differ++;
  expect(differ).toBe(0);
}

test('Legacy Converted Enhanced CT (valid per dciodvfy): the same volume as the single-frame original', async () => {
  const { series, sop, bytes } = await storeMultiFrame([]);
  expect(dciodvfy(bytes).errors).toEqual([]);
  const r = await readSeries(transport, original.studyInstanceUid, series);
  expectSameVolume(r);
  expect(r.instances).toHaveLength(30); // one header per frame
  expect(new Set(r.instances.map((h) => h.sopInstanceUid))).toEqual(new Set([sop]));
  expect(r.instances.map((h) => h.frameNumber).sort((a, b) => a! - b!)).toEqual(
    Array.from({ length: 30 }, (_, k) => k + 1),
  );

  // a derived series from it: frames referenced by number, the instance once; valid per dciodvfy
  const result = makeVolume([8, 8, 4], single.volume.affine, new Float32Array(256).fill(40), 'HU');
  const built = buildDerivedSeries({ source: r.instances, result, model: { name: 'test', version: '0' } });
  const { dict } = readPart10Raw(built.result.instances[1].bytes);
  const sources = dict['00082112'].Value as Record<string, { Value?: unknown[] }>[];
  expect(sources.length).toBeGreaterThan(0);
  for (const s of sources) {
    expect(s['00081155'].Value).toEqual([sop]);
    expect(Number(s['00081160'].Value![0])).toBeGreaterThanOrEqual(1);
  }
  const refSeries = (dict['00081115'].Value as Record<string, { Value?: unknown[] }>[])[0];
  expect((refSeries['0008114A'].Value as unknown[]).length).toBe(1);
  expect(dciodvfy(built.result.instances[1].bytes).errors).toEqual([]);
}, 120000);

test('Enhanced CT with the rescale in the shared functional groups: the same volume', async () => {
  const { series } = await storeMultiFrame(['--enhanced', '--shared-rescale']);
  expectSameVolume(await readSeries(transport, original.studyInstanceUid, series));
}, 120000);
