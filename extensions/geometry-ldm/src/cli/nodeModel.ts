/** Loading a model directory (model.json + ONNX files) on onnxruntime-node. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifestText, type ModelManifest } from '../model/manifest';
import { loadModel, type LoadedModel } from '../inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../inference/ortRuntime';

export async function readManifest(dir: string): Promise<ModelManifest> {
  return parseManifestText(await readFile(join(resolve(dir), 'model.json'), 'utf8'));
}

export async function loadModelDir(dir: string, threads = 0): Promise<LoadedModel> {
  const manifest = await readManifest(dir);
  const runtime = createOrtRuntime(ort as unknown as OrtModule, {
    library: 'onnxruntime-node',
    executionProvider: 'cpu',
    // 0 lets onnxruntime pick (all cores); tests pass 1.
    threads,
  });
  return loadModel(
    manifest,
    runtime,
    async (_part, file) => new Uint8Array(await readFile(join(resolve(dir), file.path))),
  );
}
