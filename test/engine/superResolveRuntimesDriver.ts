/**
 * Runs in a plain Node child process (bundled by superResolveRuntimes.test.ts): jest's VM cannot
 * do the dynamic import() that onnxruntime-web's wasm glue needs. The same superResolve job on
 * onnxruntime-web (wasm, 1 thread, through inference/webRuntime) and on onnxruntime-node (cpu,
 * 1 thread):
 *   node driver.mjs <job.json>
 * job: { modelDir, outDir, wasmPaths, source: { file, dims, affine }, target, runs: { name, options }[] }
 * Writes <run>-<runtime>-{mean,std}.f32 to outDir and prints a JSON report (backends, settings).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { loadModel, type LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../../extensions/geometry-ldm/src/inference/ortRuntime';
import {
  superResolve,
  type SuperResolveOptions,
} from '../../extensions/geometry-ldm/src/inference/superResolve';
import type { SuperResolutionTarget } from '../../extensions/geometry-ldm/src/inference/superResolutionTarget';
import { createWasmRuntime, type OrtWebModule } from '../../extensions/geometry-ldm/src/inference/webRuntime';
import type { Affine } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';

interface Job {
  modelDir: string;
  outDir: string;
  wasmPaths: string;
  source: { file: string; dims: Dims3; affine: Affine };
  target: SuperResolutionTarget;
  runs: { name: string; options: SuperResolveOptions }[];
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Job;
  const manifest = parseManifestText(readFileSync(join(job.modelDir, 'model.json'), 'utf8'));
  const read = async (_part: string, file: { path: string }) =>
    new Uint8Array(readFileSync(join(job.modelDir, file.path)));
  const b = readFileSync(job.source.file);
  const source = makeVolume(
    job.source.dims,
    job.source.affine,
    new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
    'HU',
  );
  const runtimes = {
    web: createWasmRuntime(ortWeb as unknown as OrtWebModule, { wasmPaths: job.wasmPaths, threads: 1 }),
    node: createOrtRuntime(ortNode as unknown as OrtModule, {
      library: 'onnxruntime-node',
      executionProvider: 'cpu',
      threads: 1,
    }),
  };
  const report: Record<string, unknown> = {};
  for (const [key, runtime] of Object.entries(runtimes)) {
    const model: LoadedModel = await loadModel(manifest, runtime, read);
    try {
      for (const run of job.runs) {
        const r = await superResolve(model, source, job.target, run.options);
        writeFileSync(join(job.outDir, `${run.name}-${key}-mean.f32`), Buffer.from(r.mean.data.buffer));
        writeFileSync(join(job.outDir, `${run.name}-${key}-std.f32`), Buffer.from(r.std.data.buffer));
        report[`${run.name}-${key}`] = { backend: runtime.backend, dims: r.mean.dims, settings: r.settings };
      }
    } finally {
      await model.release();
    }
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
