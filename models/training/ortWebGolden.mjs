// Runs a model directory's golden inputs through onnxruntime-web (wasm backend)
// in plain Node and prints a JSON report: { case: { output: { maxAbsDiff, dims,
// expectedDims, maxAbs } } }, cases encoder, decoder, unet (golden/golden.json)
// unetAttention (golden/unet-attention.json: multi-token bottleneck) and refiner (golden/refiner.json), when present. Used by models/demoModel.test.ts (a child process,
// because jest's VM cannot do the dynamic import() that ort-web's wasm glue needs).
//   node models/training/ortWebGolden.mjs <model dir>
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = pathToFileURL(dirname(require.resolve('onnxruntime-web')) + '/').href;

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const golden = JSON.parse(readFileSync(join(dir, manifest.golden.path), 'utf8'));
const attentionPath = join(dir, 'golden', 'unet-attention.json');
const cases = [
  ['encoder', 'encoder', golden.encoder],
  ['decoder', 'decoder', golden.decoder],
  ['unet', 'unet', golden.unet],
];
if (existsSync(attentionPath))
  cases.push(['unetAttention', 'unet', JSON.parse(readFileSync(attentionPath, 'utf8')).unet]);
const refinerPath = join(dir, 'golden', 'refiner.json');
if (manifest.files.refiner && existsSync(refinerPath))
  cases.push(['refiner', 'refiner', JSON.parse(readFileSync(refinerPath, 'utf8')).refiner]);

function decode(t) {
  const b = Buffer.from(t.base64, 'base64');
  const out = new Float32Array(b.length / 4);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let n = 0; n < out.length; n++) out[n] = v.getFloat32(4 * n, true);
  return out;
}

const report = {};
for (const [key, part, c] of cases) {
  const bytes = new Uint8Array(readFileSync(join(dir, manifest.files[part].path)));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const feeds = {};
  for (const [name, t] of Object.entries(c.inputs))
    feeds[name] = new ort.Tensor('float32', decode(t), t.shape);
  const results = await session.run(feeds);
  report[key] = {};
  for (const [name, t] of Object.entries(c.outputs)) {
    const exp = decode(t);
    const got = results[name];
    let m = got.data.length === exp.length ? 0 : Infinity;
    let maxAbs = 0;
    if (m === 0)
      for (let n = 0; n < exp.length; n++) {
        m = Math.max(m, Math.abs(got.data[n] - exp[n]));
        maxAbs = Math.max(maxAbs, Math.abs(exp[n]));
      }
    report[key][name] = { maxAbsDiff: m, dims: [...got.dims], expectedDims: t.shape, maxAbs };
  }
  await session.release();
}
process.stdout.write(JSON.stringify(report) + '\n');
