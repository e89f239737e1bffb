/**
 * Bad input and PACS faults against a real Orthanc, some through a
 * fault-injecting proxy: each ends in a clear typed error (or, where the PACS
 * did store everything, a verified success), and the report says exactly what
 * Orthanc holds: checked independently through Orthanc's REST API and QIDO
 * straight to Orthanc, never through the proxy. The proxy's log shows what the
 * client actually sent (bodies parsed with dcmjs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import dcmjs from 'dcmjs';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { prepareImport } from '../../extensions/geometry-ldm/src/dicom/importFiles';
import { parseMultipart } from '../../extensions/geometry-ldm/src/dicom/multipart';
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
import { startFaultProxy, type FaultProxy, type RequestInfo } from '../support/faultProxy';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seriesFiles } from '../support/seed';

let orthanc: OrthancInstance;
let direct: DicomwebTransport;
let proxy: FaultProxy;
let viaProxy: DicomwebTransport;

// one batch at a time: the request order below is the store's order
const FAST = { backoffMs: 5, retries: 2, concurrency: 1 };

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

/** Instances Orthanc holds for a series (QIDO straight to Orthanc), or [] when the series does not exist. */
async function seriesInstances(study: string, series: string): Promise<string[]> {
  return (await searchInstances(direct, study, series)).map((i) => i.sopInstanceUid!).sort();
}

/** Orthanc's own index (REST /tools/find): SOP Instance UIDs of a study, by series. */
async function orthancStudy(study: string): Promise<Record<string, string[]>> {
  const res = await fetch(`${orthanc.url}/tools/find`, {
    method: 'POST',
    headers: { authorization: orthanc.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ Level: 'Instance', Query: { StudyInstanceUID: study }, Expand: true }),
  });
  const found = (await res.json()) as { ParentSeries: string; MainDicomTags: { SOPInstanceUID: string } }[];
  const out: Record<string, string[]> = {};
  for (const f of found) (out[f.ParentSeries] ??= []).push(f.MainDicomTags.SOPInstanceUID);
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

/** SOP Instance UIDs in one logged STOW request, as the proxy received it (each part read with dcmjs). */
function sopsSent(r: RequestInfo): string[] {
  if (!r.body || !r.contentType) return [];
  return parseMultipart(new Uint8Array(r.body), r.contentType).map((p) =>
    String(readPart10Raw(p.body).dict['00080018'].Value![0]),
  );
}

const posts = (): RequestInfo[] => proxy.log.filter((r) => r.method === 'POST');
const notStoredUids = (e: DicomError): string[] =>
  (e.details.notStored as { sopInstanceUid: string }[]).map((f) => f.sopInstanceUid);
