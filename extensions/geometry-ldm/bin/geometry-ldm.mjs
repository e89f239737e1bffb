#!/usr/bin/env node
// Launcher of the geometry-ldm CLI: bundles src/cli (TypeScript) with esbuild on
// start (tens of ms) into a cache file, then runs it. Packages stay external.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
process.env.GEOMETRY_LDM_DEFAULT_MODEL ??= join(repo, 'models', 'geometry-ldm-demo');

let cacheDir = join(repo, 'node_modules', '.cache', 'geometry-ldm');
try {
  mkdirSync(cacheDir, { recursive: true });
} catch {
  cacheDir = join(tmpdir(), 'geometry-ldm-cli');
  mkdirSync(cacheDir, { recursive: true });
}
/** One entry as a CommonJS script in the cache (packages stay in node_modules). */
const bundle = async (entry, name) => {
  const outfile = join(cacheDir, `${name}-${process.pid}.cjs`);
  await build({
    entryPoints: [join(here, '..', 'src', ...entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'error',
    absWorkingDir: repo,
  });
  return outfile;
};
const outfile = await bundle(['cli', 'bin.ts'], 'cli');
// The frame decode pool's worker (src/dicom/nodeDecodeWorker.ts): the CLI decodes compressed
// frames on every core through it (src/cli/decodeCodecs.ts reads this variable).
const decodeWorker = await bundle(['dicom', 'nodeDecodeWorker.ts'], 'decode-worker');
process.env.GEOMETRY_LDM_DECODE_WORKER = decodeWorker;
const require = createRequire(import.meta.url);
process.on('exit', () => {
  try {
    require('node:fs').rmSync(decodeWorker, { force: true });
    require('node:fs').rmSync(outfile, { force: true });
  } catch {
    /* best effort */
  }
});
require(outfile);
