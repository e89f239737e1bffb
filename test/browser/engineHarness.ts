/**
 * Test plumbing for the engine worker: esbuild bundles (worker, page helper,
 * Node driver), a cross-origin-isolated static server on 127.0.0.1 that counts
 * requests, and the Node reference run (onnxruntime-web wasm + onnxruntime-node
 * in a child process).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundleNodeDriver } from '../support/nodeDriver';

export const REPO = resolve(__dirname, '..', '..');
export const ORT_WEB_DIST = dirname(require.resolve('onnxruntime-web'));
const SRC = join(REPO, 'extensions', 'geometry-ldm', 'src');

/** The engine worker as an ES module; ort-web loads its jsep .mjs/.wasm from init.wasmPaths. */
export async function bundleWorker(entry = join(SRC, 'worker', 'engineWorker.ts')): Promise<string> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['onnxruntime-web-use-extern-wasm'],
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

/** An IIFE for the test page: exposes `globalThis.engineTest = { createEngineClient, ... }`. */
export async function bundlePageHelpers(): Promise<string> {
  const r = await build({
    stdin: {
      contents: [
        `export { createEngineClient } from './worker/engineClient';`,
        `export { modelCacheKey, MODEL_CACHE_NAME } from './inference/modelCache';`,
        `export { makeVolume } from './volume/volume';`,
      ].join('\n'),
      resolveDir: SRC,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    globalName: 'engineTest',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

// ------------------------------------------------------------------ server

export interface StaticServer {
  origin: string;
  /** Requests per path since start (or the last reset). */
  counts: Map<string, number>;
  resetCounts(): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/**
 * Serves `files` (exact path -> content) and `dirs` (prefix -> directory) with
 * COOP/COEP/CORP headers, so pages and workers are cross-origin isolated.
 * Paths under `cacheable` prefixes may be kept in the HTTP cache (chromium
 * then reuses its compiled wasm across workers); everything else is no-store,
 * so request counts show every download.
 */
export async function startStaticServer(
  files: Record<string, string | Buffer>,
  dirs: Record<string, string>,
  cacheable: readonly string[] = [],
): Promise<StaticServer> {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const headers: Record<string, string> = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': cacheable.some((p) => path.startsWith(p)) ? 'max-age=3600' : 'no-store',
    };
    const ext = path.endsWith('/') ? '.html' : (/\.[a-z0-9]+$/.exec(path)?.[0] ?? '');
    headers['Content-Type'] = TYPES[ext] ?? 'application/octet-stream';
    let body: string | Buffer | null = files[path] ?? null;
    if (body === null) {
      for (const [prefix, dir] of Object.entries(dirs)) {
        if (!path.startsWith(prefix)) continue;
        const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))));
        if (file.startsWith(normalize(dir) + sep) && existsSync(file)) body = readFileSync(file);
      }
    }
    if (body === null) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    counts,
    resetCounts: () => counts.clear(),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ------------------------------------------------------------------ Node reference

export interface DriverReport {
  backend: { library: string; executionProvider: string; threads: number; fallbackReason?: string };
  parts?: Record<string, Record<string, { maxAbsDiff: number; maxAbs: number; dims: number[] }>>;
  generate?: { dims: number[]; affine: number[]; unit: string; maxAbsDiffHU: number; maxAbsHU: number };
  /** Raw outputs of `generate` (ort-web wasm in Node, and onnxruntime-node). */
  webData?: Float32Array;
  nodeData?: Float32Array;
}

let driverPath: string | null = null;

async function buildDriver(): Promise<string> {
  driverPath ??= await bundleNodeDriver(join(__dirname, 'engineNodeDriver.ts'), 'driver');
  return driverPath;
}

/** Runs the pipelines in a child Node process on ort-web (via webRuntime) and ort-node. */
export async function runNodeReference(job: {
  modelDir: string;
  parts?: boolean;
  generate?: unknown;
}): Promise<DriverReport> {
  const driver = await buildDriver();
  const outDir = mkdtempSync(join(tmpdir(), 'gldm-engine-ref-'));
  try {
    const jobFile = join(outDir, 'job.json');
    writeFileSync(
      jobFile,
      JSON.stringify({ ...job, outDir, wasmPaths: pathToFileURL(ORT_WEB_DIST + '/').href }),
    );
    const r = spawnSync(process.execPath, [driver, jobFile], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`engine Node driver failed (${r.status}): ${r.stderr}`);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as DriverReport;
    if (job.generate) {
      const f32 = (name: string) => {
        const b = readFileSync(join(outDir, name));
        return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      };
      report.webData = f32('generate-web.f32');
      report.nodeData = f32('generate-node.f32');
    }
    return report;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

export function removeDriver(): void {
  if (driverPath) rmSync(driverPath, { force: true });
  driverPath = null;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}
