/**
 * The Node decode pool (dicom/nodeDecodePool.ts) for tests: its worker entry bundled the way the
 * CLI launcher bundles it (CommonJS, packages external, so each codec finds its wasm beside its
 * own script in node_modules).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { DecodePool } from '../../extensions/geometry-ldm/src/dicom/decodePool';
import { createNodeDecodePool } from '../../extensions/geometry-ldm/src/dicom/nodeDecodePool';

const REPO = resolve(__dirname, '..', '..');
let bundled: string | null = null;

export function nodeDecodeWorkerFile(): string {
  if (bundled) return bundled;
  const dir = join(REPO, 'node_modules', '.cache', 'geometry-ldm-decode-tests');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `decode-worker-${process.pid}.cjs`);
  buildSync({
    entryPoints: [join(REPO, 'extensions', 'geometry-ldm', 'src', 'dicom', 'nodeDecodeWorker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'error',
    absWorkingDir: REPO,
  });
  bundled = out;
  return out;
}

export function nodeDecodePool(size = 2): DecodePool {
  return createNodeDecodePool(nodeDecodeWorkerFile(), size);
}
