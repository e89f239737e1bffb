/**
 * The development/demo server (platform-config/server.mjs, run as a process)
 * in front of a real Orthanc: cross-origin isolation headers, the import map
 * injected into index.html, app-config.js without credentials, the DICOMweb
 * reverse proxy (credentials injected server-side, the client's Host kept for
 * BulkDataURIs, only DICOMweb resources reachable) and the 404s.
 *
 * The viewer directory is a small stand-in (the server treats OHIF's dist as
 * opaque static files); the real viewer is exercised by viewer.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFetchTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import { importInstances } from '../support/seed';
import { freePort, startOrthanc, type OrthancInstance } from '../support/orthanc';
import {
  bulkDataUris,
  evaluateAppConfig,
  expectIsolated,
  importMapIn,
  request,
  type RawResponse,
} from './httpClient';
import { APP_CONFIG, spawnViewerServer, type ServerProcess } from './stack';

const IMPORT_MAP = {
  imports: {
    '@geometry-ldm/extension': '/geometry-ldm/bundles/extension.js',
    '@geometry-ldm/mode-synthesis': '/geometry-ldm/bundles/mode-synthesis.js',
  },
};
const VIEWER_INDEX =
  '<!doctype html><html lang="en"><head><meta charset="UTF-8"><script type="module" src="/app.bundle.js"></script></head><body><div id="root"></div></body></html>';

let orthanc: OrthancInstance;
let server: ServerProcess;
let dir: string;
let study: string;
let series: string;

function fixtureDirs(root: string) {
  const viewerDir = path.join(root, 'viewer');
  const bundlesDir = path.join(root, 'bundles');
  const modelDir = path.join(root, 'model');
  for (const d of [viewerDir, bundlesDir, modelDir]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(viewerDir, 'index.html'), VIEWER_INDEX);
  fs.writeFileSync(path.join(viewerDir, 'app.bundle.js'), 'console.log("viewer");\n');
  // The viewer's own app-config (a public demo PACS): must never be served.
  fs.writeFileSync(path.join(viewerDir, 'app-config.js'), 'window.config = { demo: "d14fa38qiwhyfd" };\n');
  fs.writeFileSync(path.join(bundlesDir, 'importmap.json'), JSON.stringify(IMPORT_MAP));
  fs.writeFileSync(path.join(bundlesDir, 'extension.js'), 'export default { id: "x" };\n');
  fs.writeFileSync(path.join(modelDir, 'model.json'), '{"name":"fixture"}\n');
  fs.writeFileSync(path.join(modelDir, 'unet.onnx'), Buffer.alloc(1000, 7));
  return { viewerDir, bundlesDir, modelDir };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gldm-server-test-'));
  orthanc = await startOrthanc();
  server = await spawnViewerServer({
    orthancUrl: orthanc.url,
    authorization: orthanc.authorization,
    ...fixtureDirs(dir),
  });
  // Two real CT instances, stored THROUGH the proxy (STOW, credentials added by the server).
  const { instances } = importInstances('lung-pet-ct-dx-a0002');
  const viaProxy = createFetchTransport({ root: `${server.url}/dicom-web` });
  const report = await stowInstances(viaProxy, instances.slice(0, 2));
  expect(report.notStored).toEqual([]);
  study = instances[0].studyInstanceUid;
  series = instances[0].seriesInstanceUid;
});

afterAll(async () => {
  await server?.stop();
  await orthanc?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('static viewer', () => {
  it('serves index.html with the import map first in <head>, for / and for client-side routes', async () => {
    for (const p of ['/', '/index.html', `/synthesis?StudyInstanceUIDs=${study}`, '/viewer/anything']) {
      const res = await request(`${server.url}${p}`);
      expect(res.status).toBe(200);
      expectIsolated(res);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const html = res.text();
      expect(importMapIn(html)).toEqual(IMPORT_MAP);
      // Before any module script: an import map after one is ignored by browsers.
      expect(html.indexOf('type="importmap"')).toBeLessThan(html.indexOf('type="module"'));
      expect(html.startsWith('<!doctype html><html lang="en"><head><script type="importmap">')).toBe(true);
    }
  });

  it('serves our app-config.js (never the viewer own), pointing the data source at the same origin', async () => {
    const res = await request(`${server.url}/app-config.js`);
    expect(res.status).toBe(200);
    expectIsolated(res);
    expect(res.text()).toBe(fs.readFileSync(APP_CONFIG, 'utf8'));
    const config = evaluateAppConfig(res.text(), server.url) as {
      extensions: string[];
      modes: string[];
      dataSources: { configuration: Record<string, string> }[];
      geometryLdm: Record<string, string>;
    };
    const ds = config.dataSources[0].configuration;
    for (const k of ['qidoRoot', 'wadoRoot', 'wadoUriRoot']) expect(ds[k]).toBe(`${server.url}/dicom-web`);
    // Every module name registered is one the import map resolves.
    expect([...config.extensions, ...config.modes].sort()).toEqual(Object.keys(IMPORT_MAP.imports).sort());
    expect(config.geometryLdm.modelUrl).toBe(`${server.url}/geometry-ldm/model/`);
    const model = await request(`${config.geometryLdm.modelUrl}model.json`);
    expect(model.json()).toEqual({ name: 'fixture' });
  });

  it('no PACS credentials reach the browser: not in app-config.js, index.html or any response header', async () => {
    const secrets = [orthanc.password, orthanc.authorization, orthanc.authorization.slice('Basic '.length)];
    const responses = await Promise.all(
      ['/', '/app-config.js', '/geometry-ldm/bundles/extension.js', `/dicom-web/studies/${study}/series`].map(
        (p) => request(`${server.url}${p}`),
      ),
    );
    for (const res of responses) {
      const everything = res.text() + JSON.stringify(res.headers);
      for (const s of secrets) expect(everything).not.toContain(s);
    }
  });

  it('serves bundles, model and ORT files with revalidation (ETag, 304)', async () => {
    const first = await request(`${server.url}/geometry-ldm/model/unet.onnx`);
    expect(first.status).toBe(200);
    expect(first.body.length).toBe(1000);
    expect(first.headers['cache-control']).toBe('no-cache');
    const again = await request(`${server.url}/geometry-ldm/model/unet.onnx`, {
      headers: { 'If-None-Match': String(first.headers.etag) },
    });
    expect(again.status).toBe(304);
    expectIsolated(again);
    const wasm = await request(`${server.url}/geometry-ldm/ort/ort-wasm-simd-threaded.jsep.wasm`);
    expect([wasm.status, wasm.headers['content-type']]).toEqual([200, 'application/wasm']);
    const mjs = await request(`${server.url}/geometry-ldm/ort/ort-wasm-simd-threaded.jsep.mjs`);
    expect([mjs.status, mjs.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
  });

  it('404s: missing files, directories, path traversal; 405 for writes outside DICOMweb', async () => {
    const notFound = [
      '/geometry-ldm/model/missing.onnx',
      '/geometry-ldm/model/',
      '/geometry-ldm/bundles/nothing.js',
      '/missing-asset.js',
      '/geometry-ldm/model/..%2f..%2f..%2fetc%2fpasswd',
      '/geometry-ldm/model/%2e%2e/%2e%2e/package.json',
    ];
    for (const p of notFound) {
      const res = await request(`${server.url}${p}`);
      expect([p, res.status]).toEqual([p, 404]);
      expectIsolated(res);
    }
    expect((await request(`${server.url}/`, { method: 'POST' })).status).toBe(405);
    expect((await request(`${server.url}/dicom-web/studies/${study}`, { method: 'DELETE' })).status).toBe(
      405,
    );
  });
});

describe('DICOMweb reverse proxy', () => {
  function sameStudies(a: RawResponse, b: RawResponse) {
    const uids = (r: RawResponse) =>
      r.json<Record<string, { Value: string[] }>[]>().map((s) => s['0020000D'].Value[0]);
    expect(uids(a)).toEqual(uids(b));
  }

  it('answers QIDO as Orthanc does, with the credentials added server-side (browser ones ignored)', async () => {
    const direct = await request(`${orthanc.dicomWebRoot}/studies`, {
      headers: { Authorization: orthanc.authorization },
    });
    const proxied = await request(`${server.url}/dicom-web/studies`);
    const spoofed = await request(`${server.url}/dicom-web/studies`, {
      headers: { Authorization: 'Basic ' + Buffer.from('intruder:guess').toString('base64') },
    });
    expect([direct.status, proxied.status, spoofed.status]).toEqual([200, 200, 200]);
    sameStudies(direct, proxied);
    sameStudies(direct, spoofed);
    expect(proxied.json<unknown[]>()).toHaveLength(1);
    expectIsolated(proxied);
    // Orthanc refuses the same request without credentials: the proxy is what adds them.
    expect((await request(`${orthanc.dicomWebRoot}/studies`)).status).toBe(401);
  });

  it("builds BulkDataURIs on the viewer's origin: the Host the browser used, port included", async () => {
    const metaPath = `/dicom-web/studies/${study}/series/${series}/metadata`;
    const viaServer = await request(`${server.url}${metaPath}`);
    expect(viaServer.status).toBe(200);
    const uris = bulkDataUris(viaServer.json());
    expect(uris.length).toBe(2);
    for (const u of uris) expect(u.startsWith(`${server.url}/dicom-web/studies/${study}/`)).toBe(true);
    // A deployment name (e.g. behind a DNS alias): kept as the client sent it.
    const aliased = await request(`${server.url}${metaPath}`, {
      headers: { Host: 'viewer.hospital.example:8443' },
    });
    for (const u of bulkDataUris(aliased.json())) {
      expect(u.startsWith('http://viewer.hospital.example:8443/dicom-web/')).toBe(true);
    }
    // And the URI works through the proxy: the pixel data of the first instance.
    const bulk = await request(uris[0], {
      headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    });
    expect(bulk.status).toBe(200);
    expect(bulk.body.length).toBeGreaterThan(512 * 512 * 2);
  });

  it('exposes only studies/series/instances of DICOMweb: no other Orthanc endpoint is reachable', async () => {
    for (const p of ['/dicom-web/servers', '/dicom-web/info', '/dicom-web/', '/dicom-web']) {
      expect([p, (await request(`${server.url}${p}`)).status]).toEqual([p, 404]);
    }
    // Orthanc's own REST API paths are client-side routes of the viewer here, answered with index.html.
    for (const p of ['/system', '/patients', '/tools/find', '/dicom-web/../system']) {
      const res = await request(`${server.url}${p}`);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text()).toContain('<div id="root">');
    }
  });

  it('wrong server-side credentials become 502 without a browser login prompt; a dead PACS is 502', async () => {
    const wrong = await spawnViewerServer({
      orthancUrl: orthanc.url,
      authorization: 'Basic ' + Buffer.from(`${orthanc.user}:wrong`).toString('base64'),
      ...fixtureDirs(path.join(dir, 'wrong')),
    });
    const deadPort = await freePort();
    const dead = await spawnViewerServer({
      orthancUrl: `http://127.0.0.1:${deadPort}`,
      authorization: orthanc.authorization,
      ...fixtureDirs(path.join(dir, 'dead')),
    });
    try {
      const res = await request(`${wrong.url}/dicom-web/studies`);
      expect(res.status).toBe(502);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expectIsolated(res);
      const down = await request(`${dead.url}/dicom-web/studies`);
      expect(down.status).toBe(502);
      expect(down.text()).toMatch(/^PACS unreachable/);
    } finally {
      await Promise.all([wrong.stop(), dead.stop()]);
    }
  });
});
