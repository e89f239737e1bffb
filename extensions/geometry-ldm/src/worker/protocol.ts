/**
 * Messages between the main thread (engineClient) and the engine worker
 * (engineWorker). Everything is plain data; voxel buffers and preview slices
 * are TRANSFERRED (listed in postMessage's transfer list), never copied.
 * Errors cross as {name, code, message, details} and are rebuilt as the same
 * typed classes on the other side.
 */
import type { GroupSpace } from '../geometry/groupSpace';
import type { ResolvedGeometry } from '../geometry/generationGeometry';
import type { Affine } from '../geometry/affine';
import type { Dims3 } from '../geometry/conventions';
import { InferenceError, type InferenceErrorCode } from '../inference/errors';
import type { GenerateSpec } from '../inference/generate';
import type { ModelFileReport } from '../inference/modelCache';
import type { ExpectedSeconds, ProgressEvent } from '../inference/progress';
import type { BackendInfo } from '../inference/runtime';
import type { SuperResolveOptions, SuperResolveResult } from '../inference/superResolve';
import type { PlannedTarget, SuperResolutionTarget } from '../inference/superResolutionTarget';
import type { TilingPolicy } from '../inference/tiling';
import type { ResidentFeedStats, WebGpuLimits } from '../inference/webRuntime';
import { ManifestError, type ManifestErrorCode } from '../model/manifest';
import { makeVolume, VolumeError, type IntensityUnit, type Volume } from '../volume/volume';

// ------------------------------------------------------------------ volumes

/** A volume on the wire: `data` is the transferred buffer (float32, C-order, i fastest). */
export interface VolumeMessage {
  readonly dims: Dims3;
  readonly affine: Affine;
  readonly unit: IntensityUnit;
  readonly data: ArrayBuffer;
}

/** Adds `buffer` to a transfer list once (a buffer listed twice makes postMessage throw). */
function addTransfer(transfer: Transferable[], buffer: ArrayBuffer): void {
  if (!transfer.includes(buffer)) transfer.push(buffer);
}

/**
 * A Float32Array's own buffer, ready to transfer: the buffer itself when the
 * array spans all of it, else (a view into a larger or shared buffer) a copy,
 * so transferring never detaches memory that other arrays still use.
 */
export function transferableFloat32(data: Float32Array): ArrayBuffer {
  const buf = data.buffer;
  if (buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength) return buf;
  return data.slice().buffer as ArrayBuffer;
}

/** `[message, transfer]`: post with `postMessage(msg, transfer)`; the volume's buffer is detached afterwards. */
export function volumeToMessage(v: Volume, transfer: Transferable[] = []): [VolumeMessage, Transferable[]] {
  const data = transferableFloat32(v.data);
  addTransfer(transfer, data);
  return [
    { dims: [...v.dims] as unknown as Dims3, affine: [...v.affine] as Affine, unit: v.unit, data },
    transfer,
  ];
}

export function volumeFromMessage(m: VolumeMessage): Volume {
  return makeVolume(m.dims, m.affine, new Float32Array(m.data), m.unit);
}

/** A progress event with its preview slice (if any) moved into the transfer list. */
export function progressToMessage(jobId: string, event: ProgressEvent): [ProgressMessage, Transferable[]] {
  const transfer: Transferable[] = [];
  if (event.preview) {
    const data = transferableFloat32(event.preview.data);
    addTransfer(transfer, data);
    return [
      {
        type: 'progress',
        jobId,
        event: { ...event, preview: { ...event.preview, data: new Float32Array(data) } },
      },
      transfer,
    ];
  }
  return [{ type: 'progress', jobId, event }, transfer];
}

// ------------------------------------------------------------------ errors

export interface ErrorPayload {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/** An error of a class the client does not know: keeps name, code and message. */
export class RemoteEngineError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(name: string, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = name;
    this.code = code;
    this.details = details;
  }
}

