/**
 * Loading a model directory (model.json + ONNX files) on onnxruntime-node.
 *
 * Devices: 'cpu' (the provider bundled in onnxruntime-node; what this project
 * tests) or 'cuda' (onnxruntime-node's CUDA execution provider, which is NOT in
 * the npm package: it is downloaded at install time with
 * ONNXRUNTIME_NODE_INSTALL=cuda12 and needs CUDA 12, cuDNN 9 and an NVIDIA
 * driver). Without it, 'cuda' fails at the first session with a clear error;
 * it never silently runs on the CPU. The CUDA path was not run in this project
 * (no GPU), only its refusal.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifestText, type ModelManifest } from '../model/manifest';
import { loadModel, type LoadedModel } from '../inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../inference/ortRuntime';
import type { ExecutionProvider } from '../inference/runtime';
import { InferenceError } from '../inference/errors';
import { UsageError } from './exitCodes';

export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

export function parseDevice(value: string | undefined): Device {
  if (value === undefined) return 'cpu';
  if ((DEVICES as readonly string[]).includes(value)) return value as Device;
  throw new UsageError(`--device must be cpu or cuda, got "${value}"`);
}

export async function readManifest(dir: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(join(resolve(dir), 'model.json'), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `--model ${dir}: no model.json there (give the folder of an exported model)`
        : `--model ${dir}: cannot read model.json (${code ?? (e as Error).message})`,
    );
  }
  return parseManifestText(text);
}

export async function loadModelDir(dir: string, threads = 0, device: Device = 'cpu'): Promise<LoadedModel> {
  const manifest = await readManifest(dir);
  // A missing CUDA provider is reported once, by the error below, not by onnxruntime's native log
  // (the process-wide level is fixed when the first session is created).
  if (device === 'cuda') ort.env.logLevel = 'fatal';
  const runtime = createOrtRuntime(ort as unknown as OrtModule, {
    library: 'onnxruntime-node',
    // The engine's provider type lists the viewer's providers; onnxruntime-node takes the name as is.
    executionProvider: device as unknown as ExecutionProvider,
    // 0 lets onnxruntime pick (all cores); tests pass 1.
    threads,
    ...(device === 'cuda' ? { sessionOptions: { logSeverityLevel: 4 } } : {}),
  });
  try {
    return await loadModel(
      manifest,
      runtime,
      async (_part, file) => new Uint8Array(await readFile(join(resolve(dir), file.path))),
    );
  } catch (e) {
    if (device === 'cuda' && (e as { code?: string }).code === 'session-failed') {
      throw new InferenceError(
        'session-failed',
        `--device cuda: onnxruntime-node could not start its CUDA provider (${(e as Error).message.replace(/^could not load model "[^"]*" on cuda: /, '')}); it needs the provider binaries (npm install with ONNXRUNTIME_NODE_INSTALL=cuda12), CUDA 12, cuDNN 9 and an NVIDIA driver, or use --device cpu`,
      );
    }
    throw e;
  }
}
