/**
 * The engine inside the worker, independent of how it is started: it gets a
 * message scope (the worker's `self`) and an onnxruntime-web module injected.
 * One task at a time from a FIFO queue (init, jobs, dispose); `cancel` acts at
 * once (drops a queued job, or aborts the running one: before each model call
 * the job yields to the event loop, so a `cancel` message is handled, and then
 * checks its signal; at most the model call in flight finishes).
 * A job that fails on WebGPU with device loss or out-of-memory is retried
 * once on wasm (after a `fallback` message), and later jobs stay on wasm.
 * Encoder/decoder calls are tiled by the backend's limits unless a job says
 * otherwise (inference/tilingLimits.ts).
 */
import { InferenceError, throwIfCancelled } from '../inference/errors';
import { generate } from '../inference/generate';
import { cachedFetchLoader, type CacheStorageLike, type ModelFileReport } from '../inference/modelCache';
import { loadModel, type LoadedModel } from '../inference/modelSessions';
import type { ModelSession } from '../inference/runtime';
import { superResolve } from '../inference/superResolve';
import type { TilingPolicy } from '../inference/tiling';
import { maxTensorBytes, tilingPolicyForLimits } from '../inference/tilingLimits';
import {
  createWasmRuntime,
  createWebRuntime,
  type NavigatorLike,
  type OrtWebModule,
  type WebRuntime,
} from '../inference/webRuntime';
import { loadManifest, type ModelManifest } from '../model/manifest';
import {
  errorToPayload,
  progressToMessage,
  volumeFromMessage,
  volumeToMessage,
  type GenerateMessage,
  type InitMessage,
  type MainToWorker,
  type ResultMessage,
  type SuperResolveMessage,
  type VolumeMessage,
  type WorkerToMain,
} from './protocol';

/** What the host needs of a worker global scope. */
export interface MessageScopeLike {
  postMessage(message: WorkerToMain, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: MainToWorker }) => void): void;
  readonly location?: { readonly href: string };
}

export interface EngineHostDeps {
  /** The onnxruntime-web module (or a loader for it). */
  readonly ort: OrtWebModule | (() => Promise<OrtWebModule>);
  readonly fetch?: typeof fetch;
  /** Default `globalThis.caches`; null disables the model cache. */
  readonly cacheStorage?: CacheStorageLike | null;
  readonly navigator?: NavigatorLike;
}

type JobMessage = GenerateMessage | SuperResolveMessage;

interface Job {
  readonly msg: JobMessage;
  readonly controller: AbortController;
  /** Model calls that finished after the cancel arrived (0 or 1: the one in flight); reported with the error. */
  callsAfterCancel: number;
}

type Task = { kind: 'init'; msg: InitMessage } | { kind: 'job'; job: Job } | { kind: 'dispose' };

const RETRYABLE = new Set(['session-failed', 'out-of-memory']);

/**
 * The model with every session call preceded by a yield to the event loop (the
 * pipelines only await promises, which would starve the worker's message
 * queue during a job) and a cancellation check.
 */
function cancellable(model: LoadedModel, job: Job): LoadedModel {
  const signal = job.controller.signal;
  const guard = (s: ModelSession): ModelSession => ({
    name: s.name,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      throwIfCancelled(signal);
      const out = await s.run(feeds);
      if (signal.aborted) job.callsAfterCancel += 1;
      return out;
    },
    release: () => s.release(),
  });
  return {
    manifest: model.manifest,
    runtime: model.runtime,
    encoder: guard(model.encoder),
    decoder: guard(model.decoder),
    unet: guard(model.unet),
    ...(model.refiner ? { refiner: guard(model.refiner) } : {}),
    release: () => model.release(),
  };
}

function tilingFor(runtime: WebRuntime, init: InitMessage): TilingPolicy {
  return tilingPolicyForLimits(init.maxTensorBytes ?? maxTensorBytes(runtime.webgpu), {
    ...(init.bytesPerImageVoxel !== undefined ? { bytesPerImageVoxel: init.bytesPerImageVoxel } : {}),
  });
}

export interface EngineHost {
  /** Resolves when every task queued so far is done (tests). */
  idle(): Promise<void>;
}

