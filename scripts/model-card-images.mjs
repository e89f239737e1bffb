#!/usr/bin/env node
// Writes the model card's pictures with the product's TypeScript pipeline and the
// committed ONNX files (onnxruntime-node, 2 threads):
//   node scripts/model-card-images.mjs [MODEL_DIR]      (default models/geometry-ldm-demo)
// into MODEL_DIR/images/ts-*.png, and prints what it generated (seeds, grids, times).
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(process.argv[2] ?? path.join(root, 'models', 'geometry-ldm-demo'));
const shared = process.env.SHARED_DATA ?? path.join(root, '..', 'shared', 'data');

async function bundle(entry) {
  mkdirSync(path.join(root, '.tmp'), { recursive: true });
  const tmp = mkdtempSync(path.join(root, '.tmp', 'card-'));
  const file = path.join(tmp, 'entry.mjs');
  const r = await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    external: ['onnxruntime-node'],
  });
  writeFileSync(file, r.outputFiles[0].text);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const C = await bundle('scripts/model-card-images-entry.ts');
const L = await bundle('scripts/bench/engine-entry.ts');
const model = await L.load(dir, 'node', 2, root);
const out = path.join(dir, 'images');
mkdirSync(out, { recursive: true });
const steps = model.manifest.generation.ddimSteps;

const cases = [
  ['grid-64x64x72', { kind: 'fov', dims: [64, 64, 72] }],
  ['grid-96x96x104', { kind: 'fov', dims: [96, 96, 104] }],
  ['grid-192x192x208', { kind: 'fov', dims: [192, 192, 208] }],
  [
    'partial-fov-upper-half-64x64x40',
    {
      kind: 'fov',
      dims: [64, 64, 40],
      fov: [
        [0, 1],
        [0, 1],
        [0.5, 1],
      ],
    },
  ],
  ['rotated-z30-64x64x72', { kind: 'fov', dims: [64, 64, 72], rotationDeg: [0, 0, 30] }],
];
const rows = [];
for (const [name, geometry] of cases) {
  const t0 = performance.now();
  const r = await C.generate(model, {
    geometry,
    seed: `model-card/${name}`,
    sampler: { kind: 'ddim', steps },
  });
  const slices = C.midSlices(r.samples[0].volume);
  rows.push(slices);
  writeFileSync(path.join(out, `ts-sample-${name}.png`), C.png(C.montage([slices])));
  console.log(
    `${name}: DDIM ${steps} steps, seed "model-card/${name}", ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
writeFileSync(path.join(out, 'ts-samples-all.png'), C.png(C.montage(rows)));

// Held-out scan (never trained on): reference, reconstruction, |error| (white = 300 HU).
const t0 = performance.now();
const ref = C.loadReference(path.join(shared, 'lidc-idri-0001'), 4, 128);
const rec = await C.reconstruct(model, ref);
writeFileSync(
  path.join(out, 'ts-heldout-reconstruction-128.png'),
  C.png(C.montage([C.midSlices(ref), C.midSlices(rec), C.midSlices(C.errorVolume(ref, rec))])),
);
let mae = 0;
for (let n = 0; n < ref.data.length; n++) {
  const c = (v) => Math.min(1000, Math.max(-1000, v));
  mae += Math.abs(c(rec.data[n]) - c(ref.data[n]));
}
console.log(
  `held-out reconstruction 128x128x128 (2.81 x 2.81 x 2.5 mm): MAE ${(mae / ref.data.length).toFixed(1)} HU ` +
    `in [-1000, 1000], ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
await model.release();