function cloneableDetails(details: unknown): Record<string, unknown> | undefined {
  if (!details || typeof details !== 'object') return undefined;
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function errorToPayload(e: unknown): ErrorPayload {
  if (e instanceof Error) {
    const coded = e as Error & { code?: unknown; details?: unknown };
    const details = cloneableDetails(coded.details);
    return {
      name: e.name,
      code: typeof coded.code === 'string' ? coded.code : 'internal',
      message: e.message,
      ...(details ? { details } : {}),
    };
  }
  return { name: 'Error', code: 'internal', message: String(e) };
}

/** Rebuilds InferenceError / ManifestError / VolumeError; anything else becomes a RemoteEngineError. */
export function errorFromPayload(p: ErrorPayload): Error {
  switch (p.name) {
    case 'InferenceError':
      return new InferenceError(p.code as InferenceErrorCode, p.message, p.details ?? {});
    case 'ManifestError':
      return new ManifestError(p.code as ManifestErrorCode, p.message, p.details ?? {});
    case 'VolumeError':
      return new VolumeError(p.code as VolumeError['code'], p.message);
    default:
      return new RemoteEngineError(p.name, p.code, p.message, p.details ?? {});
  }
}

// ------------------------------------------------------------------ messages

/** Super-resolution options that cross the boundary (callbacks and signals stay on the main thread). */
export type SuperResolveJobOptions = Omit<SuperResolveOptions, 'onProgress' | 'signal'>;

export interface InitMessage {
  readonly type: 'init';
  /** URL of model.json (absolute, or relative to the worker script). */
  readonly manifestUrl: string;
  /** URL prefix where onnxruntime-web's .wasm/.mjs files are served. */
  readonly wasmPaths?: string;
  readonly preferWebGPU: boolean;
  /** Also use a software WebGPU adapter (default false: wasm instead; inference/webRuntime.ts). */
  readonly allowSoftwareWebGPU?: boolean;
  /** Override the wasm thread count (default: 4 max when cross-origin isolated, else 1). */
  readonly threads?: number;
  /** Disable Cache Storage for model files. */
  readonly noCache?: boolean;
  /**
   * Tiling of encoder/decoder calls when a job does not give its own policy:
   * the largest tensor allowed (default: the WebGPU device's buffer limit, or
   * 256 MiB on wasm) over the bytes one image voxel needs in the largest
   * activation (default 128; see inference/tilingLimits.ts).
   */
  readonly maxTensorBytes?: number;
  readonly bytesPerImageVoxel?: number;
}

export interface GenerateMessage {
  readonly type: 'generate';
  readonly jobId: string;
  readonly spec: GenerateSpec;
  readonly preview?: boolean;
  /** Preview the denoised estimate every this many steps (GenerateOptions.previewEvery). */
  readonly previewEvery?: number;
  readonly tiling?: TilingPolicy;
  /** GenerateOptions.expectedSeconds. */
  readonly expectedSeconds?: ExpectedSeconds;
}

export interface SuperResolveMessage {
  readonly type: 'super-resolve';
  readonly jobId: string;
  readonly volume: VolumeMessage;
  readonly target: SuperResolutionTarget;
  readonly options: SuperResolveJobOptions;
}

export interface CancelMessage {
  readonly type: 'cancel';
  readonly jobId: string;
}

export interface DisposeMessage {
  readonly type: 'dispose';
}

export type MainToWorker =
  InitMessage | GenerateMessage | SuperResolveMessage | CancelMessage | DisposeMessage;

export interface ModelCard {
  readonly name: string;
  readonly version: string;
  readonly intendedUse: string;
  readonly licence: string;
  readonly description?: string;
}

export interface ReadyMessage {
  readonly type: 'ready';
  readonly backend: BackendInfo;
  /** Adapter/device limits when the backend is WebGPU. */
  readonly webgpu?: WebGpuLimits;
  readonly model: ModelCard;
  /** Where each model file came from (Cache Storage or network). */
  readonly files: readonly ModelFileReport[];
  /** The tiling jobs get unless they pass their own (derived from the backend's limits). */
  readonly tiling: TilingPolicy;
}

export interface ProgressMessage {
  readonly type: 'progress';
  readonly jobId: string;
  readonly event: ProgressEvent;
}

export interface GenerateResultMessage {
  readonly type: 'result';
  readonly kind: 'generate';
  readonly jobId: string;
  /** One per sample, in order. */
  readonly volumes: VolumeMessage[];
  readonly samples: readonly { readonly seed: number; readonly index: number }[];
  readonly geometry: ResolvedGeometry;
  readonly groupSpace: GroupSpace;
  readonly backend: BackendInfo;
  /** WebGPU only: constant feeds (conditioning) uploaded vs reused from the GPU during this job. */
  readonly gpuResidentFeeds?: ResidentFeedStats;
}

export interface SuperResolveResultMessage {
  readonly type: 'result';
  readonly kind: 'super-resolve';
  readonly jobId: string;
  /** [mean, std, upsampled, classical, unprojected (when hasUnprojected), ...samples]. */
  readonly volumes: VolumeMessage[];
  readonly hasUnprojected: boolean;
  readonly fidelity: SuperResolveResult['fidelity'];
  readonly backProjectionSeconds: number;
  readonly target: PlannedTarget;
  readonly groupSpace: GroupSpace;
  readonly settings: SuperResolveResult['settings'];
  readonly backend: BackendInfo;
  readonly gpuResidentFeeds?: ResidentFeedStats;
}

export type ResultMessage = GenerateResultMessage | SuperResolveResultMessage;

export interface ErrorMessage {
  readonly type: 'error';
  /** null: the error belongs to `init` (or the worker itself), not to a job. */
  readonly jobId: string | null;
  readonly error: ErrorPayload;
}

export interface FallbackMessage {
  readonly type: 'fallback';
  /** Why WebGPU was abandoned for wasm. */
  readonly reason: string;
  /** The job that is being retried on wasm, if the fallback happened during one. */
  readonly jobId?: string;
  readonly backend: BackendInfo;
}

export interface DisposedMessage {
  readonly type: 'disposed';
}

export type WorkerToMain =
  ReadyMessage | ProgressMessage | ResultMessage | ErrorMessage | FallbackMessage | DisposedMessage;
