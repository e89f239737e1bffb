/**
 * One interface over onnxruntime for every platform. Pipelines receive an
 * `InferenceRuntime` and never import onnxruntime themselves: the browser
 * worker injects onnxruntime-web (webgpu -> wasm), the CLI and tests inject
 * onnxruntime-node or onnxruntime-web's wasm build in Node.
 */

/** A float32 tensor in ONNX layout (see geometry/conventions.ts for [B, C, D, H, W]). */
export interface Float32Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
  /**
   * The caller will feed this same array again, unchanged (e.g. the coordinate
   * conditioning of every diffusion step): a runtime may keep a device copy
   * keyed by the array. Never modify an array after feeding it as constant.
   */
  readonly constant?: boolean;
}

export type ExecutionProvider = 'cpu' | 'wasm' | 'webgpu';

export interface BackendInfo {
  /** Which onnxruntime package runs the models. */
  readonly library: 'onnxruntime-node' | 'onnxruntime-web';
  readonly executionProvider: ExecutionProvider;
  /** Intra-op threads (wasm: worker threads; 1 without cross-origin isolation). */
  readonly threads: number;
  /** Why a preferred provider was not used (e.g. "WebGPU adapter not available"). */
  readonly fallbackReason?: string;
}

export interface ModelSession {
  readonly name: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, Float32Tensor>>): Promise<Record<string, Float32Tensor>>;
  release(): Promise<void>;
}

export interface InferenceRuntime {
  readonly backend: BackendInfo;
  /** A session from ONNX bytes (already verified against the manifest's sha256). */
  createSession(name: string, modelBytes: Uint8Array): Promise<ModelSession>;
}

export function tensorSize(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): Float32Tensor {
  if (data.length !== tensorSize(dims)) {
    throw new RangeError(
      `tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${tensorSize(dims)}`,
    );
  }
  return { data, dims: [...dims] };
}
