/**
 * Main-thread client of the engine worker: promises over the message
 * protocol, one id per job, progress callbacks, cancellation (by id or
 * AbortSignal), typed errors rebuilt from the worker's payloads. Volumes sent
 * to the worker are transferred: the caller's buffer is detached afterwards.
 *
 * Usage (the worker is `src/worker/engineWorker.ts` bundled by esbuild as an
 * ES module: `bundle: true, format: 'esm', platform: 'browser',
 * conditions: ['onnxruntime-web-use-extern-wasm']`, served same-origin):
 *
 *   const engine = createEngineClient(
 *     () => new Worker(workerUrl, { type: 'module', name: 'geometry-ldm-engine' }));
 *   engine.onFallback = ({ reason }) => notify(reason);      // WebGPU -> wasm
 *   const ready = await engine.init({
 *     manifestUrl: manifestUrl(config),                       // <modelUrl>model.json
 *     wasmPaths: config.ortWasmUrl,                           // onnxruntime-web's dist/
 *     preferWebGPU: true,
 *   });                                                       // ready.backend, ready.model, ready.files
 *   const job = engine.generate(spec, { onProgress, signal, preview: true });
 *   engine.cancel(job.jobId);                                 // or abort `signal`
 *   const { samples } = await job;                            // Volume in HU, patient geometry
 *   const sr = await engine.superResolve(volume, { kind: 'scale', factor: 2 }, { samples: 8 }, { onProgress });
 *   await engine.dispose();
 *
 * Jobs run one at a time in submission order. Errors are `InferenceError`,
 * `ManifestError` or `VolumeError` (with `code`), else `RemoteEngineError`;
 * a cancelled job rejects with `InferenceError` code 'cancelled'.
 */
import type { ResolvedGeometry } from '../geometry/generationGeometry';
import type { GroupSpace } from '../geometry/groupSpace';
import { InferenceError } from '../inference/errors';
import type { GenerateSpec } from '../inference/generate';
import type { ExpectedSeconds, ProgressListener } from '../inference/progress';
import type { BackendInfo } from '../inference/runtime';
import type { SuperResolutionTarget } from '../inference/superResolutionTarget';
import type { SuperResolveResult } from '../inference/superResolve';
import type { TilingPolicy } from '../inference/tiling';
import type { ResidentFeedStats } from '../inference/webRuntime';
import type { Volume } from '../volume/volume';
import {
  errorFromPayload,
  volumeFromMessage,
  volumeToMessage,
  type FallbackMessage,
  type InitMessage,
  type MainToWorker,
  type ReadyMessage,
  type ResultMessage,
  type SuperResolveJobOptions,
  type WorkerToMain,
} from './protocol';

/** What the client needs of a Worker. */
export interface WorkerLike {
  postMessage(message: MainToWorker, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: WorkerToMain }) => void): void;
  addEventListener(type: 'error', listener: (event: { message?: string }) => void): void;
  terminate(): void;
}

export type InitOptions = Omit<InitMessage, 'type'>;
export type ReadyInfo = Omit<ReadyMessage, 'type'>;

export interface JobOptions {
  readonly onProgress?: ProgressListener;
  /** Aborting cancels the job (same as `cancel(jobId)`). */
  readonly signal?: AbortSignal;
}

export interface GenerateJobOptions extends JobOptions {
  readonly preview?: boolean;
  /** Preview the denoised estimate every this many steps (costs a decoder call each; default never). */
  readonly previewEvery?: number;
  readonly tiling?: TilingPolicy;
  /** The caller's estimate of each stage's seconds: the live ETA starts from it (progress.ts). */
  readonly expectedSeconds?: ExpectedSeconds;
}

export interface ClientGenerateResult {
  readonly samples: { readonly volume: Volume; readonly seed: number; readonly index: number }[];
  readonly geometry: ResolvedGeometry;
  readonly groupSpace: GroupSpace;
  readonly backend: BackendInfo;
  /** WebGPU only: constant feeds uploaded vs reused on the GPU during the job. */
  readonly gpuResidentFeeds?: ResidentFeedStats;
}

/** The pipeline's result, plus what ran it. */
export interface ClientSuperResolveResult extends SuperResolveResult {
  readonly backend: BackendInfo;
  readonly gpuResidentFeeds?: ResidentFeedStats;
}

/** A job's promise, with its id for `cancel`. */
export type EngineJob<T> = Promise<T> & { readonly jobId: string };

export interface EngineClient {
  init(options: InitOptions): Promise<ReadyInfo>;
  generate(spec: GenerateSpec, options?: GenerateJobOptions): EngineJob<ClientGenerateResult>;
  /** The volume's buffer is transferred to the worker (detached here). */
  superResolve(
    volume: Volume,
    target: SuperResolutionTarget,
    options?: SuperResolveJobOptions,
    job?: JobOptions,
  ): EngineJob<ClientSuperResolveResult>;
  cancel(jobId: string): void;
  /** Releases the worker's sessions, then terminates it; pending jobs reject with 'cancelled'. */
  dispose(): Promise<void>;
  /** Called when the worker abandons WebGPU for wasm (at init, or retrying a job). */
  onFallback?: (message: Omit<FallbackMessage, 'type'>) => void;
  /** The backend of the last `ready` or `fallback`. */
  readonly backend: BackendInfo | null;
}

interface Pending {
  resolve(value: ResultMessage): void;
  reject(error: Error): void;
  onProgress?: ProgressListener;
}