export function startEngineHost(scope: MessageScopeLike, deps: EngineHostDeps): EngineHost {
  const fetchFn: typeof fetch = deps.fetch ?? ((...args) => fetch(...args));
  let ortPromise: Promise<OrtWebModule> | null = null;
  const getOrt = () =>
    (ortPromise ??= typeof deps.ort === 'function' ? deps.ort() : Promise.resolve(deps.ort));

  let state: {
    init: InitMessage;
    manifestUrl: string;
    manifest: ModelManifest;
    runtime: WebRuntime;
    model: LoadedModel;
    tiling: TilingPolicy;
  } | null = null;
  const queue: Task[] = [];
  let running: Job | null = null;
  let pumping = false;
  let idleWaiters: Array<() => void> = [];

  const post = (m: WorkerToMain, transfer: Transferable[] = []) => scope.postMessage(m, transfer);
  const postError = (jobId: string | null, e: unknown) =>
    post({ type: 'error', jobId, error: errorToPayload(e) });

  function loaderFor(manifestUrl: string, manifest: ModelManifest, init: InitMessage) {
    return cachedFetchLoader(manifestUrl, manifest, fetchFn, {
      cacheStorage: init.noCache ? null : deps.cacheStorage,
    });
  }

  async function releaseModel(): Promise<void> {
    const old = state;
    state = null;
    if (old) await old.model.release().catch(() => undefined);
  }

  async function wasmModel(
    init: InitMessage,
    manifestUrl: string,
    manifest: ModelManifest,
    reason: string | undefined,
  ): Promise<{ runtime: WebRuntime; model: LoadedModel; files: ModelFileReport[] }> {
    const ort = await getOrt();
    const runtime = createWasmRuntime(ort, {
      wasmPaths: init.wasmPaths,
      threads: init.threads,
      navigator: deps.navigator,
      fallbackReason: reason,
    });
    const loader = loaderFor(manifestUrl, manifest, init);
    const model = await loadModel(manifest, runtime, loader);
    return { runtime, model, files: loader.reports };
  }

  async function doInit(init: InitMessage): Promise<void> {
    await releaseModel();
    const base = scope.location?.href;
    const manifestUrl = base ? new URL(init.manifestUrl, base).href : init.manifestUrl;
    const manifest = await loadManifest(manifestUrl, fetchFn);
    const ort = await getOrt();
    let runtime = await createWebRuntime(ort, {
      preferWebGPU: init.preferWebGPU,
      allowSoftwareWebGPU: init.allowSoftwareWebGPU,
      wasmPaths: init.wasmPaths,
      threads: init.threads,
      navigator: deps.navigator,
    });
    let model: LoadedModel;
    let files: ModelFileReport[];
    if (runtime.backend.executionProvider === 'webgpu') {
      const loader = loaderFor(manifestUrl, manifest, init);
      try {
        model = await loadModel(manifest, runtime, loader);
        files = loader.reports;
      } catch (e) {
        if (!(e instanceof InferenceError && e.code === 'session-failed')) throw e;
        const reason = `WebGPU could not load the model: ${e.message}`;
        ({ runtime, model, files } = await wasmModel(init, manifestUrl, manifest, reason));
        post({ type: 'fallback', reason, backend: runtime.backend });
      }
    } else {
      const loader = loaderFor(manifestUrl, manifest, init);
      model = await loadModel(manifest, runtime, loader);
      files = loader.reports;
      // no WebGPU here, or a skipped software adapter, is a fact shown with the backend, not a
      // failure to announce; a WebGPU that exists but fails is announced
      if (
        init.preferWebGPU &&
        runtime.backend.fallbackReason &&
        !runtime.skippedSoftwareAdapter &&
        !runtime.noWebGpu
      )
        post({ type: 'fallback', reason: runtime.backend.fallbackReason, backend: runtime.backend });
    }
    const tiling = tilingFor(runtime, init);
    state = { init, manifestUrl, manifest, runtime, model, tiling };
    post({
      type: 'ready',
      backend: runtime.backend,
      ...(runtime.webgpu ? { webgpu: runtime.webgpu } : {}),
      model: {
        name: manifest.name,
        version: manifest.version,
        intendedUse: manifest.intendedUse,
        licence: manifest.licence,
        ...(manifest.description ? { description: manifest.description } : {}),
      },
      files,
      tiling,
    });
  }

  async function execute(
    job: Job,
    loaded: LoadedModel,
    runtime: WebRuntime,
    tiling: TilingPolicy,
    volume: VolumeMessage | null,
  ): Promise<void> {
    const { msg, controller } = job;
    const model = cancellable(loaded, job);
    const before = runtime.residentFeeds ? { ...runtime.residentFeeds } : null;
    const residentStats = () =>
      before && runtime.residentFeeds
        ? {
            gpuResidentFeeds: {
              uploads: runtime.residentFeeds.uploads - before.uploads,
              reuses: runtime.residentFeeds.reuses - before.reuses,
            },
          }
        : {};
    const onProgress = (event: Parameters<typeof progressToMessage>[1]) => {
      const [m, transfer] = progressToMessage(msg.jobId, event);
      post(m, transfer);
    };
    const backend = model.runtime.backend;
    if (msg.type === 'generate') {
      const r = await generate(model, msg.spec, {
        onProgress,
        signal: controller.signal,
        ...(msg.preview ? { preview: true } : {}),
        ...(msg.previewEvery !== undefined ? { previewEvery: msg.previewEvery } : {}),
        ...(msg.expectedSeconds ? { expectedSeconds: msg.expectedSeconds } : {}),
        tiling: msg.tiling ?? tiling,
      });
      const transfer: Transferable[] = [];
      const volumes = r.samples.map((s) => volumeToMessage(s.volume, transfer)[0]);
      const out: ResultMessage = {
        type: 'result',
        kind: 'generate',
        jobId: msg.jobId,
        volumes,
        samples: r.samples.map((s) => ({ seed: s.seed, index: s.index })),
        geometry: r.geometry,
        groupSpace: r.groupSpace,
        backend,
        ...residentStats(),
      };
      post(out, transfer);
      return;
    }
    // The source stays in this worker (a retry needs it again): each attempt reads a view of it.
    const source = volumeFromMessage(volume as VolumeMessage);
    const r = await superResolve(model, source, msg.target, {
      ...msg.options,
      tiling: msg.options.tiling ?? tiling,
      onProgress,
      signal: controller.signal,
    });
    const transfer: Transferable[] = [];
    const vols = [
      r.mean,
      r.std,
      r.upsampled,
      r.classical,
      ...(r.unprojected ? [r.unprojected] : []),
      ...(r.samples ?? []),
    ];
    const out: ResultMessage = {
      type: 'result',
      kind: 'super-resolve',
      jobId: msg.jobId,
      volumes: vols.map((v) => volumeToMessage(v, transfer)[0]),
      hasUnprojected: r.unprojected !== undefined,
      fidelity: r.fidelity,
      backProjectionSeconds: r.backProjectionSeconds,
      target: r.target,
      groupSpace: r.groupSpace,
      settings: r.settings,
      backend,
      ...residentStats(),
    };
    post(out, transfer);
  }

  async function runJob(job: Job): Promise<void> {
    const { msg } = job;
    if (!state) {
      throw new InferenceError('model-load-failed', 'the engine has no model: send init first');
    }
    const volume = msg.type === 'super-resolve' ? msg.volume : null;
    try {
      await execute(job, state.model, state.runtime, state.tiling, volume);
    } catch (e) {
      const retry =
        e instanceof InferenceError &&
        RETRYABLE.has(e.code) &&
        state?.runtime.backend.executionProvider === 'webgpu' &&
        !job.controller.signal.aborted;
      if (!retry) throw e;
      const reason = (e as Error).message;
      const { init, manifestUrl, manifest } = state!;
      await releaseModel();
      const next = await wasmModel(init, manifestUrl, manifest, reason);
      const tiling = tilingFor(next.runtime, init);
      state = { init, manifestUrl, manifest, runtime: next.runtime, model: next.model, tiling };
      post({ type: 'fallback', reason, jobId: msg.jobId, backend: next.runtime.backend });
      await execute(job, next.model, next.runtime, tiling, volume);
    }
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0) {
        const task = queue.shift()!;
        if (task.kind === 'init') {
          try {
            await doInit(task.msg);
          } catch (e) {
            postError(null, e);
          }
        } else if (task.kind === 'job') {
          running = task.job;
          try {
            await runJob(task.job);
          } catch (e) {
            postError(
              task.job.msg.jobId,
              e instanceof InferenceError && e.code === 'cancelled'
                ? new InferenceError(e.code, e.message, {
                    ...e.details,
                    modelCallsAfterCancel: task.job.callsAfterCancel,
                  })
                : e,
            );
          } finally {
            running = null;
          }
        } else {
          await releaseModel();
          post({ type: 'disposed' });
        }
      }
    } finally {
      pumping = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  function cancel(jobId: string): void {
    if (running?.msg.jobId === jobId) {
      running.controller.abort();
      return;
    }
    const n = queue.findIndex((t) => t.kind === 'job' && t.job.msg.jobId === jobId);
    if (n >= 0) {
      queue.splice(n, 1);
      postError(jobId, new InferenceError('cancelled', 'the job was cancelled before it started'));
    }
  }

  scope.addEventListener('message', (event) => {
    const msg = event.data;
    switch (msg.type) {
      case 'init':
        queue.push({ kind: 'init', msg });
        break;
      case 'generate':
      case 'super-resolve':
        queue.push({ kind: 'job', job: { msg, controller: new AbortController(), callsAfterCancel: 0 } });
        break;
      case 'cancel':
        cancel(msg.jobId);
        return;
      case 'dispose':
        // queued jobs will never run
        for (const t of queue.splice(0))
          if (t.kind === 'job')
            postError(t.job.msg.jobId, new InferenceError('cancelled', 'the engine was disposed'));
        running?.controller.abort();
        queue.push({ kind: 'dispose' });
        break;
      default:
        postError(null, new InferenceError('invalid-input', `unknown message ${JSON.stringify(msg)}`));
        return;
    }
    void pump();
  });

  return {
    idle: () => (pumping ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve()),
  };
}
