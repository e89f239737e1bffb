/**
 * Starts a private Orthanc (Debian 1.10 + DICOMweb plugin) for integration
 * tests: loopback port chosen free, temporary storage, HTTP authentication on,
 * remote access and the DICOM server off. `stop()` kills it and waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ORTHANC_BIN = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancInstance {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** DICOMweb root, no trailing slash: http://127.0.0.1:<port>/dicom-web */
  readonly dicomWebRoot: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Basic authorization header value for the registered user. */
  readonly authorization: string;
  readonly dir: string;
  /** Everything Orthanc printed (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startOrthanc(
  options: {
    user?: string;
    password?: string;
    /** Extra top-level Orthanc configuration (e.g. LimitFindInstances), merged over the defaults. */
    config?: Readonly<Record<string, unknown>>;
  } = {},
): Promise<OrthancInstance> {
  const user = options.user ?? 'tester';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-test-'));
  const authorization = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = {
      Name: 'geometry-ldm-test',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'index'),
      HttpPort: port,
      HttpServerEnabled: true,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      RegisteredUsers: { [user]: password },
      DicomServerEnabled: false,
      HttpCompressionEnabled: false,
      StorageCompression: false,
      ConcurrentJobs: 1,
      HttpThreadsCount: 8,
      Plugins: [DICOMWEB_PLUGIN],
      DicomWeb: {
        Enable: true,
        Root: '/dicom-web/',
        EnableWado: false,
        StudiesMetadata: 'Full',
        SeriesMetadata: 'Full',
      },
      ...(options.config ?? {}),
    };
    const configPath = path.join(dir, 'orthanc.json');
    fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
    let output = '';
    const child: ChildProcess = spawn(ORTHANC_BIN, [configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => (output += d.toString()));
    child.stderr?.on('data', (d) => (output += d.toString()));
    let exited = false;
    const exitPromise = new Promise<void>((resolve) =>
      child.on('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20000;
    let ready = false;
    while (Date.now() < deadline && !exited) {
      try {
        const res = await fetch(`${url}/system`, { headers: { authorization } });
        if (res.ok) {
          await res.arrayBuffer();
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    if (ready) {
      return {
        url,
        dicomWebRoot: `${url}/dicom-web`,
        port,
        user,
        password,
        authorization,
        dir,
        log: () => output,
        stop: async () => {
          if (!exited) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
            await exitPromise;
            clearTimeout(timer);
          }
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (!exited) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    lastError = new Error(`Orthanc did not become ready on port ${port}:\n${output.slice(-4000)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
