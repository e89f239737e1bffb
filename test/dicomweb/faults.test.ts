/**
 * Bad input and PACS faults against a real Orthanc, some through a
 * fault-injecting proxy: each ends in a clear typed error, and the PACS ends up
 * with no duplicate and no half-labelled series (checked with Orthanc's own
 * REST statistics and QIDO).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { prepareImport } from '../../extensions/geometry-ldm/src/dicom/importFiles';
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { searchInstances, searchSeries } from '../../extensions/geometry-ldm/src/dicom/qido';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import {
  createFetchTransport,
  type DicomwebTransport,
} from '../../extensions/geometry-ldm/src/dicom/transport';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import {
  buildSyntheticStudy,
  writeSyntheticStudy,
} from '../../extensions/geometry-ldm/src/dicom/writeSyntheticStudy';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { orthancCounts, orthancTransport } from '../support/dicomweb';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seriesFiles } from '../support/seed';

let orthanc: OrthancInstance;
let direct: DicomwebTransport;
let proxy: FaultProxy;
let viaProxy: DicomwebTransport;

const FAST = { backoffMs: 5, retries: 2 };

beforeAll(async () => {
  orthanc = await startOrthanc();
  direct = orthancTransport(orthanc);
  proxy = await startFaultProxy(orthanc.url);
  viaProxy = createFetchTransport({
    root: `${proxy.url}/dicom-web`,
    headers: { Authorization: orthanc.authorization },
  });
}, 60000);

afterAll(async () => {
  await proxy?.close();
  await orthanc?.stop();
});

beforeEach(() => proxy.setRule(() => ({ kind: 'pass' })));

function smallVolume(nz = 6): Volume {
  const dims = [32, 32, nz] as const;
  const data = new Float32Array(32 * 32 * nz).map((_, n) => (n % 97) * 10 - 500);
  return makeVolume(dims, [0.7, 0, 0, -10, 0, 0.7, 0, -10, 0, 0, 2, 50, 0, 0, 0, 1], data, 'HU');
}
const generation = {
  grid: [32, 32, 6],
  spacingMm: [0.7, 0.7, 2],
  fov: null,
  rotationDeg: [0, 0, 0],
  seed: 3,
  sampler: 'ddim',
  model: { name: 'fault-test', version: '0' },
};

async function expectError(p: Promise<unknown>, code: string): Promise<DicomError> {
  const e = await p.then(
    () => null,
    (x) => x,
  );
  expect(e).toBeInstanceOf(DicomError);
  expect((e as DicomError).code).toBe(code);
  expect((e as DicomError).message.length).toBeGreaterThan(10);
  return e as DicomError;
}

/** Instances Orthanc holds for a series (QIDO), or [] when the series does not exist. */
async function seriesInstances(study: string, series: string): Promise<string[]> {
  return (await searchInstances(direct, study, series)).map((i) => i.sopInstanceUid!).sort();
}