const reasons = (e: DicomError): string[] =>
  (e.details.notStored as { reason: string }[]).map((f) => f.reason);

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
    // dcmjs warns about the short PixelData while parsing, through its 'validation.dcmjs' logger
    // (which holds console.warn from import time: a console spy does not reach it, and the root
    // logger's level does not pass to it); the check itself must refuse the file.
    type Logger = { getLevel(): number; setLevel(l: number | string): void };
    const log = (dcmjs as unknown as { log: { getLogger(name: string): Logger } }).log.getLogger(
      'validation.dcmjs',
    );
    const level = log.getLevel();
    log.setLevel('silent');
    let e2: DicomError;
    try {
      e2 = await expectError(
        Promise.resolve().then(() => prepareImport([goodFiles[0], truncated])),
        'invalid-input',
      );
    } finally {
      log.setLevel(level);
    }
    expect(e2.message).toMatch(/truncated\.dcm/);
    // the refusal is the bad file's: the good files alone are accepted
    expect(prepareImport(goodFiles).instances).toHaveLength(2);
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

  test('a series with missing geometry: missing-geometry naming the instance, before any pixel data is fetched', async () => {
    const files = seriesFiles('lung-pet-ct-dx-a0002').slice(0, 4);
    const study = newUid();
    const seriesUid = newUid();
    let broken = '';
    const instances = files.map((f, n) => {
      const { dict, transferSyntaxUid } = readPart10Raw(new Uint8Array(fs.readFileSync(f)));
      const sop = newUid();
      dict['0020000D'] = { vr: 'UI', Value: [study] };
      dict['0020000E'] = { vr: 'UI', Value: [seriesUid] };
      dict['00080018'] = { vr: 'UI', Value: [sop] };
      if (n === 2) {
        delete dict['00200032'];
        broken = sop;
      }
      return {
        bytes: writePart10Raw(dict, transferSyntaxUid),
        studyInstanceUid: study,
        seriesInstanceUid: seriesUid,
        sopInstanceUid: sop,
      };
    });
    await stowInstances(direct, instances, FAST);
    // Orthanc really holds the broken instance without the tag (its own REST API)
    const lookup = (await (
      await fetch(`${orthanc.url}/tools/lookup`, {
        method: 'POST',
        headers: { authorization: orthanc.authorization },
        body: broken,
      })
    ).json()) as { ID: string }[];
    const tags = (await (
      await fetch(`${orthanc.url}/instances/${lookup[0].ID}/tags?short`, {
        headers: { authorization: orthanc.authorization },
      })
    ).json()) as Record<string, unknown>;
    expect(tags['0020,0032']).toBeUndefined();
    expect(tags['0020,0037']).toBeDefined();
    const requests: string[] = [];
    const counting: DicomwebTransport = {
      request: (req) => {
        requests.push(`${req.service} ${req.path}`);
        return direct.request(req);
      },
    };
    const e = await expectError(readSeries(counting, study, seriesUid), 'missing-geometry');
    expect(e.message).toMatch(/ImagePositionPatient/);
    expect(e.details.instance).toBe(broken);
    expect(e.details.tags).toEqual(['ImagePositionPatient']);
    // the metadata alone decided: no frame was requested
    expect(requests).toEqual([`wado studies/${study}/series/${seriesUid}/metadata`]);
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
      // one slice: this checks decoding, not the volume's slice count
      readSeries(direct, study, seriesUid, { irregular: 'resample', minSlices: 1 }),
      'decode-failed',
    );
    expect(e.message).toContain(sop);
  });
});

