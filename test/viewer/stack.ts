/**
 * The platform's scripts run as the user runs them, in child processes (they
 * are ES modules; jest runs CommonJS): the viewer server, the viewer fetch,
 * the bundle build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
export const SERVER_SCRIPT = resolve(REPO, 'platform-config', 'server.mjs');
export const APP_CONFIG = resolve(REPO, 'platform-config', 'app-config.js');

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  readonly orthancUrl: string;
  readonly authorization: string;
  readonly viewerDir: string;
  readonly bundlesDir: string;
  readonly modelDir: string;
  readonly appConfig?: string;
}

/** Starts platform-config/server.mjs on a free port; resolves with its URL once it listens. */
export function spawnViewerServer(o: ServerOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_SCRIPT], {
    env: {
      ...process.env,
      ORTHANC_URL: o.orthancUrl,
      ORTHANC_AUTHORIZATION: o.authorization,
      GEOMETRY_LDM_VIEWER_DIR: o.viewerDir,
      GEOMETRY_LDM_BUNDLES_DIR: o.bundlesDir,
      GEOMETRY_LDM_MODEL_DIR: o.modelDir,
      GEOMETRY_LDM_APP_CONFIG: o.appConfig ?? APP_CONFIG,
      PORT: '0',
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20000);
    child.stderr?.on('data', (d) => (output += d.toString()));
    child.stdout?.on('data', (d) => {
      output += d.toString();
      const m = /viewer: (http:\/\/\S+?)\/?\n/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolveStart({
          url: m[1],
          child,
          output: () => output,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${output}`));
    });
  });
}

/** Runs a platform script with node; returns its stdout (throws with its output on failure). */
export function runScript(script: string, args: string[] = [], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [resolve(REPO, script), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300000,
  });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
