#!/usr/bin/env node
/**
 * `npm start`: the whole demo stack on one machine (Debian), in the foreground.
 *
 *   1. installs what is missing: Debian's orthanc + orthanc-dicomweb (as root, apt-get), the npm
 *      packages (npm ci) when node_modules is absent;
 *   2. fetches the prebuilt OHIF viewer (scripts/fetch-viewer.mjs) and bundles the extension, the
 *      mode and the inference worker (scripts/build-extension.mjs);
 *   3. starts Orthanc on a free loopback port, HTTP authentication on (random password kept in
 *      the state directory, never sent to the browser), DICOM port off, data kept between runs;
 *   4. seeds it with the real CT of ../shared/data (series already there are skipped);
 *   5. serves the viewer (server.mjs) and prints the URL.
 *
 * Ctrl-C or `npm stop` (scripts/stop.mjs, via the pid file) stops the server and Orthanc.
 *
 * Environment: PORT (8080), HOST (127.0.0.1), GEOMETRY_LDM_DATA_DIR (../shared/data),
 * GEOMETRY_LDM_MODEL_DIR (models/geometry-ldm-demo), GEOMETRY_LDM_STATE_DIR
 * (platform-config/.cache/state), GEOMETRY_LDM_SEED=0 to skip seeding.
 * Only Node built-ins are imported statically: npm packages may not be installed yet.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const ORTHANC_BIN = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const STATE_DIR = path.resolve(
  process.env.GEOMETRY_LDM_STATE_DIR ?? path.join(REPO_ROOT, 'platform-config', '.cache', 'state'),
);
export const PID_FILE = path.join(STATE_DIR, 'run.json');

const log = (m) => console.log(`[start] ${m}`);

export function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export function readPidFile() {
  try {
    return JSON.parse(fs.readFileSync(PID_FILE, 'utf8'));
  } catch {
    return null;
  }
}

/** The command line of a process (to check a pid from the file is still ours). */
export function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function ensureSystemPackages() {
  const missing = [];
  if (!fs.existsSync(ORTHANC_BIN)) missing.push('orthanc');
  if (!fs.existsSync(DICOMWEB_PLUGIN)) missing.push('orthanc-dicomweb');
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(
      `missing ${missing.join(', ')}: run  sudo apt-get install ${missing.join(' ')}  and retry`,
    );
  }
  log(`installing ${missing.join(', ')} (apt-get) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
}

function ensureNodeModules() {
  if (fs.existsSync(path.join(REPO_ROOT, 'node_modules', 'esbuild', 'package.json'))) return;
  log('installing npm packages (npm ci) ...');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    // onnxruntime-node's postinstall would download GPU libraries the demo does not use.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
}

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Credentials created once per state directory (mode 0600); only this process and Orthanc see them. */
function pacsCredentials(dir) {
  const file = path.join(dir, 'pacs-credentials.json');
  if (!fs.existsSync(file)) {
    const creds = { user: 'geometry-ldm', password: randomBytes(18).toString('base64url') };
    fs.writeFileSync(file, JSON.stringify(creds) + '\n', { mode: 0o600 });
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Starts Orthanc with persistent storage under `dir`; resolves when its REST API answers. */
export async function startOrthanc(dir, logFile) {
  const { user, password } = pacsCredentials(dir);
  const authorization = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  const port = await freePort();
  const configPath = path.join(dir, 'orthanc.json');
  const config = {
    Name: 'geometry-ldm-local',
    StorageDirectory: path.join(dir, 'orthanc-storage'),
    IndexDirectory: path.join(dir, 'orthanc-index'),
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [user]: password },
    DicomServerEnabled: false,
    HttpCompressionEnabled: false,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: false,
      StudiesMetadata: 'Full',
      SeriesMetadata: 'Full',
    },
  };
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const out = fs.openSync(logFile, 'a');
  const child = spawn(ORTHANC_BIN, [configPath], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  let exited = null;
  child.on('exit', (code, signal) => (exited = signal ?? code));
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline && exited === null) {
    try {
      const res = await fetch(`${url}/system`, { headers: { authorization } });
      await res.arrayBuffer();
      if (res.ok) return { child, url, port, authorization };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`Orthanc did not start (exit: ${exited}); see ${logFile}`);
}

async function seed(orthanc) {
  const dataDir = path.resolve(
    process.env.GEOMETRY_LDM_DATA_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'data'),
  );
  if (!fs.existsSync(dataDir)) {
    log(`no data directory ${dataDir}: the PACS starts empty (set GEOMETRY_LDM_DATA_DIR)`);
    return [];
  }
  const { build } = await import('esbuild');
  // Inside the repository, so the external packages resolve from its node_modules.
  const outfile = path.join(REPO_ROOT, 'platform-config', '.cache', 'seed-pacs.mjs');
  await build({
    entryPoints: [path.join(here, 'seedPacs.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  });
  const { seedPacs } = await import(pathToFileURL(outfile).href);
  log(`seeding the PACS from ${dataDir} ...`);
  return seedPacs({
    dataDir,
    dicomWebRoot: `${orthanc.url}/dicom-web`,
    authorization: orthanc.authorization,
    log: (l) => log(l),
  });
}

async function main() {
  const previous = readPidFile();
  if (previous && isAlive(previous.pid) && cmdline(previous.pid).includes('start.mjs')) {
    console.error(`already running (pid ${previous.pid}) at ${previous.url} — run \`npm stop\` first`);
    process.exit(1);
  }
  if (
    previous?.orthancPid &&
    isAlive(previous.orthancPid) &&
    cmdline(previous.orthancPid).includes(STATE_DIR)
  ) {
    log(`stopping a leftover Orthanc (pid ${previous.orthancPid})`);
    process.kill(previous.orthancPid, 'SIGTERM');
  }
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });

  ensureSystemPackages();
  ensureNodeModules();
  const { fetchViewer } = await import('./fetch-viewer.mjs');
  const viewerDir = fetchViewer({ log: (m) => log(m) });
  const { buildBundles } = await import('./build-extension.mjs');
  await buildBundles({ log: (m) => log(m) });

  const orthanc = await startOrthanc(STATE_DIR, path.join(STATE_DIR, 'orthanc.log'));
  log(`Orthanc (pid ${orthanc.child.pid}) on ${orthanc.url} (loopback, authenticated)`);
  let server = null;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping ...');
    await server?.close();
    if (orthanc.child.exitCode === null && orthanc.child.signalCode === null) {
      const exited = new Promise((r) => orthanc.child.once('exit', r));
      orthanc.child.kill('SIGTERM');
      const timer = setTimeout(() => orthanc.child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    const current = readPidFile();
    if (current?.pid === process.pid) fs.rmSync(PID_FILE, { force: true });
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  orthanc.child.on('exit', (c, s) => {
    if (!stopping) {
      console.error(
        `[start] Orthanc exited unexpectedly (${s ?? c}); see ${path.join(STATE_DIR, 'orthanc.log')}`,
      );
      stop(1);
    }
  });

  try {
    const seeded = process.env.GEOMETRY_LDM_SEED === '0' ? [] : await seed(orthanc);
    const modelDir = path.resolve(
      process.env.GEOMETRY_LDM_MODEL_DIR ?? path.join(REPO_ROOT, 'models', 'geometry-ldm-demo'),
    );
    if (!fs.existsSync(path.join(modelDir, 'model.json'))) {
      log(
        `warning: no model at ${modelDir} (model.json missing); the panels will say so. Set GEOMETRY_LDM_MODEL_DIR.`,
      );
    }
    const { startViewerServer } = await import('../server.mjs');
    const port = Number(process.env.PORT ?? 8080);
    const host = process.env.HOST ?? '127.0.0.1';
    server = await startViewerServer({
      viewerDir,
      orthanc: { url: orthanc.url, authorization: orthanc.authorization },
      modelDir,
      host,
      port,
      log: (l) => console.error(`[server] ${l}`),
    }).catch((e) => {
      throw e.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: set PORT to another one`) : e;
    });
    fs.writeFileSync(
      PID_FILE,
      JSON.stringify({
        pid: process.pid,
        orthancPid: orthanc.child.pid,
        url: `${server.url}/`,
        orthanc: orthanc.url,
      }) + '\n',
    );
    console.log(`\nViewer (study list): ${server.url}/`);
    if (seeded.length > 0) console.log('Synthesis mode, per seeded series:');
    for (const s of seeded) {
      console.log(`  ${s.folder.padEnd(24)} ${server.url}/synthesis?StudyInstanceUIDs=${s.studyInstanceUid}`);
    }
    console.log('Stop with Ctrl-C or `npm stop`.\n');
  } catch (e) {
    console.error(`[start] ${e.message}`);
    await stop(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`[start] ${e.message}`);
    process.exit(1);
  });
}
