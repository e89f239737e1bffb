/**
 * Bench entry for the inference engine (bundled by scripts/bench.mjs): loads a
 * model directory on onnxruntime-node or onnxruntime-web (wasm, in Node), and
 * counts the time spent inside model calls so that pipeline overhead can be
 * reported as a share.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import { loadModel, type LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../../extensions/geometry-ldm/src/inference/ortRuntime';
import type { ModelSession } from '../../extensions/geometry-ldm/src/inference/runtime';

export { generate } from '../../extensions/geometry-ldm/src/inference/generate';
export { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
export { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';
export {
  coordinateChannels,
  latentConditioning,
} from '../../extensions/geometry-ldm/src/geometry/coordinateChannels';
export { encode, decode, predictNoise } from '../../extensions/geometry-ldm/src/inference/latentOps';

export type Backend = 'node' | 'web-wasm';

export interface TimedModel extends LoadedModel {
  modelMs(): number;
  resetModelMs(): void;
}

function timed(session: ModelSession, acc: { ms: number }): ModelSession {
  return {
    ...session,
    async run(feeds) {
      const t0 = performance.now();
      try {
        return await session.run(feeds);
      } finally {
        acc.ms += performance.now() - t0;
      }
    },
    release: () => session.release(),
  };
}

export async function load(
  dir: string,
  backend: Backend,
  threads: number,
  root: string,
): Promise<TimedModel> {
  const manifest = parseManifestText(await readFile(join(dir, 'model.json'), 'utf8'));
  let ort: OrtModule;
  if (backend === 'node') {
    ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  } else {
    const web = (await import(
      pathToFileURL(join(root, 'node_modules/onnxruntime-web/dist/ort.wasm.min.mjs')).href
    )) as unknown as OrtModule & {
      env: { wasm: { numThreads: number; wasmPaths: string } };
    };
    web.env.wasm.numThreads = threads;
    web.env.wasm.wasmPaths = pathToFileURL(join(root, 'node_modules/onnxruntime-web/dist/')).href;
    ort = web;
  }
  const runtime = createOrtRuntime(ort, {
    library: backend === 'node' ? 'onnxruntime-node' : 'onnxruntime-web',
    executionProvider: backend === 'node' ? 'cpu' : 'wasm',
    threads,
  });
  const m = await loadModel(
    manifest,
    runtime,
    async (_p, f) => new Uint8Array(await readFile(join(dir, f.path))),
  );
  const acc = { ms: 0 };
  return {
    ...m,
    encoder: timed(m.encoder, acc),
    decoder: timed(m.decoder, acc),
    unet: timed(m.unet, acc),
    modelMs: () => acc.ms,
    resetModelMs: () => {
      acc.ms = 0;
    },
  };
}
