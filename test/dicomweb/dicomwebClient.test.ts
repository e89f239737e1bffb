/**
 * The dicomweb-client transport (createDicomwebClientTransport: the browser's,
 * here in Node over the xhr2 XMLHttpRequest) against a real Orthanc, behind a
 * pass-through proxy that logs what went over the wire: QIDO, WADO-RS metadata
 * and frames in their stored transfer syntax (JPEG 2000 included, which Orthanc
 * cannot transcode), STOW-RS with its response body read, errors typed. Reads
 * are compared with the independent pydicom reader; stores with Orthanc's own
 * REST API. Also times a read with both transports (for BENCHMARKS.md).
 */
import * as fs from 'node:fs';
import XMLHttpRequest from 'xhr2';
import { createDicomwebClientTransport } from '../../extensions/geometry-ldm/src/dicom/dicomwebClientTransport';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { searchInstances, searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import {
  ACCEPT_ANY_FRAME,
  ACCEPT_ANY_INSTANCE,
  type DicomwebTransport,
} from '../../extensions/geometry-ldm/src/dicom/transport';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import {
  buildSyntheticStudy,
  writeSyntheticStudy,
} from '../../extensions/geometry-ldm/src/dicom/writeSyntheticStudy';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';
import { orthancTransport } from '../support/dicomweb';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { freePort, startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference, sha256 } from '../support/reference';
import { seedSeries, type SeededSeries } from '../support/seed';

let orthanc: OrthancInstance;
let proxy: FaultProxy;
let client: DicomwebTransport;
let headerCalls = 0;
const seeded: Record<string, SeededSeries> = {};

beforeAll(async () => {
  orthanc = await startOrthanc();
  const direct = orthancTransport(orthanc);
  for (const name of ['lung-pet-ct-dx-a0002', 'totalseg-abdomen'] as const) {
    seeded[name] = await seedSeries(direct, name);
  }
  proxy = await startFaultProxy(orthanc.url);
  client = createDicomwebClientTransport({
    root: `${proxy.url}/dicom-web`,
    XMLHttpRequest,
    headers: () => {
      headerCalls++;
      return { Authorization: orthanc.authorization };
    },
  });
}, 120000);

afterAll(async () => {
  await proxy?.close();
  await orthanc?.stop();
});

beforeEach(() => proxy.setRule(() => ({ kind: 'pass' })));

const generation = {
  grid: [16, 16, 6],
  spacingMm: [1, 1, 2],
  fov: null,
  rotationDeg: [0, 0, 0],
  seed: 1,
  sampler: 'ddim',
  model: { name: 'client-test', version: '0' },
};
const volume = (nz = 6) =>
  makeVolume(
    [16, 16, nz],
    [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1],
    new Float32Array(16 * 16 * nz).map((_, n) => (n % 50) - 25),
    'HU',
  );

function sliceHashes(v: { dims: readonly number[]; data: Float32Array }): string[] {
  const [nx, ny, nz] = v.dims;
  return Array.from({ length: nz }, (_, k) => sha256(v.data.subarray(k * nx * ny, (k + 1) * nx * ny)));
}

/** Orthanc's own count of a series' instances (REST, not DICOMweb). */
async function orthancSeriesSize(seriesInstanceUid: string): Promise<number> {
  const auth = { authorization: orthanc.authorization };
  const lookup = (await (
    await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', headers: auth, body: seriesInstanceUid })
  ).json()) as { ID: string }[];
  if (lookup.length === 0) return 0;
  const s = (await (await fetch(`${orthanc.url}/series/${lookup[0].ID}`, { headers: auth })).json()) as {
    Instances: string[];
  };
  return s.Instances.length;
}

test('QIDO: studies, series and instances as Orthanc answers them, with the auth header per request', async () => {
  const before = headerCalls;
  const s = seeded['lung-pet-ct-dx-a0002'];
  const studies = await searchStudies(client);
  expect(studies.map((x) => x.studyInstanceUid).sort()).toEqual(
    [...new Set(Object.values(seeded).map((x) => x.studyInstanceUid))].sort(),
  );
  const series = await searchSeries(client, s.studyInstanceUid, { Modality: 'CT' });
  expect(series.map((x) => x.seriesInstanceUid)).toEqual([s.seriesInstanceUid]);
  const instances = await searchInstances(client, s.studyInstanceUid, s.seriesInstanceUid, {
    limit: 7,
    offset: 3,
  });
  expect(instances).toHaveLength(7);
  expect(proxy.log.map((r) => r.method)).toEqual(['GET', 'GET', 'GET']);
  expect(proxy.log[1].url).toContain('Modality=CT');
  expect(proxy.log.every((r) => r.authorization === orthanc.authorization)).toBe(true);
  expect(headerCalls - before).toBe(3);
});

test.each(['lung-pet-ct-dx-a0002', 'totalseg-abdomen'])(
  'readSeries %s through dicomweb-client: voxel for voxel equal to the independent reader',
  async (name) => {
    const s = seeded[name];
    const ref = readReference(s.dir);
    const r = await readSeries(client, s.studyInstanceUid, s.seriesInstanceUid);
    expect(r.transferSyntaxUids).toEqual([ref.transferSyntax]);
    expect(r.volume.dims).toEqual(ref.dims);
    expect(sliceHashes(r.volume)).toEqual(ref.sliceSha256);
    // one series-level request for whole instances as stored (dicomweb-client's retrieveSeries)
    expect(r.retrieval).toBe('series');
    const whole = proxy.log.filter((x) => x.url.endsWith(`/series/${s.seriesInstanceUid}`));
    expect(whole.map((x) => x.accept)).toEqual([ACCEPT_ANY_INSTANCE]);
    expect(proxy.log.filter((x) => /\/frames\/1$/.test(x.url))).toHaveLength(0);
    // frame by frame: asked for in any stored transfer syntax (dicomweb-client built the Accept header)
    proxy.log.length = 0;
    const f = await readSeries(client, s.studyInstanceUid, s.seriesInstanceUid, { retrieval: 'frames' });
    expect(sliceHashes(f.volume)).toEqual(ref.sliceSha256);
    const frames = proxy.log.filter((x) => /\/frames\/1$/.test(x.url));
    expect(frames).toHaveLength(ref.dims[2]);
    expect(frames.every((x) => x.accept === ACCEPT_ANY_FRAME)).toBe(true);
  },
);

test('STOW through storeInstances: verified, and what Orthanc holds', async () => {
  const w = await writeSyntheticStudy(client, { volume: volume(), generation });
  expect(w.report.verified).toBe(true);
  expect(w.report.stored).toEqual(w.sopInstanceUids);
  expect(await orthancSeriesSize(w.seriesInstanceUid)).toBe(6);
  expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(1);
});

test('STOW response body is read: a 400 that stored the good instances is an exact partial-store', async () => {
  const { series } = buildSyntheticStudy({ volume: volume(3), generation });
  const garbage = newUid();
  const e = await stowInstances(client, [
    ...series.instances,
    {
      bytes: new Uint8Array(2000).fill(7),
      studyInstanceUid: series.studyInstanceUid,
      seriesInstanceUid: series.seriesInstanceUid,
      sopInstanceUid: garbage,
    },
  ]).catch((x) => x);
  expect(e).toBeInstanceOf(DicomError);
  expect(e.code).toBe('partial-store');
  expect(proxy.log.find((r) => r.method === 'POST')!.upstreamStatus).toBe(400);
  expect(e.details.stored).toEqual(series.instances.map((i) => i.sopInstanceUid));
  expect(e.details.notStored.map((f: { sopInstanceUid: string }) => f.sopInstanceUid)).toEqual([garbage]);
  expect(await orthancSeriesSize(series.seriesInstanceUid)).toBe(3);
});

test('errors: 401 pacs-unauthorized, 404 not-found, dropped connection network (retried)', async () => {
  const bad = createDicomwebClientTransport({
    root: orthanc.dicomWebRoot,
    XMLHttpRequest,
    headers: { Authorization: 'Basic ' + Buffer.from('x:y').toString('base64') },
  });
  const s = seeded['lung-pet-ct-dx-a0002'];
  await expect(readSeries(bad, s.studyInstanceUid, s.seriesInstanceUid)).rejects.toMatchObject({
    code: 'pacs-unauthorized',
  });
  await expect(readSeries(client, s.studyInstanceUid, '1.2.3.4.5')).rejects.toMatchObject({
    code: 'not-found',
  });
  const closed = createDicomwebClientTransport({
    root: `http://127.0.0.1:${await freePort()}/dicom-web`,
    XMLHttpRequest,
  });
  await expect(searchStudies(closed)).rejects.toMatchObject({ code: 'network' });
  // a dropped STOW is retried and ends complete
  proxy.setRule((r) =>
    r.method === 'POST' && r.index === 0 ? { kind: 'forward-then-drop' } : { kind: 'pass' },
  );
  const w = await writeSyntheticStudy(client, { volume: volume(), generation }, { backoffMs: 5 });
  expect(w.report.requests).toBe(2);
  expect(w.report.stored).toEqual(w.sopInstanceUids);
  expect(await orthancSeriesSize(w.seriesInstanceUid)).toBe(6);
});

test('a request it has no dicomweb-client call for: invalid-input (nothing sent)', async () => {
  await expect(client.request({ service: 'wado', path: 'studies/1.2/rendered' })).rejects.toMatchObject({
    code: 'invalid-input',
  });
  expect(proxy.log).toHaveLength(0);
});

test('read timing, dicomweb-client vs fetch transport (lung-pet-ct-dx-a0002, loopback; logged for BENCHMARKS.md)', async () => {
  const s = seeded['lung-pet-ct-dx-a0002'];
  const fetchT = orthancTransport(orthanc);
  const xhrT = createDicomwebClientTransport({
    root: orthanc.dicomWebRoot,
    XMLHttpRequest,
    headers: { Authorization: orthanc.authorization },
  });
  const time = async (t: DicomwebTransport): Promise<number> => {
    const t0 = performance.now();
    await readSeries(t, s.studyInstanceUid, s.seriesInstanceUid);
    return performance.now() - t0;
  };
  await time(fetchT);
  await time(xhrT); // warm-up
  const runs: { fetch: number; client: number }[] = [];
  for (let n = 0; n < 3; n++) runs.push({ fetch: await time(fetchT), client: await time(xhrT) });
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1];
  const result = {
    series: 'lung-pet-ct-dx-a0002',
    instances: 30,
    mb: s.bytes / 1e6,
    fetchMs: median(runs.map((r) => r.fetch)),
    dicomwebClientMs: median(runs.map((r) => r.client)),
  };
  fs.mkdirSync('test-artifacts/bench', { recursive: true });
  fs.writeFileSync(
    'test-artifacts/bench/dicomweb-transports.json',
    JSON.stringify({ result, runs }, null, 2),
  );
  console.log(JSON.stringify(result));
  expect(result.dicomwebClientMs).toBeGreaterThan(0);
});
