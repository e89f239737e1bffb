#!/usr/bin/env node
/**
 * Bundles what the prebuilt OHIF viewer loads at runtime, as ES modules (esbuild):
 *
 *   extension.js        @geometry-ldm/extension   (extensions/geometry-ldm/src/index.ts, with its own React)
 *   mode-synthesis.js   @geometry-ldm/mode-synthesis (modes/synthesis/src/index.ts)
 *   decode-worker.js    the DICOM frame decoder worker (src/dicom/decodeWorker.ts; the panels run one
 *                       per core)
 *   engine-worker.js    the inference worker (src/worker/engineWorker.ts; onnxruntime-web loads its
 *                       .mjs/.wasm from geometryLdm.ortWasmUrl, not from this bundle)
 *   importmap.json      module name -> URL, injected into the viewer's index.html (server.mjs, nginx)
 *   *.wasm              the Cornerstone codecs' wasm (JPEG 2000, JPEG-LS) the panels' DICOM reader loads
 *
 * Names are stable (no content hash) so the import map, and an nginx deployment's copy of it,
 * never change; servers revalidate them (ETag). Files are replaced atomically.
 *
 *   node platform-config/scripts/build-extension.mjs [--out DIR] [--base /geometry-ldm/bundles/] [--no-minify]
 */
import { build } from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const DEFAULT_OUT_DIR = path.join(REPO_ROOT, 'platform-config', '.cache', 'bundles');
export const DEFAULT_BASE_URL = '/geometry-ldm/bundles/';

export const MODULE_NAMES = {
  extension: '@geometry-ldm/extension',
  mode: '@geometry-ldm/mode-synthesis',
};

export const ENTRIES = [
  { name: 'extension', file: 'extension.js', entry: 'extensions/geometry-ldm/src/index.ts' },
  { name: 'mode', file: 'mode-synthesis.js', entry: 'modes/synthesis/src/index.ts' },
  {
    name: 'worker',
    file: 'engine-worker.js',
    entry: 'extensions/geometry-ldm/src/worker/engineWorker.ts',
    // ort-web then fetches ort-wasm-simd-threaded.jsep.{mjs,wasm} from init.wasmPaths.
    conditions: ['onnxruntime-web-use-extern-wasm'],
  },
  // the frame decode pool's worker (src/dicom/decodeWorker.ts): compressed frames on every core
  { name: 'decode', file: 'decode-worker.js', entry: 'extensions/geometry-ldm/src/dicom/decodeWorker.ts' },
];

/**
 * Runtime files copied next to the bundles: the Cornerstone codecs' wasm, which the panels'
 * DICOM reader loads from the worker bundle's directory (panels/index.ts codecWasmUrl).
 */
export const ASSETS = [
  { file: 'openjpegwasm_decode.wasm', nextTo: '@cornerstonejs/codec-openjpeg/decodewasmjs' },
  { file: 'charlswasm_decode.wasm', nextTo: '@cornerstonejs/codec-charls/decodewasmjs' },
];

function copyAssets(outDir) {
  const req = createRequire(path.join(REPO_ROOT, 'extensions', 'geometry-ldm', 'package.json'));
  for (const a of ASSETS) {
    const src = path.join(path.dirname(req.resolve(a.nextTo)), a.file);
    const dst = path.join(outDir, a.file);
    const same =
      fs.existsSync(dst) &&
      fs.statSync(dst).size === fs.statSync(src).size &&
      fs.readFileSync(dst).equals(fs.readFileSync(src));
    if (!same) writeAtomic(dst, fs.readFileSync(src));
  }
}

/** The import map for bundles served under `baseUrl`. */
export function importMapFor(baseUrl = DEFAULT_BASE_URL) {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    imports: {
      [MODULE_NAMES.extension]: `${base}extension.js`,
      [MODULE_NAMES.mode]: `${base}mode-synthesis.js`,
    },
  };
}

function writeAtomic(file, contents) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, contents);
  fs.renameSync(tmp, file);
}

/**
 * @param {{ outDir?: string, baseUrl?: string, minify?: boolean, extensionEntry?: string,
 *   log?: (msg: string) => void }} [options]  extensionEntry: another entry for the extension bundle
 *   (a development harness); the default is the product's.
 * @returns {Promise<{ outDir: string, files: Record<string, { path: string, bytes: number }>, importMap: object, ms: number }>}
 */
export async function buildBundles(options = {}) {
  const outDir = path.resolve(options.outDir ?? DEFAULT_OUT_DIR);
  const minify = options.minify ?? true;
  const started = performance.now();
  fs.mkdirSync(outDir, { recursive: true });
  const results = await Promise.all(
    ENTRIES.map((e) =>
      build({
        entryPoints: [
          e.name === 'extension' && options.extensionEntry
            ? path.resolve(options.extensionEntry)
            : path.join(REPO_ROOT, e.entry),
        ],
        outfile: path.join(outDir, e.file),
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        conditions: e.conditions ?? [],
        // Emscripten codecs (Cornerstone's) `require('fs'/'path')` only on their Node code path: left
        // as runtime requires that a browser never reaches. xhr2 is the dicomweb-client transport's
        // XMLHttpRequest for Node only (a browser has its own).
        external: ['fs', 'path', 'xhr2'],
        define: { 'process.env.NODE_ENV': '"production"' },
        minify,
        sourcemap: 'linked',
        legalComments: 'linked',
        write: false,
        logLevel: 'silent',
      }).catch((err) => {
        const first = err.errors?.[0];
        const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
        throw new Error(`bundling ${e.entry} failed: ${first?.text ?? err.message}${where}`);
      }),
    ),
  );
  const files = {};
  results.forEach((r, i) => {
    for (const f of r.outputFiles) writeAtomic(f.path, f.contents);
    const file = path.join(outDir, ENTRIES[i].file);
    files[ENTRIES[i].name] = { path: file, bytes: fs.statSync(file).size };
  });
  copyAssets(outDir);
  const importMap = importMapFor(options.baseUrl);
  writeAtomic(path.join(outDir, 'importmap.json'), JSON.stringify(importMap, null, 2) + '\n');
  const ms = performance.now() - started;
  options.log?.(
    `bundles in ${outDir} (${Math.round(ms)} ms): ` +
      Object.entries(files)
        .map(([k, v]) => `${k} ${(v.bytes / 1024).toFixed(0)} KiB`)
        .join(', '),
  );
  return { outDir, files, importMap, ms };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    await buildBundles({
      outDir: value('--out'),
      baseUrl: value('--base'),
      minify: !args.includes('--no-minify'),
      log: (m) => console.log(m),
    });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