export function createEngineClient(workerFactory: () => WorkerLike): EngineClient {
  const worker = workerFactory();
  const jobs = new Map<string, Pending>();
  const initWaiters: Array<{ resolve(r: ReadyInfo): void; reject(e: Error): void }> = [];
  let disposeWaiter: (() => void) | null = null;
  let nextId = 1;
  let disposed = false;

  const rejectAll = (error: Error) => {
    for (const p of jobs.values()) p.reject(error);
    jobs.clear();
    for (const w of initWaiters.splice(0)) w.reject(error);
  };

  const client: EngineClient = {
    backend: null,
    init(options) {
      if (disposed) return Promise.reject(new InferenceError('cancelled', 'the engine client was disposed'));
      return new Promise<ReadyInfo>((resolve, reject) => {
        initWaiters.push({ resolve, reject });
        worker.postMessage({ type: 'init', ...options }, []);
      });
    },
    generate(spec, options = {}) {
      return submit(
        (jobId) => [
          {
            type: 'generate',
            jobId,
            spec,
            ...(options.preview ? { preview: true } : {}),
            ...(options.previewEvery !== undefined ? { previewEvery: options.previewEvery } : {}),
            ...(options.tiling ? { tiling: options.tiling } : {}),
            ...(options.expectedSeconds ? { expectedSeconds: options.expectedSeconds } : {}),
          },
          [],
        ],
        options,
        (r) => {
          if (r.kind !== 'generate') throw new Error('unexpected result kind');
          return {
            samples: r.volumes.map((v, n) => ({ volume: volumeFromMessage(v), ...r.samples[n] })),
            geometry: r.geometry,
            groupSpace: r.groupSpace,
            backend: r.backend,
            ...(r.gpuResidentFeeds ? { gpuResidentFeeds: r.gpuResidentFeeds } : {}),
          };
        },
      );
    },
    superResolve(volume, target, options = {}, job = {}) {
      return submit(
        (jobId) => {
          const [msg, transfer] = volumeToMessage(volume);
          return [{ type: 'super-resolve', jobId, volume: msg, target, options }, transfer];
        },
        job,
        (r) => {
          if (r.kind !== 'super-resolve') throw new Error('unexpected result kind');
          const [mean, std, upsampled, classical, ...rest] = r.volumes.map(volumeFromMessage);
          const unprojected = r.hasUnprojected ? rest[0] : undefined;
          const samples = r.hasUnprojected ? rest.slice(1) : rest;
          return {
            mean,
            std,
            upsampled,
            classical,
            ...(unprojected ? { unprojected } : {}),
            fidelity: r.fidelity,
            backProjectionSeconds: r.backProjectionSeconds,
            ...(samples.length > 0 ? { samples } : {}),
            target: r.target,
            groupSpace: r.groupSpace,
            settings: r.settings,
            backend: r.backend,
            ...(r.gpuResidentFeeds ? { gpuResidentFeeds: r.gpuResidentFeeds } : {}),
          };
        },
      );
    },
    cancel(jobId) {
      if (jobs.has(jobId)) worker.postMessage({ type: 'cancel', jobId }, []);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = new Promise<void>((resolve) => {
        disposeWaiter = resolve;
        // a worker that does not answer (hung, crashed) is terminated anyway
        timer = setTimeout(resolve, 5000);
      });
      worker.postMessage({ type: 'dispose' }, []);
      await done;
      clearTimeout(timer);
      worker.terminate();
      rejectAll(new InferenceError('cancelled', 'the engine client was disposed'));
    },
  };

  function submit<T>(
    build: (jobId: string) => [MainToWorker, Transferable[]],
    options: JobOptions,
    convert: (r: ResultMessage) => T,
  ): EngineJob<T> {
    const jobId = `job-${nextId++}`;
    const promise = new Promise<T>((resolve, reject) => {
      if (disposed) {
        reject(new InferenceError('cancelled', 'the engine client was disposed'));
        return;
      }
      if (options.signal?.aborted) {
        reject(new InferenceError('cancelled', 'the job was cancelled'));
        return;
      }
      const onAbort = () => client.cancel(jobId);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => options.signal?.removeEventListener('abort', onAbort);
      jobs.set(jobId, {
        resolve: (r) => {
          cleanup();
          try {
            resolve(convert(r));
          } catch (e) {
            reject(e as Error);
          }
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
        onProgress: options.onProgress,
      });
      try {
        const [msg, transfer] = build(jobId);
        worker.postMessage(msg, transfer);
      } catch (e) {
        jobs.delete(jobId);
        cleanup();
        reject(e as Error);
      }
    });
    return Object.assign(promise, { jobId });
  }

  worker.addEventListener('message', (event: { data: WorkerToMain }) => {
    const msg = event.data;
    switch (msg.type) {
      case 'ready': {
        const { type: _type, ...info } = msg;
        (client as { backend: BackendInfo | null }).backend = msg.backend;
        initWaiters.shift()?.resolve(info);
        break;
      }
      case 'fallback': {
        const { type: _type, ...info } = msg;
        (client as { backend: BackendInfo | null }).backend = msg.backend;
        client.onFallback?.(info);
        break;
      }
      case 'progress':
        jobs.get(msg.jobId)?.onProgress?.(msg.event);
        break;
      case 'result': {
        const p = jobs.get(msg.jobId);
        jobs.delete(msg.jobId);
        p?.resolve(msg);
        break;
      }
      case 'error': {
        const error = errorFromPayload(msg.error);
        if (msg.jobId === null) {
          const w = initWaiters.shift();
          if (w) w.reject(error);
          else console.error('engine worker:', error);
        } else {
          const p = jobs.get(msg.jobId);
          jobs.delete(msg.jobId);
          p?.reject(error);
        }
        break;
      }
      case 'disposed':
        disposeWaiter?.();
        break;
    }
  });
  worker.addEventListener('error', (event: { message?: string }) => {
    rejectAll(
      new InferenceError('session-failed', `the engine worker crashed: ${event.message ?? 'unknown error'}`),
    );
  });
  return client;
}