describe('bad input', () => {
  test('garbage and truncated files: invalid-input before anything is sent', async () => {
    const before = await orthancCounts(orthanc);
    const good = seriesFiles('lung-pet-ct-dx-a0002').slice(0, 2);
    const goodFiles = good.map((f) => ({
      name: path.basename(f),
      bytes: new Uint8Array(fs.readFileSync(f)),
    }));
    const garbage = { name: 'garbage.dcm', bytes: new Uint8Array(4096).map((_, n) => (n * 7919) % 251) };
    const full = goodFiles[1].bytes;
    const truncated = { name: 'truncated.dcm', bytes: full.slice(0, Math.floor(full.length * 0.6)) };
    const e1 = await expectError(
      Promise.resolve().then(() => prepareImport([goodFiles[0], garbage])),
      'invalid-input',
    );
    expect(e1.message).toMatch(/garbage\.dcm/);
    // dcmjs warns about the short PixelData while parsing; the check itself must refuse the file.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const e2 = await expectError(
      Promise.resolve().then(() => prepareImport([goodFiles[0], truncated])),
      'invalid-input',
    );
    warn.mockRestore();
    expect(e2.message).toMatch(/truncated\.dcm/);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('garbage sent anyway: Orthanc answers 400 but stores the good one; the report says exactly which', async () => {
    const { series } = buildSyntheticStudy({ volume: smallVolume(3), generation });
    const garbageUid = newUid();
    const instances = [
      ...series.instances,
      {
        bytes: new Uint8Array(2000).fill(7),
        studyInstanceUid: series.studyInstanceUid,
        seriesInstanceUid: series.seriesInstanceUid,
        sopInstanceUid: garbageUid,
      },
    ];
    const e = await expectError(stowInstances(direct, instances, FAST), 'partial-store');
    expect([...(e.details.stored as string[])].sort()).toEqual(
      series.instances.map((i) => i.sopInstanceUid).sort(),
    );
    expect((e.details.notStored as { sopInstanceUid: string }[]).map((f) => f.sopInstanceUid)).toEqual([
      garbageUid,
    ]);
    expect(await seriesInstances(series.studyInstanceUid, series.seriesInstanceUid)).toEqual(
      series.instances.map((i) => i.sopInstanceUid).sort(),
    );
  });

  test('a series with missing geometry: missing-geometry, nothing written', async () => {
    const files = seriesFiles('lung-pet-ct-dx-a0002').slice(0, 4);
    const study = newUid();
    const seriesUid = newUid();
    const instances = files.map((f, n) => {
      const { dict, transferSyntaxUid } = readPart10Raw(new Uint8Array(fs.readFileSync(f)));
      const sop = newUid();
      dict['0020000D'] = { vr: 'UI', Value: [study] };
      dict['0020000E'] = { vr: 'UI', Value: [seriesUid] };
      dict['00080018'] = { vr: 'UI', Value: [sop] };
      if (n === 2) delete dict['00200032'];
      return {
        bytes: writePart10Raw(dict, transferSyntaxUid),
        studyInstanceUid: study,
        seriesInstanceUid: seriesUid,
        sopInstanceUid: sop,
      };
    });
    await stowInstances(direct, instances, FAST);
    const before = await orthancCounts(orthanc);
    const e = await expectError(readSeries(direct, study, seriesUid), 'missing-geometry');
    expect(e.message).toMatch(/ImagePositionPatient/);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('a frame that does not decode: decode-failed naming the instance', async () => {
    const f = seriesFiles('totalseg-abdomen')[0];
    const prepared = prepareImport(
      [{ name: 'x', bytes: new Uint8Array(fs.readFileSync(f)) }],
      `corrupt-${newUid()}`,
    );
    const { dict, transferSyntaxUid } = readPart10Raw(prepared.instances[0].bytes);
    const study = newUid();
    const seriesUid = newUid();
    const sop = newUid();
    dict['0020000D'] = { vr: 'UI', Value: [study] };
    dict['0020000E'] = { vr: 'UI', Value: [seriesUid] };
    dict['00080018'] = { vr: 'UI', Value: [sop] };
    // Corrupt the JPEG 2000 codestream after its main header.
    const frames = dict['7FE00010'].Value as ArrayBuffer[];
    const bytes = new Uint8Array(frames[0].slice(0));
    for (let n = 200; n < bytes.length; n += 3) bytes[n] = 0xff;
    dict['7FE00010'].Value = [bytes.buffer];
    await stowInstances(
      direct,
      [
        {
          bytes: writePart10Raw(dict, transferSyntaxUid),
          studyInstanceUid: study,
          seriesInstanceUid: seriesUid,
          sopInstanceUid: sop,
        },
      ],
      FAST,
    );
    const e = await expectError(
      readSeries(direct, study, seriesUid, { irregular: 'resample' }),
      'decode-failed',
    );
    expect(e.message).toContain(sop);
  });
});

describe('PACS faults during STOW', () => {
  test('401: pacs-unauthorized, nothing stored', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'status', status: 401 } : { kind: 'pass' }));
    const before = await orthancCounts(orthanc);
    await expectError(
      writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST),
      'pacs-unauthorized',
    );
    expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(1); // no retries on 401
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('wrong credentials against the real Orthanc: pacs-unauthorized', async () => {
    const bad = createFetchTransport({
      root: orthanc.dicomWebRoot,
      headers: { Authorization: 'Basic ' + Buffer.from('tester:wrong').toString('base64') },
    });
    const before = await orthancCounts(orthanc);
    await expectError(
      writeSyntheticStudy(bad, { volume: smallVolume(), generation }, FAST),
      'pacs-unauthorized',
    );
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('409 from the real Orthanc (instances of another study): pacs-conflict, nothing stored', async () => {
    const { series } = buildSyntheticStudy({ volume: smallVolume(), generation });
    const before = await orthancCounts(orthanc);
    await expectError(
      stowInstances(direct, series.instances, { ...FAST, studyInstanceUid: newUid() }),
      'pacs-conflict',
    );
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('409 injected: pacs-conflict, no retry, nothing stored', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'status', status: 409 } : { kind: 'pass' }));
    const before = await orthancCounts(orthanc);
    await expectError(
      writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST),
      'pacs-conflict',
    );
    expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('transient 500 (before and after the PACS stored): retried, complete, no duplicates', async () => {
    proxy.setRule((r) =>
      r.method !== 'POST'
        ? { kind: 'pass' }
        : r.index === 0
          ? { kind: 'status', status: 500 }
          : r.index === 1
            ? { kind: 'forward-then-status', status: 503 }
            : { kind: 'pass' },
    );
    const w = await writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST);
    expect(w.report.notStored).toEqual([]);
    expect(w.report.requests).toBe(3);
    expect(await seriesInstances(w.studyInstanceUid, w.seriesInstanceUid)).toEqual(
      [...w.sopInstanceUids].sort(),
    );
    expect(await searchSeries(direct, w.studyInstanceUid)).toHaveLength(1);
  });

  test('persistent 500: pacs-error after the retries, nothing stored', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'status', status: 500 } : { kind: 'pass' }));
    const before = await orthancCounts(orthanc);
    const e = await expectError(
      writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST),
      'pacs-error',
    );
    expect(e.details.status).toBe(500);
    expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(FAST.retries + 1);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('connection dropped mid-STOW once: retried, complete, no duplicates', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index === 0 ? { kind: 'drop-mid-request' } : { kind: 'pass' },
    );
    const w = await writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST);
    expect(w.report.notStored).toEqual([]);
    expect(w.report.requests).toBe(2);
    expect(await seriesInstances(w.studyInstanceUid, w.seriesInstanceUid)).toEqual(
      [...w.sopInstanceUids].sort(),
    );
  });

  test('connection always dropped: network error, nothing stored', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'drop-mid-request' } : { kind: 'pass' }));
    const before = await orthancCounts(orthanc);
    await expectError(writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST), 'network');
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('failure after the first batch: partial-store listing what is stored and what is not', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index >= 1 ? { kind: 'status', status: 500 } : { kind: 'pass' },
    );
    const { series } = buildSyntheticStudy({ volume: smallVolume(6), generation });
    const e = await expectError(
      stowInstances(viaProxy, series.instances, { ...FAST, maxBatchInstances: 2 }),
      'partial-store',
    );
    const uids = series.instances.map((i) => i.sopInstanceUid);
    expect(e.details.stored).toEqual(uids.slice(0, 2));
    expect((e.details.notStored as { sopInstanceUid: string }[]).map((f) => f.sopInstanceUid)).toEqual(
      uids.slice(2),
    );
    expect(e.details.verified).toBe(true);
    expect(await seriesInstances(series.studyInstanceUid, series.seriesInstanceUid)).toEqual(
      uids.slice(0, 2).sort(),
    );
  });
});
