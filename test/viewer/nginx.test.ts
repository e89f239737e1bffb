/**
 * The production recipe, platform-config/nginx/geometry-ldm.conf, run by
 * Debian's nginx in front of a real Orthanc: only the values marked "SITE:"
 * are substituted (each must be found exactly once, so the test follows the
 * file). Same expectations as the development server: isolation headers, the
 * import map (the same as the bundle build writes), credentials added
 * server-side, BulkDataURIs on the viewer's origin, only DICOMweb reachable.
 * Skipped when nginx is not installed, except under CI (process.env.CI), where
 * that fails (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import { createFetchTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { freePort, startOrthanc, type OrthancInstance } from '../support/orthanc';
import { importInstances } from '../support/seed';
import { bulkDataUris, evaluateAppConfig, expectIsolated, importMapIn, request } from './httpClient';
import { APP_CONFIG, REPO } from './stack';
import { fileRequirement } from '../support/requirements';

const NGINX = '/usr/sbin/nginx';
const SITE_CONF = path.join(REPO, 'platform-config', 'nginx', 'geometry-ldm.conf');
const ORT_DIST = path.join(REPO, 'node_modules', 'onnxruntime-web', 'dist');
// Skipped locally when nginx is missing; under CI a missing nginx fails instead.
const describeIfNginx = fileRequirement(`nginx (${NGINX})`, NGINX, 'apt install nginx').describe;

function replaceOnce(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`expected "${from}" once in geometry-ldm.conf, found ${n} times`);
  return text.replace(from, to);
}

interface Nginx {
  readonly url: string;
  stop(): Promise<void>;
}

/** The site file with its SITE values pointed at `root`'s fixtures, inside a minimal nginx.conf. */
function writeNginxConf(root: string, port: number, orthancPort: number, authorization: string): string {
  const www = path.join(root, 'www');
  for (const d of ['viewer', 'bundles', 'model', 'tmp']) fs.mkdirSync(path.join(www, d), { recursive: true });
  fs.writeFileSync(
    path.join(www, 'viewer', 'index.html'),
    '<!doctype html><html lang="en"><head><script type="module" src="/app.bundle.js"></script></head><body><div id="root"></div></body></html>',
  );
  fs.writeFileSync(path.join(www, 'viewer', 'app.bundle.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(www, 'bundles', 'extension.js'), 'export default {};\n');
  fs.writeFileSync(path.join(www, 'model', 'model.json'), '{"name":"fixture"}\n');
  fs.writeFileSync(
    path.join(root, 'pacs-auth.conf'),
    `proxy_set_header Authorization "${authorization}";\n`,
    {
      mode: 0o600,
    },
  );
  let site = fs.readFileSync(SITE_CONF, 'utf8');
  site = replaceOnce(site, 'server 127.0.0.1:8042;', `server 127.0.0.1:${orthancPort};`);
  site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${port};`);
  site = replaceOnce(site, 'root /var/www/geometry-ldm/viewer;', `root ${www}/viewer;`);
  site = replaceOnce(site, 'alias /etc/geometry-ldm/app-config.js;', `alias ${APP_CONFIG};`);
  site = replaceOnce(site, 'alias /var/www/geometry-ldm/bundles/;', `alias ${www}/bundles/;`);
  site = replaceOnce(site, 'alias /var/www/geometry-ldm/model/;', `alias ${www}/model/;`);
  site = replaceOnce(site, 'alias /var/www/geometry-ldm/ort/;', `alias ${ORT_DIST}/;`);
  site = replaceOnce(site, 'include /etc/geometry-ldm/pacs-auth.conf;', `include ${root}/pacs-auth.conf;`);
  fs.writeFileSync(path.join(root, 'site.conf'), site);
  const tmp = path.join(www, 'tmp');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const main = [
    // As root, workers would otherwise run as nobody and could not read the temp fixtures.
    isRoot ? 'user root;' : '',
    'worker_processes 1;',
    'daemon off;',
    `pid ${root}/nginx.pid;`,
    `error_log ${root}/error.log warn;`,
    'events { worker_connections 64; }',
    'http {',
    '  include /etc/nginx/mime.types;',
    '  default_type application/octet-stream;',
    '  access_log off;',
    `  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fastcgi;`,
    `  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;`,
    `  include ${root}/site.conf;`,
    '}',
  ].join('\n');
  const conf = path.join(root, 'nginx.conf');
  fs.writeFileSync(conf, main);
  return conf;
}

async function startNginx(root: string, orthancPort: number, authorization: string): Promise<Nginx> {
  fs.mkdirSync(root, { recursive: true });
  const port = await freePort();
  const conf = writeNginxConf(root, port, orthancPort, authorization);
  const check = spawnSync(NGINX, ['-t', '-p', root, '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t failed:\n${check.stderr}`);
  const child: ChildProcess = spawn(NGINX, ['-p', root, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (d) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await request(`${url}/app-config.js`);
      return {
        url,
        stop: async () => {
          child.kill('SIGQUIT');
          await exited;
        },
      };
    } catch {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error(
    `nginx did not start:\n${output}\n${fs.readFileSync(path.join(root, 'error.log'), 'utf8')}`,
  );
}

describeIfNginx('nginx recipe (platform-config/nginx/geometry-ldm.conf)', () => {
  let orthanc: OrthancInstance;
  let nginx: Nginx;
  let dir: string;
  let study: string;
  let series: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gldm-nginx-test-'));
    fs.chmodSync(dir, 0o755);
    orthanc = await startOrthanc();
    nginx = await startNginx(path.join(dir, 'ok'), orthanc.port, orthanc.authorization);
    // STOW through nginx: POST allowed, body streamed, credentials added by nginx.
    const { instances } = importInstances('lung-pet-ct-dx-a0002');
    const report = await stowInstances(
      createFetchTransport({ root: `${nginx.url}/dicom-web` }),
      instances.slice(0, 2),
    );
    expect(report.notStored).toEqual([]);
    study = instances[0].studyInstanceUid;
    series = instances[0].seriesInstanceUid;
  });

  afterAll(async () => {
    await nginx?.stop();
    await orthanc?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('injects the import map the bundle build writes, on / and on client-side routes, with isolation headers', async () => {
    const built = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { importMapFor } from '${REPO}/platform-config/scripts/build-extension.mjs'; console.log(JSON.stringify(importMapFor()));`,
      ],
      { encoding: 'utf8' },
    );
    expect(built.status).toBe(0);
    const expected = JSON.parse(built.stdout);
    for (const p of ['/', '/index.html', `/synthesis?StudyInstanceUIDs=${study}`]) {
      const res = await request(`${nginx.url}${p}`);
      expect([p, res.status]).toEqual([p, 200]);
      expectIsolated(res);
      expect(importMapIn(res.text())).toEqual(expected);
    }
  });

  it('serves app-config.js (no credentials), bundles, the model and ORT modules as JavaScript; 404 for missing files', async () => {
    const cfg = await request(`${nginx.url}/app-config.js`);
    expect(cfg.status).toBe(200);
    expectIsolated(cfg);
    expect(cfg.text()).not.toContain(orthanc.password);
    const config = evaluateAppConfig(cfg.text(), nginx.url) as {
      dataSources: { configuration: { qidoRoot: string } }[];
    };
    expect(config.dataSources[0].configuration.qidoRoot).toBe(`${nginx.url}/dicom-web`);
    expect((await request(`${nginx.url}/geometry-ldm/model/model.json`)).json()).toEqual({ name: 'fixture' });
    expect((await request(`${nginx.url}/geometry-ldm/bundles/extension.js`)).status).toBe(200);
    const mjs = await request(`${nginx.url}/geometry-ldm/ort/ort-wasm-simd-threaded.jsep.mjs`);
    expect([mjs.status, mjs.headers['content-type']]).toEqual([200, 'text/javascript']);
    const wasm = await request(`${nginx.url}/geometry-ldm/ort/ort-wasm-simd-threaded.jsep.wasm`);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    for (const p of ['/missing.js', '/geometry-ldm/model/missing.onnx', '/geometry-ldm/bundles/none.js']) {
      const res = await request(`${nginx.url}${p}`);
      expect([p, res.status]).toEqual([p, 404]);
      expectIsolated(res);
    }
  });

  it('proxies DICOMweb with credentials added and BulkDataURIs on its own origin; nothing else of Orthanc', async () => {
    const spoofed = await request(`${nginx.url}/dicom-web/studies`, {
      headers: { Authorization: 'Basic ' + Buffer.from('intruder:guess').toString('base64') },
    });
    expect(spoofed.status).toBe(200);
    expect(spoofed.json<unknown[]>()).toHaveLength(1);
    expectIsolated(spoofed);
    const meta = await request(`${nginx.url}/dicom-web/studies/${study}/series/${series}/metadata`);
    const uris = bulkDataUris(meta.json());
    expect(uris).toHaveLength(2);
    for (const u of uris) expect(u.startsWith(`${nginx.url}/dicom-web/studies/${study}/`)).toBe(true);
    for (const p of ['/dicom-web/servers', '/dicom-web/info', '/dicom-web/']) {
      expect([p, (await request(`${nginx.url}${p}`)).status]).toEqual([p, 404]);
    }
    expect((await request(`${nginx.url}/dicom-web/studies/${study}`, { method: 'DELETE' })).status).toBe(403);
  });

  it('wrong credentials in the site configuration become 502 (browsers prompt for a login on 401 only)', async () => {
    const wrong = await startNginx(
      path.join(dir, 'wrong'),
      orthanc.port,
      'Basic ' + Buffer.from(`${orthanc.user}:wrong`).toString('base64'),
    );
    try {
      const res = await request(`${wrong.url}/dicom-web/studies`);
      expect(res.status).toBe(502);
      expect(res.text()).toBe("the PACS refused the server's credentials\n");
      expectIsolated(res);
    } finally {
      await wrong.stop();
    }
  });
});