describe('PACS faults during a read (frames through the proxy)', () => {
  let stored: { study: string; series: string; expected: Float32Array };
  beforeAll(async () => {
    const w = await writeSyntheticStudy(direct, { volume: smallVolume(6), generation });
    const r = await readSeries(direct, w.studyInstanceUid, w.seriesInstanceUid);
    stored = { study: w.studyInstanceUid, series: w.seriesInstanceUid, expected: r.volume.data };
  });
  const frameGets = (): RequestInfo[] =>
    proxy.log.filter((r) => r.method === 'GET' && /\/frames\/1$/.test(r.url));
  const isFrame = (r: RequestInfo): boolean => r.method === 'GET' && /\/frames\/1$/.test(r.url);

  test('a transient 500 and a dropped connection on frame GETs: retried, the volume is voxel-identical', async () => {
    proxy.log.length = 0;
    let n = 0;
    proxy.setRule((r) => {
      if (!isFrame(r)) return { kind: 'pass' };
      n++;
      return n === 2
        ? { kind: 'status', status: 500 }
        : n === 4
          ? { kind: 'drop-mid-request' }
          : { kind: 'pass' };
    });
    const r = await readSeries(viaProxy, stored.study, stored.series, {
      backoffMs: 5,
      concurrency: 1,
      retrieval: 'frames',
    });
    expect(Buffer.from(r.volume.data.buffer).equals(Buffer.from(stored.expected.buffer))).toBe(true);
    expect(frameGets()).toHaveLength(6 + 2);
  });

  test('a frame that keeps failing with 503: pacs-error after 4 attempts, naming them', async () => {
    proxy.log.length = 0;
    proxy.setRule((r) => (isFrame(r) ? { kind: 'status', status: 503 } : { kind: 'pass' }));
    const e = await expectError(
      readSeries(viaProxy, stored.study, stored.series, {
        backoffMs: 5,
        concurrency: 1,
        retrieval: 'frames',
      }),
      'pacs-error',
    );
    expect(e.message).toMatch(/HTTP 503 \(after 4 attempts\)$/);
    expect(frameGets()).toHaveLength(4);
  });

  const isSeriesGet = (r: RequestInfo): boolean =>
    r.method === 'GET' && r.url.endsWith(`/series/${stored.series}`);

  test('series-level retrieval (the default): one request for every instance, voxel-identical', async () => {
    proxy.log.length = 0;
    proxy.setRule(() => ({ kind: 'pass' }));
    const r = await readSeries(viaProxy, stored.study, stored.series);
    expect(r.retrieval).toBe('series');
    expect(Buffer.from(r.volume.data.buffer).equals(Buffer.from(stored.expected.buffer))).toBe(true);
    expect(proxy.log.filter(isSeriesGet)).toHaveLength(1);
    expect(frameGets()).toHaveLength(0);
  });

  test.each([
    ['a 500', { kind: 'status', status: 500 }],
    ['a 406', { kind: 'status', status: 406 }],
    ['a dropped connection', { kind: 'drop-mid-request' }],
  ] as const)(
    '%s on the series-level request: read frame by frame instead, voxel-identical',
    async (_, action) => {
      proxy.log.length = 0;
      proxy.setRule((r) => (isSeriesGet(r) ? action : { kind: 'pass' }));
      const r = await readSeries(viaProxy, stored.study, stored.series, { backoffMs: 5 });
      expect(r.retrieval).toBe('frames');
      expect(Buffer.from(r.volume.data.buffer).equals(Buffer.from(stored.expected.buffer))).toBe(true);
      expect(proxy.log.filter(isSeriesGet)).toHaveLength(1); // no retries of the series-level request
      expect(frameGets()).toHaveLength(6);
    },
  );

  test('401 on the series-level request: pacs-unauthorized, not a fallback', async () => {
    proxy.log.length = 0;
    proxy.setRule((r) => (isSeriesGet(r) ? { kind: 'status', status: 401 } : { kind: 'pass' }));
    await expectError(readSeries(viaProxy, stored.study, stored.series), 'pacs-unauthorized');
    expect(frameGets()).toHaveLength(0);
  });

  test('a 404 on a frame is final: no retry', async () => {
    proxy.log.length = 0;
    proxy.setRule((r) => (isFrame(r) ? { kind: 'status', status: 404 } : { kind: 'pass' }));
    await expectError(
      readSeries(viaProxy, stored.study, stored.series, {
        backoffMs: 5,
        concurrency: 1,
        retrieval: 'frames',
      }),
      'not-found',
    );
    expect(frameGets()).toHaveLength(1);
  });
});

