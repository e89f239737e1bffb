/**
 * The inference engine as both panels share it: one worker (engineClient),
 * the model manifest (read on the page too: the panels need its grid range,
 * defaults and model card), the backend in use, and the time calibration.
 * Observable (subscribe) so that both panels show the same state.
 *
 * Loading is lazy (first panel that needs it) and retried on demand after a
 * failure; switching backend (WebGPU preference on/off) replaces the worker.
 */
import type { BackendInfo } from '../inference/runtime';
import type { TilingPolicy } from '../inference/tiling';
import { maxTensorBytes, tilingPolicyForLimits } from '../inference/tilingLimits';
import type { WebGpuLimits } from '../inference/webRuntime';
import { loadManifest, type ModelManifest } from '../model/manifest';
import type { EngineClient, ReadyInfo, WorkerLike } from '../worker/engineClient';
import { createEngineClient } from '../worker/engineClient';
import type { ModelCard } from '../worker/protocol';
import { calibrate, calibrationKey, loadCalibration, saveCalibration, type StorageLike } from './calibration';
import type { Calibration } from '../planning/estimate';
import { describeError, type PanelNotice } from './panelErrors';

/**
 * Which backend the user wants: 'auto' (WebGPU on a real GPU, else wasm: a software adapter is
 * skipped), 'webgpu' (WebGPU even on a software adapter), 'wasm' (CPU). Remembered per origin.
 */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm'];
export const BACKEND_CHOICE_KEY = 'geometry-ldm.backend';

function storedChoice(storage: StorageLike | null | undefined): BackendChoice | null {
  try {
    const v = storage?.getItem(BACKEND_CHOICE_KEY);
    return v && (BACKEND_CHOICES as readonly string[]).includes(v) ? (v as BackendChoice) : null;
  } catch {
    return null; // storage blocked (privacy settings): the configured default applies
  }
}

export type EngineStatus =
  | { readonly kind: 'idle' }
  | { readonly kind: 'loading' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'error'; readonly notice: PanelNotice };

export type CalibrationStatus =
  | { readonly kind: 'none' }
  | { readonly kind: 'running' }
  | { readonly kind: 'ready'; readonly calibration: Calibration }
  | { readonly kind: 'failed'; readonly message: string };

export interface EngineSnapshot {
  readonly status: EngineStatus;
  readonly backendChoice: BackendChoice;
  readonly manifest: ModelManifest | null;
  readonly model: ModelCard | null;
  readonly backend: BackendInfo | null;
  readonly webgpu: WebGpuLimits | null;
  /** The tiling the engine applies to jobs that give none (from the backend's limits). */
  readonly tiling: TilingPolicy | null;
  /** Why the engine left WebGPU (init or a job), if it did. */
  readonly fallbackReason: string | null;
  readonly calibration: CalibrationStatus;
  /** A job of either panel is running (one at a time: the worker runs jobs in order). */
  readonly busy: boolean;
}

export interface EngineSessionDeps {
  readonly manifestUrl: string;
  readonly wasmPaths: string;
  readonly createWorker: () => WorkerLike;
  readonly fetch?: typeof fetch;
  readonly storage?: StorageLike | null;
  /** The configured default when the user has chosen nothing: true -> 'auto', false -> 'wasm'. */
  readonly preferWebGPU?: boolean;
  /** Called for problems the user must see (model failed to load, fallback to wasm). */
  readonly notify?: (n: { title: string; message: string; type: 'error' | 'warning' | 'info' }) => void;
}

export interface ReadyEngine {
  readonly client: EngineClient;
  readonly manifest: ModelManifest;
  readonly ready: ReadyInfo;
}

export class EngineSession {
  private snapshot: EngineSnapshot;
  private readonly listeners = new Set<() => void>();
  private client: EngineClient | null = null;
  private loading: Promise<ReadyEngine> | null = null;
  private ready: ReadyEngine | null = null;
  private generation = 0;

  constructor(private readonly deps: EngineSessionDeps) {
    this.snapshot = {
      status: { kind: 'idle' },
      backendChoice: storedChoice(deps.storage) ?? (deps.preferWebGPU === false ? 'wasm' : 'auto'),
      manifest: null,
      model: null,
      backend: null,
      webgpu: null,
      tiling: null,
      fallbackReason: null,
      calibration: { kind: 'none' },
      busy: false,
    };
  }

