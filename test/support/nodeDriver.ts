/**
 * Bundles a TypeScript driver script for a child Node process (esbuild, ESM):
 * engine tests run onnxruntime-web's wasm there, because jest's VM cannot
 * import its glue. onnxruntime packages stay external (loaded from
 * node_modules); `require` is provided for bundled CommonJS.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

export const DRIVER_CACHE_DIR = join(
  resolve(__dirname, '..', '..'),
  'node_modules',
  '.cache',
  'geometry-ldm-engine-tests',
);

/** Bundles `entry` to DRIVER_CACHE_DIR/<name>-<pid>.mjs and returns that path. */
export async function bundleNodeDriver(entry: string, name: string): Promise<string> {
  mkdirSync(DRIVER_CACHE_DIR, { recursive: true });
  const out = join(DRIVER_CACHE_DIR, `${name}-${process.pid}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['onnxruntime-node', 'onnxruntime-web'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    outfile: out,
    logLevel: 'silent',
  });
  return out;
}