describe('PACS faults during STOW', () => {
  const uidsOf = (v: Volume = smallVolume()) => {
    const { series } = buildSyntheticStudy({ volume: v, generation });
    return { series, uids: series.instances.map((i) => i.sopInstanceUid) };
  };

  test('401 on the first request: pacs-unauthorized, no retry, the one request carried every instance', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'status', status: 401 } : { kind: 'pass' }));
    const { series, uids } = uidsOf();
    const e = await expectError(stowInstances(viaProxy, series.instances, FAST), 'pacs-unauthorized');
    expect(posts()).toHaveLength(1); // no retries on 401
    expect(sopsSent(posts()[0])).toEqual(uids);
    // the credentials were refused: no QIDO check through them either
    expect(proxy.log.filter((r) => r.method === 'GET')).toHaveLength(0);
    expect(e.details.stored).toEqual([]);
    expect(notStoredUids(e)).toEqual(uids);
    expect(reasons(e).every((x) => /401/.test(x))).toBe(true);
    expect(await orthancStudy(series.studyInstanceUid)).toEqual({});
  });

  test('401 on the second batch: stops at once; partial-store with exactly the first batch, which is what Orthanc holds', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index >= 1 ? { kind: 'status', status: 401 } : { kind: 'pass' },
    );
    const { series, uids } = uidsOf();
    const e = await expectError(
      stowInstances(viaProxy, series.instances, { ...FAST, maxBatchInstances: 2 }),
      'partial-store',
    );
    expect(posts().map(sopsSent)).toEqual([uids.slice(0, 2), uids.slice(2, 4)]); // batch 3 never sent
    expect(e.details.stored).toEqual(uids.slice(0, 2));
    expect(notStoredUids(e)).toEqual(uids.slice(2));
    expect(
      reasons(e)
        .slice(0, 2)
        .every((x) => /401/.test(x)),
    ).toBe(true);
    expect(
      reasons(e)
        .slice(2)
        .every((x) => /^not sent: .*401/.test(x)),
    ).toBe(true);
    expect(e.details.cause).toBe('pacs-unauthorized');
    expect(Object.values(await orthancStudy(series.studyInstanceUid))).toEqual([uids.slice(0, 2).sort()]);
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
    const { series, uids } = uidsOf();
    const before = await orthancCounts(orthanc);
    const e = await expectError(
      stowInstances(direct, series.instances, { ...FAST, studyInstanceUid: newUid() }),
      'pacs-conflict',
    );
    expect(e.details.stored).toEqual([]);
    expect(notStoredUids(e)).toEqual(uids);
    expect(e.details.verified).toBe(true);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  test('409 on the second batch: no retry, nothing more sent; partial-store verified against Orthanc', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index >= 1 ? { kind: 'status', status: 409 } : { kind: 'pass' },
    );
    const { series, uids } = uidsOf();
    const e = await expectError(
      stowInstances(viaProxy, series.instances, { ...FAST, maxBatchInstances: 2 }),
      'partial-store',
    );
    expect(posts().map(sopsSent)).toEqual([uids.slice(0, 2), uids.slice(2, 4)]);
    expect(e.details.verified).toBe(true);
    expect(e.details.cause).toBe('pacs-conflict');
    expect(e.details.stored).toEqual(uids.slice(0, 2));
    expect(notStoredUids(e)).toEqual(uids.slice(2));
    expect(Object.values(await orthancStudy(series.studyInstanceUid))).toEqual([uids.slice(0, 2).sort()]);
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
    expect(posts().map((r) => r.upstreamStatus)).toEqual([undefined, 200, 200]);
    expect(await seriesInstances(w.studyInstanceUid, w.seriesInstanceUid)).toEqual(
      [...w.sopInstanceUids].sort(),
    );
    expect(await searchSeries(direct, w.studyInstanceUid)).toHaveLength(1);
    expect(await orthancStudy(w.studyInstanceUid)).toEqual({
      [Object.keys(await orthancStudy(w.studyInstanceUid))[0]]: [...w.sopInstanceUids].sort(),
    });
  });

  test('persistent 500 (never forwarded): the same request retried with backoff, then pacs-error; the QIDO check agrees with Orthanc', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'status', status: 500 } : { kind: 'pass' }));
    const { series, uids } = uidsOf();
    const waits: number[] = [];
    const e = await expectError(
      stowInstances(viaProxy, series.instances, { ...FAST, sleep: async (ms) => void waits.push(ms) }),
      'pacs-error',
    );
    expect(e.details.status).toBe(500);
    expect(posts()).toHaveLength(FAST.retries + 1);
    expect(waits).toEqual([FAST.backoffMs, FAST.backoffMs * 2]);
    for (const p of posts()) {
      expect(sopsSent(p)).toEqual(uids);
      expect(p.body!.equals(posts()[0].body!)).toBe(true);
    }
    // the final QIDO check ran through the proxy and found nothing, as Orthanc says
    expect(proxy.log.some((r) => r.method === 'GET' && r.url.includes(series.seriesInstanceUid))).toBe(true);
    expect(e.details.verified).toBe(true);
    expect(e.details.stored).toEqual([]);
    expect(notStoredUids(e)).toEqual(uids);
    expect(reasons(e).every((x) => /not acknowledged after 3 attempts/.test(x))).toBe(true);
    expect(await orthancStudy(series.studyInstanceUid)).toEqual({});
  });

  test('persistent 500 after Orthanc stored: the QIDO check finds everything: a verified success, one series', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' ? { kind: 'forward-then-status', status: 500 } : { kind: 'pass' },
    );
    const { series, uids } = uidsOf();
    const report = await stowInstances(viaProxy, series.instances, FAST);
    expect(posts()).toHaveLength(FAST.retries + 1);
    expect(posts().every((p) => p.upstreamStatus === 200)).toBe(true);
    expect(report.verified).toBe(true);
    expect(report.stored).toEqual(uids);
    expect(report.notStored).toEqual([]);
    expect(Object.values(await orthancStudy(series.studyInstanceUid))).toEqual([[...uids].sort()]);
  });

  test('connection dropped mid-request once (Orthanc saw nothing): retried, complete, no duplicates', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index === 0 ? { kind: 'drop-mid-request' } : { kind: 'pass' },
    );
    const w = await writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST);
    expect(w.report.notStored).toEqual([]);
    expect(w.report.requests).toBe(2);
    expect(posts()[0].upstreamStatus).toBeUndefined();
    expect(sopsSent(posts()[1])).toEqual(w.sopInstanceUids);
    expect(await seriesInstances(w.studyInstanceUid, w.seriesInstanceUid)).toEqual(
      [...w.sopInstanceUids].sort(),
    );
    expect(Object.values(await orthancStudy(w.studyInstanceUid))).toEqual([[...w.sopInstanceUids].sort()]);
  });

  test('response dropped after Orthanc stored the batch: retried safely, correct report, no duplicate series', async () => {
    proxy.setRule((r) =>
      r.method === 'POST' && r.index === 0 ? { kind: 'forward-then-drop' } : { kind: 'pass' },
    );
    const before = await orthancCounts(orthanc);
    const w = await writeSyntheticStudy(viaProxy, { volume: smallVolume(), generation }, FAST);
    // Orthanc stored the first attempt (its answer was dropped), and the retry sent the same bytes again
    expect(posts().map((r) => r.upstreamStatus)).toEqual([200, 200]);
    expect(posts()[1].body!.equals(posts()[0].body!)).toBe(true);
    expect(w.report.requests).toBe(2);
    expect(w.report.verified).toBe(true);
    expect(w.report.stored).toEqual(w.sopInstanceUids);
    expect(w.report.notStored).toEqual([]);
    expect(await orthancCounts(orthanc)).toEqual({
      studies: before.studies + 1,
      series: before.series + 1,
      instances: before.instances + w.sopInstanceUids.length,
    });
    expect(Object.values(await orthancStudy(w.studyInstanceUid))).toEqual([[...w.sopInstanceUids].sort()]);
    expect(await searchSeries(direct, w.studyInstanceUid)).toHaveLength(1);
  });

  test('drops between batches of a multi-batch STOW: the store stops at the dead batch; partial-store listing exactly what Orthanc stored and what it did not', async () => {
    // batch 1 passes; batch 2: Orthanc stores it but every answer is dropped (the PACS "stops
    // answering"); batch 3 would be dropped mid-request, but is never sent
    proxy.setRule((r) =>
      r.method !== 'POST' || r.index === 0
        ? { kind: 'pass' }
        : r.index <= FAST.retries + 1
          ? { kind: 'forward-then-drop' }
          : { kind: 'drop-mid-request' },
    );
    const { series, uids } = uidsOf();
    const e = await expectError(
      stowInstances(viaProxy, series.instances, { ...FAST, maxBatchInstances: 2 }),
      'partial-store',
    );
    const sent = posts();
    expect(sent.map(sopsSent)).toEqual([uids.slice(0, 2), ...Array(FAST.retries + 1).fill(uids.slice(2, 4))]);
    expect(sent.map((r) => r.upstreamStatus)).toEqual([200, ...Array(FAST.retries + 1).fill(200)]);
    expect(e.details.verified).toBe(true);
    expect(e.details.cause).toBe('network');
    // the QIDO check finds batch 2, whose answers were lost
    expect(e.details.stored).toEqual(uids.slice(0, 4));
    expect(notStoredUids(e)).toEqual(uids.slice(4));
    expect(reasons(e).every((x) => /^not sent: the PACS stopped answering/.test(x))).toBe(true);
    expect(e.message).toMatch(
      new RegExp(
        `^series ${series.seriesInstanceUid.replace(/\./g, '\\.')}: the PACS holds 4 of ${uids.length} instances \\(counted by QIDO\\)`,
      ),
    );
    expect(Object.values(await orthancStudy(series.studyInstanceUid))).toEqual([uids.slice(0, 4).sort()]);
  });

  test('connection always dropped mid-request: network error after the retries, nothing stored', async () => {
    proxy.setRule((r) => (r.method === 'POST' ? { kind: 'drop-mid-request' } : { kind: 'pass' }));
    const { series, uids } = uidsOf();
    const e = await expectError(stowInstances(viaProxy, series.instances, FAST), 'network');
    expect(posts()).toHaveLength(FAST.retries + 1);
    expect(posts().every((r) => r.upstreamStatus === undefined && (r.body?.length ?? 0) > 0)).toBe(true);
    expect(notStoredUids(e)).toEqual(uids);
    expect(e.details.verified).toBe(true);
    expect(await orthancStudy(series.studyInstanceUid)).toEqual({});
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

describe('a PACS that limits QIDO results (Orthanc with LimitFindInstances 5)', () => {
  let limited: OrthancInstance;
  let t: DicomwebTransport;

  beforeAll(async () => {
    limited = await startOrthanc({ config: { LimitFindInstances: 5, LimitFindResults: 5 } });
    t = orthancTransport(limited);
  }, 60000);
  afterAll(async () => {
    await limited?.stop();
  });

  test('the final check finds all 12 instances although one QIDO answer holds at most 6', async () => {
    const { series } = buildSyntheticStudy({ volume: smallVolume(12), generation });
    const uids = series.instances.map((i) => i.sopInstanceUid);
    const report = await stowInstances(t, series.instances, FAST);
    expect(report.verified).toBe(true);
    expect(report.stored).toEqual(uids);
    // the limit is real: one plain QIDO search does not list the whole series
    const plain = await searchInstances(t, series.studyInstanceUid, series.seriesInstanceUid);
    expect(plain.length).toBeLessThan(12);
    // Orthanc's REST API (not limited) holds all 12
    const res = await fetch(`${limited.url}/tools/lookup`, {
      method: 'POST',
      headers: { authorization: limited.authorization },
      body: series.seriesInstanceUid,
    });
    const [{ ID }] = (await res.json()) as { ID: string }[];
    const s = (await (
      await fetch(`${limited.url}/series/${ID}`, { headers: { authorization: limited.authorization } })
    ).json()) as { Instances: string[] };
    expect(s.Instances).toHaveLength(12);
  });

  test('a partial store is reported exactly (stored ones found past the QIDO limit)', async () => {
    const { series } = buildSyntheticStudy({ volume: smallVolume(12), generation });
    const garbageUid = newUid();
    const e = await expectError(
      stowInstances(
        t,
        [
          ...series.instances,
          {
            bytes: new Uint8Array(2000).fill(7),
            studyInstanceUid: series.studyInstanceUid,
            seriesInstanceUid: series.seriesInstanceUid,
            sopInstanceUid: garbageUid,
          },
        ],
        { ...FAST, maxBatchInstances: 5 },
      ),
      'partial-store',
    );
    expect(e.details.verified).toBe(true);
    expect(e.details.stored).toEqual(series.instances.map((i) => i.sopInstanceUid));
    expect(notStoredUids(e)).toEqual([garbageUid]);
  });
});
