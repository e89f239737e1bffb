/**
 * Runs in a plain Node child process (bundled by engineHarness.ts): jest's VM
 * cannot do the dynamic import() that onnxruntime-web's wasm glue needs.
 * Compares onnxruntime-web (through inference/webRuntime, wasm, 1 thread)
 * with onnxruntime-node on a model directory:
 *   node driver.mjs <job.json>
 * job: { modelDir, outDir, wasmPaths, parts?: boolean, generate?: GenerateSpec }
 * Prints a JSON report; writes generate outputs as raw float32 files to outDir.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { createRng } from '../../extensions/geometry-ldm/src/diffusion/rng';
import { generate, type GenerateSpec } from '../../extensions/geometry-ldm/src/inference/generate';
import { loadModel, type LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../../extensions/geometry-ldm/src/inference/ortRuntime';
import type { Float32Tensor, InferenceRuntime } from '../../extensions/geometry-ldm/src/inference/runtime';
import { createWebRuntime, type OrtWebModule } from '../../extensions/geometry-ldm/src/inference/webRuntime';
import { MODEL_PARTS, parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';

interface Job {
  modelDir: string;
  outDir: string;
  wasmPaths: string;
  parts?: boolean;
  generate?: GenerateSpec;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}
function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n]));
  return m;
}

function randomTensor(seed: string, dims: number[]): Float32Tensor {
  const rng = createRng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let n = 0; n < data.length; n++) data[n] = rng.nextGaussian();
  return { data, dims };
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Job;
  const manifest = parseManifestText(readFileSync(join(job.modelDir, 'model.json'), 'utf8'));
  const read = async (_part: string, file: { path: string }) =>
    new Uint8Array(readFileSync(join(job.modelDir, file.path)));
  // preferWebGPU: Node has no navigator.gpu, so this exercises the fallback path too
  const webRuntime = await createWebRuntime(ortWeb as unknown as OrtWebModule, {
    wasmPaths: job.wasmPaths,
    threads: 1,
  });
  const nodeRuntime: InferenceRuntime = createOrtRuntime(ortNode as unknown as OrtModule, {
    library: 'onnxruntime-node',
    executionProvider: 'cpu',
    threads: 1,
  });
  const web: LoadedModel = await loadModel(manifest, webRuntime, read);
  const node: LoadedModel = await loadModel(manifest, nodeRuntime, read);
  const report: Record<string, unknown> = { backend: webRuntime.backend };

  if (job.parts) {
    // latent 4^3 <-> image 32^3
    const feeds: Record<string, Record<string, Float32Tensor>> = {
      encoder: {
        image: randomTensor('enc-image', [1, 1, 32, 32, 32]),
        coords: randomTensor('enc-coords', [1, 3, 32, 32, 32]),
      },
      decoder: { latent: randomTensor('dec-latent', [1, 8, 4, 4, 4]) },
      unet: {
        z_t: randomTensor('unet-z', [1, 8, 4, 4, 4]),
        t: { data: new Float32Array([500]), dims: [1] },
        coords: randomTensor('unet-coords', [1, 3, 4, 4, 4]),
      },
    };
    const parts: Record<string, unknown> = {};
    for (const part of MODEL_PARTS) {
      const a = await web[part].run(feeds[part]);
      const b = await node[part].run(feeds[part]);
      const outs: Record<string, unknown> = {};
      for (const name of Object.keys(b)) {
        outs[name] = {
          maxAbsDiff: maxAbsDiff(a[name].data, b[name].data),
          maxAbs: maxAbs(b[name].data),
          dims: [...a[name].dims],
        };
      }
      parts[part] = outs;
    }
    report.parts = parts;
  }

  if (job.generate) {
    const a = await generate(web, job.generate);
    const b = await generate(node, job.generate);
    const va = a.samples[0].volume;
    const vb = b.samples[0].volume;
    writeFileSync(join(job.outDir, 'generate-web.f32'), Buffer.from(va.data.buffer));
    writeFileSync(join(job.outDir, 'generate-node.f32'), Buffer.from(vb.data.buffer));
    report.generate = {
      dims: va.dims,
      affine: va.affine,
      unit: va.unit,
      maxAbsDiffHU: maxAbsDiff(va.data, vb.data),
      maxAbsHU: maxAbs(vb.data),
    };
  }
  await web.release();
  await node.release();
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