  getSnapshot = (): EngineSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private update(patch: Partial<EngineSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of [...this.listeners]) l();
  }

  /** Starts the worker and loads the model (once; again after a failure or a backend switch). */
  ensureReady(): Promise<ReadyEngine> {
    if (this.ready) return Promise.resolve(this.ready);
    if (this.loading) return this.loading;
    const generation = ++this.generation;
    this.update({ status: { kind: 'loading' } });
    const fetchFn = this.deps.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
    const client = createEngineClient(this.deps.createWorker);
    this.client = client;
    client.onFallback = (info) => {
      if (generation !== this.generation) return;
      // the engine re-sizes its tiles for the wasm budget (engineHost.ts tilingFor)
      this.update({
        backend: info.backend,
        fallbackReason: info.reason,
        tiling: tilingPolicyForLimits(maxTensorBytes(undefined)),
      });
      this.deps.notify?.({
        title: 'Switched to the wasm backend',
        message: `WebGPU could not be used: ${info.reason}. The job continues on the CPU (slower).`,
        type: 'warning',
      });
      // Timings measured on WebGPU do not apply any more.
      this.refreshCalibrationFor(info.backend);
    };
    const run = async (): Promise<ReadyEngine> => {
      const [manifest, ready] = await Promise.all([
        loadManifest(this.deps.manifestUrl, fetchFn),
        client.init({
          manifestUrl: this.deps.manifestUrl,
          wasmPaths: this.deps.wasmPaths,
          preferWebGPU: this.snapshot.backendChoice !== 'wasm',
          allowSoftwareWebGPU: this.snapshot.backendChoice === 'webgpu',
        }),
      ]);
      return { client, manifest, ready };
    };
    const promise = run().then(
      (r) => {
        if (generation !== this.generation) throw new Error('superseded');
        this.ready = r;
        this.loading = null;
        this.update({
          status: { kind: 'ready' },
          manifest: r.manifest,
          model: r.ready.model,
          backend: client.backend ?? r.ready.backend,
          webgpu: r.ready.webgpu ?? null,
          tiling: r.ready.tiling ?? null,
          fallbackReason: (client.backend ?? r.ready.backend).fallbackReason ?? null,
        });
        this.refreshCalibrationFor(client.backend ?? r.ready.backend);
        return r;
      },
      (e: unknown) => {
        if (generation === this.generation) {
          this.loading = null;
          const notice = describeError(e, 'load-model');
          this.update({ status: { kind: 'error', notice } });
          this.deps.notify?.({ title: notice.title, message: notice.message, type: 'error' });
          void client.dispose();
          this.client = null;
        }
        throw e;
      },
    );
    this.loading = promise;
    return promise;
  }

  /** Replaces the worker with one for the chosen backend, and remembers the choice (per origin). */
  async setBackendChoice(choice: BackendChoice): Promise<void> {
    if (choice === this.snapshot.backendChoice && this.snapshot.status.kind !== 'error') return;
    if (this.snapshot.busy) throw new Error('a job is running: cancel it before switching the backend');
    try {
      this.deps.storage?.setItem(BACKEND_CHOICE_KEY, choice);
    } catch {
      // not remembered (storage blocked); the choice still applies to this page
    }
    this.generation++;
    const old = this.client;
    this.client = null;
    this.ready = null;
    this.loading = null;
    this.update({
      backendChoice: choice,
      status: { kind: 'idle' },
      backend: null,
      webgpu: null,
      tiling: null,
      fallbackReason: null,
      calibration: { kind: 'none' },
    });
    await old?.dispose();
    await this.ensureReady().catch(() => undefined);
  }

  /** Marks the engine busy while `fn` runs; jobs of both panels are serialised by the caller's button state. */
  async runExclusive<T>(fn: (engine: ReadyEngine) => Promise<T>): Promise<T> {
    if (this.snapshot.busy) throw new Error('another job is running');
    this.update({ busy: true });
    try {
      return await fn(await this.ensureReady());
    } finally {
      this.update({ busy: false });
    }
  }

  private refreshCalibrationFor(backend: BackendInfo): void {
    const manifest = this.ready?.manifest ?? this.snapshot.manifest;
    if (!manifest) return;
    const cached = loadCalibration(this.deps.storage ?? null, calibrationKey(manifest, backend));
    this.update({ calibration: cached ? { kind: 'ready', calibration: cached } : { kind: 'none' } });
  }

  /** Measures the time calibration now (a few seconds of small jobs). */
  async calibrate(): Promise<void> {
    if (this.snapshot.calibration.kind === 'running') return;
    this.update({ calibration: { kind: 'running' } });
    try {
      const c = await this.runExclusive(async (engine) => {
        const backend = engine.client.backend ?? engine.ready.backend;
        return calibrate(engine.client, engine.manifest, backend);
      });
      saveCalibration(this.deps.storage ?? null, c);
      this.update({ calibration: { kind: 'ready', calibration: c } });
    } catch (e) {
      this.update({ calibration: { kind: 'failed', message: (e as Error).message ?? String(e) } });
    }
  }

  async dispose(): Promise<void> {
    this.generation++;
    const c = this.client;
    this.client = null;
    this.ready = null;
    this.loading = null;
    await c?.dispose();
  }
}
