/**
 * The three ONNX sessions of a model, created on an injected runtime from
 * bytes that are verified against the manifest (size + sha256) first.
 */
import {
  modelFile,
  modelParts,
  verifyModelFile,
  type ModelManifest,
  type ModelPart,
} from '../model/manifest';
import { InferenceError } from './errors';
import type { InferenceRuntime, ModelSession } from './runtime';

/** Fetches a model file's bytes (fs in Node, fetch + Cache Storage in the browser). */
export type ModelBytesLoader = (
  part: ModelPart,
  file: { path: string; sha256: string; bytes: number },
) => Promise<Uint8Array>;

export interface LoadedModel {
  readonly manifest: ModelManifest;
  readonly runtime: InferenceRuntime;
  readonly encoder: ModelSession;
  readonly decoder: ModelSession;
  readonly unet: ModelSession;
  /** The super-resolution refiner, when the model has one (files.refiner). */
  readonly refiner?: ModelSession;
  release(): Promise<void>;
}

export async function loadModel(
  manifest: ModelManifest,
  runtime: InferenceRuntime,
  load: ModelBytesLoader,
): Promise<LoadedModel> {
  const sessions: Partial<Record<ModelPart, ModelSession>> = {};
  try {
    for (const part of modelParts(manifest)) {
      const file = modelFile(manifest, part);
      let bytes: Uint8Array;
      try {
        bytes = await load(part, file);
      } catch (e) {
        throw new InferenceError(
          'model-load-failed',
          `could not read model file ${file.path}: ${(e as Error).message}`,
          {
            part,
          },
        );
      }
      await verifyModelFile(manifest, part, bytes);
      sessions[part] = await runtime.createSession(part, bytes);
    }
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s?.release()));
    throw e;
  }
  const { encoder, decoder, unet, refiner } = sessions as Record<ModelPart, ModelSession>;
  return {
    manifest,
    runtime,
    encoder,
    decoder,
    unet,
    ...(refiner ? { refiner } : {}),
    release: async () => {
      await Promise.all([encoder.release(), decoder.release(), unet.release(), refiner?.release()]);
    },
  };
}
