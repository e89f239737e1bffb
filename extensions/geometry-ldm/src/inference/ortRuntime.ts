/**
 * InferenceRuntime over an injected onnxruntime module. onnxruntime-node and
 * onnxruntime-web expose the same `InferenceSession` / `Tensor` API, so one
 * adapter serves both: the caller passes the module it imported.
 */
import { InferenceError } from './errors';
import type {
  BackendInfo,
  ExecutionProvider,
  Float32Tensor,
  InferenceRuntime,
  ModelSession,
} from './runtime';

/** The part of the onnxruntime API this adapter uses (shared by -node and -web). */
export interface OrtModule {
  InferenceSession: {
    create(bytes: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
  dispose?(): void;
}

interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtRuntimeOptions {
  readonly library: BackendInfo['library'];
  readonly executionProvider: ExecutionProvider;
  readonly threads: number;
  readonly fallbackReason?: string;
  /** Extra session options (graphOptimizationLevel, executionProviders with EP options, ...). */
  readonly sessionOptions?: Record<string, unknown>;
  /** A prebuilt onnxruntime tensor for a feed (e.g. one already on the GPU), or undefined for a CPU tensor. */
  readonly feedTensor?: (sessionName: string, tensor: Float32Tensor) => unknown;
}

function isOutOfMemory(message: string): boolean {
  return /out of memory|bad_alloc|OOM|memory access out of bounds|Aborted\(\)|exceeds .*limit/i.test(message);
}

/**
 * onnxruntime-node: idle intra-op threads sleep instead of spinning after each parallel section.
 * Measured on 2 cores (npm run bench -- engine, 2026-12-04): spinning took a core from the
 * JavaScript between model calls (tiling, statistics) and slowed small UNet calls; without it a
 * tiled 272^3 super-resolution spent 1.7 s instead of 2.0 s outside the model and the pipelines
 * ran 2-16 % faster. onnxruntime-web's wasm threads were 13 % slower without spinning: not there.
 */
const NODE_SESSION_DEFAULTS = { extra: { session: { intra_op: { allow_spinning: '0' } } } };

export function createOrtRuntime(ort: OrtModule, options: OrtRuntimeOptions): InferenceRuntime {
  const backend: BackendInfo = {
    library: options.library,
    executionProvider: options.executionProvider,
    threads: options.threads,
    ...(options.fallbackReason ? { fallbackReason: options.fallbackReason } : {}),
  };
  return {
    backend,
    async createSession(name: string, modelBytes: Uint8Array): Promise<ModelSession> {
      let session: OrtSession;
      try {
        session = await ort.InferenceSession.create(modelBytes, {
          executionProviders: [options.executionProvider],
          intraOpNumThreads: options.threads,
          graphOptimizationLevel: 'all',
          ...(options.library === 'onnxruntime-node' ? NODE_SESSION_DEFAULTS : {}),
          ...options.sessionOptions,
        });
      } catch (e) {
        throw new InferenceError(
          'session-failed',
          `could not load model "${name}" on ${options.executionProvider}: ${(e as Error).message}`,
          {
            model: name,
          },
        );
      }
      return {
        name,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds) {
          const ortFeeds: Record<string, OrtTensor> = {};
          for (const [key, t] of Object.entries(feeds))
            ortFeeds[key] =
              (options.feedTensor?.(name, t) as OrtTensor | undefined) ??
              new ort.Tensor('float32', t.data, t.dims);
          let out: Record<string, OrtTensor>;
          try {
            out = await session.run(ortFeeds);
          } catch (e) {
            const msg = (e as Error).message ?? String(e);
            const oom = isOutOfMemory(msg);
            // an allocation failure is named as such, whatever words the runtime used
            throw new InferenceError(
              oom ? 'out-of-memory' : 'run-failed',
              `${oom ? 'out of memory: ' : ''}model "${name}" failed on ${options.executionProvider}: ${msg}`,
              { model: name },
            );
          }
          const result: Record<string, Float32Tensor> = {};
          for (const [key, t] of Object.entries(out)) {
            // Duck-typed (not instanceof): the runtime may allocate in another realm (native addon, jest vm).
            if (t.type !== 'float32' || !ArrayBuffer.isView(t.data)) {
              throw new InferenceError(
                'run-failed',
                `model "${name}" output "${key}" is ${t.type}, expected float32`,
              );
            }
            // Copy into this realm (typed-array constructors work across realms) and out of the runtime's buffer.
            result[key] = { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
            t.dispose?.();
          }
          return result;
        },
        release: () => session.release(),
      };
    },
  };
}
