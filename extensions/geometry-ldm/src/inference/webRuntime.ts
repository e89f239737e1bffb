/**
 * InferenceRuntime over an injected onnxruntime-web module: WebGPU when the
 * browser offers an adapter (and the caller prefers it), otherwise wasm, with
 * the reason recorded in `backend.fallbackReason`. No onnxruntime import here:
 * the worker entry (or a test) passes the module it loaded.
 *
 * WebGPU: this module requests the GPUDevice itself (with the adapter's full
 * buffer limits, which the default device would cap at 128 MiB / 256 MiB) and
 * hands it to ort-web's WebGPU EP in the session options, so it knows the
 * device's limits (for tiling) and its `lost` promise.
 *
 * What stays on the GPU, and what crosses. The weights and the activations
 * inside a run stay on the device (onnxruntime-web's doing; an op it places
 * on its CPU EP instead would move its tensors, not checked here). Feeds marked
 * `constant` (the UNet's latent-size coordinate conditioning, the same array
 * for every diffusion step of a job) are uploaded once with
 * `queue.writeBuffer` and fed as `Tensor.fromGpuBuffer` tensors after that.
 * Per UNet call the latent z_t and t go up and the noise estimate eps comes
 * back: B * 8 * (latent voxels) float32 each way, per sample 1/64 of the
 * image's float32s. Per sample and step, measured at this runtime's boundary
 * (predictNoise through createWebRuntime with a recording fake ort-web;
 * webRuntime.test.ts checks these numbers):
 * 96x96x104 -> 59,904 B each way (+4 B for t), 192x192x208 -> 479,232 B,
 * 272x272x288 -> 1,331,712 B; the conditioning, uploaded once per job, is
 * 3/8 of one of those. Encoder and decoder outputs come back once per pass
 * (the latent for the JS noising, the image for the mean/std and HU).
 *
 * Why `preferredOutputLocation: 'gpu-buffer'` (onnxruntime-web 1.30 has it)
 * is not used: eps is consumed on the CPU. The scheduler update
 * z' = a*z_t + b*eps (DDIM; DDPM adds per-sample noise from each sample's own
 * JS RNG stream), the forward noising of each super-resolution cycle and the
 * optional x0-hat previews all run in JS, so a GPU-resident eps would be
 * downloaded right away (`getData()`) and gain nothing. Keeping the whole
 * chain on the device would need the step, the noising and the RNG as GPU
 * kernels (or an extra ONNX graph per step) to save about 2.6 MB of transfer
 * per sample and step at the largest grid (well under a millisecond at PCIe
 * bandwidths; per-call WebGPU times on real GPUs are not measured here).
 *
 * A WebGPU run that fails with device loss or out-of-memory rejects with an
 * `InferenceError` ('session-failed' / 'out-of-memory', `details.retryOnWasm`)
 * and never hangs: every run races the device's `lost` promise.
 */
import { InferenceError } from './errors';
import { createOrtRuntime, type OrtModule } from './ortRuntime';
import type { Float32Tensor, InferenceRuntime, ModelSession } from './runtime';

/** The part of onnxruntime-web's `env` this module touches. */
export interface OrtWebEnv {
  wasm: { numThreads?: number; wasmPaths?: string | Record<string, string>; proxy?: boolean };
  webgpu?: Record<string, unknown>;
}

export interface OrtWebModule extends OrtModule {
  readonly env: OrtWebEnv;
}

/** `Tensor.fromGpuBuffer` of onnxruntime-web (absent from builds without WebGPU). */
type FromGpuBuffer = (
  buffer: unknown,
  options: { dataType: 'float32'; dims: readonly number[]; dispose?: () => void },
) => unknown;

/** Minimal WebGPU shapes (the DOM lib has no WebGPU types). */
type GpuLimitsLike = Readonly<Record<string, number | undefined>>;
interface GpuBufferLike {
  destroy(): void;
}
interface GpuDeviceLike {
  readonly limits?: GpuLimitsLike;
  readonly lost?: Promise<{ reason?: string; message?: string }>;
  readonly queue?: { writeBuffer(buffer: GpuBufferLike, offset: number, data: Float32Array): void };
  createBuffer?(descriptor: { size: number; usage: number }): GpuBufferLike;
}
interface GpuAdapterLike {
  readonly limits?: GpuLimitsLike;
  readonly info?: {
    vendor?: string;
    architecture?: string;
    description?: string;
    device?: string;
    /** WebGPU: the adapter is a fallback (software) one (newer browsers). */
    isFallbackAdapter?: boolean;
  };
  /** Older browsers put the flag on the adapter itself. */
  readonly isFallbackAdapter?: boolean;
  readonly features?: { has(name: string): boolean };
  requestDevice?(descriptor?: {
    requiredLimits?: Record<string, number>;
    requiredFeatures?: string[];
  }): Promise<GpuDeviceLike>;
}
export interface NavigatorLike {
  readonly gpu?: { requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null> };
  readonly hardwareConcurrency?: number;
}

/** What the WebGPU adapter and the device the engine runs on allow (bytes). */
export interface WebGpuLimits {
  /** `software`: a CPU renderer (SwiftShader, llvmpipe, ...), see isSoftwareAdapter. */
  readonly adapter: { vendor?: string; architecture?: string; description?: string; software?: boolean };
  /** Adapter limits: the most a device may request. */
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  /** Limits of the device ort-web runs on: what one tensor binding may really use. */
  readonly device: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  readonly shaderF16: boolean;
}

/** Counters of GPU-resident feeds (diagnostics): uploads vs reuses of `constant` feeds. */
export interface ResidentFeedStats {
  uploads: number;
  reuses: number;
}

export interface WebRuntime extends InferenceRuntime {
  /** Present when the backend is WebGPU. */
  readonly webgpu?: WebGpuLimits;
  /** Present when the backend is WebGPU. */
  readonly residentFeeds?: Readonly<ResidentFeedStats>;
  /** True when wasm was chosen over a software WebGPU adapter (a decision, not a failure). */
  readonly skippedSoftwareAdapter?: boolean;
  /** True when this browser offers no WebGPU adapter at all (wasm is the only choice, not a failure). */
  readonly noWebGpu?: boolean;
}

export interface WebRuntimeOptions {
  /** Try WebGPU first (default true). */
  readonly preferWebGPU?: boolean;
  /**
   * Use a software WebGPU adapter (isSoftwareAdapter) when it is the only one (default false:
   * wasm runs these models far faster than a CPU renderer; the user can still ask for it).
   */
  readonly allowSoftwareWebGPU?: boolean;
  /** URL prefix (or per-file map) where ort-web's .wasm/.mjs files are served; set on `ort.env.wasm.wasmPaths`. */
  readonly wasmPaths?: string | Record<string, string>;
  /** Wasm threads; default `crossOriginIsolated ? min(hardwareConcurrency, 4) : 1`. */
  readonly threads?: number;
  /** Injected for tests; default `globalThis.navigator`. */
  readonly navigator?: NavigatorLike;
  /** Injected for tests; default `globalThis.crossOriginIsolated`. */
  readonly crossOriginIsolated?: boolean;
  /** Extra session options passed to every session. */
  readonly sessionOptions?: Record<string, unknown>;
  /** Reason to record when the caller forces wasm after a WebGPU failure. */
  readonly fallbackReason?: string;
}

export const RETRY_ON_WASM = 'retry on the wasm backend';

/**
 * A WebGPU adapter that renders on the CPU (SwiftShader in a browser without a GPU, Mesa's
 * llvmpipe/lavapipe): correct, but these models run 60-130x slower on it than on wasm (measured,
 * BENCHMARKS.md). Known from the adapter's fallback flag or its own description.
 */
export function isSoftwareAdapter(
  adapter:
    | {
        readonly isFallbackAdapter?: boolean;
        readonly info?: {
          isFallbackAdapter?: boolean;
          vendor?: string;
          architecture?: string;
          description?: string;
        };
      }
    | { readonly software?: boolean; vendor?: string; architecture?: string; description?: string }
    | null
    | undefined,
): boolean {
  if (!adapter) return false;
  const a = adapter as {
    isFallbackAdapter?: boolean;
    software?: boolean;
    info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; description?: string };
    vendor?: string;
    architecture?: string;
    description?: string;
  };
  if (a.software === true || a.isFallbackAdapter === true || a.info?.isFallbackAdapter === true) return true;
  const i = a.info ?? a;
  return /swiftshader|software|llvmpipe|lavapipe/i.test(
    [i.vendor, i.architecture, i.description].filter(Boolean).join(' '),
  );
}

/** Words for the adapter, as the panels show it ("software adapter (SwiftShader ...)"). */
export function adapterText(adapter: {
  vendor?: string;
  architecture?: string;
  description?: string;
}): string {
  return (
    [adapter.description || [adapter.vendor, adapter.architecture].filter(Boolean).join(' ')]
      .filter(Boolean)
      .join('') || 'unnamed adapter'
  );
}

/** Limits the engine asks the device for (the adapter's values), when the adapter reports them. */
const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];
const OPTIONAL_FEATURES = ['shader-f16', 'subgroups'];
/** GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (numeric: workers without WebGPU have no GPUBufferUsage). */
const STORAGE_COPY = 0x80 | 0x04 | 0x08;
/** Resident constant feeds kept per session (the conditioning of the current job, maybe one batched copy). */
const RESIDENT_PER_SESSION = 2;

/** Wasm intra-op threads: more than one needs SharedArrayBuffer, i.e. cross-origin isolation. */
export function wasmThreads(isolated: boolean, hardwareConcurrency: number | undefined): number {
  return isolated ? Math.max(1, Math.min(hardwareConcurrency ?? 1, 4)) : 1;
}

function globalNavigator(): NavigatorLike | undefined {
  return (globalThis as { navigator?: NavigatorLike }).navigator;
}

function isolatedContext(options: WebRuntimeOptions): boolean {
  return (
    options.crossOriginIsolated ??
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ??
    false
  );
}

function isDeviceLost(message: string): boolean {
  return /device (is |was |has been )?lost|lost device|destroyed|GPUDevice.*(lost|invalid)|DXGI_ERROR_DEVICE|context lost/i.test(
    message,
  );
}

function isGpuOutOfMemory(message: string): boolean {
  return /out of memory|OOM|bad_alloc|exceeds .*(limit|max)|maxStorageBufferBindingSize|maxBufferSize|allocation failed|Failed to (create|allocate|map) buffer/i.test(
    message,
  );
}

/** Looks for a WebGPU adapter; returns it, or the reason there is none. */
export async function probeWebGpu(
  nav: NavigatorLike | undefined,
): Promise<{ adapter: GpuAdapterLike } | { reason: string }> {
  if (!nav?.gpu) return { reason: 'WebGPU is not available (navigator.gpu is missing)' };
  try {
    const adapter = await nav.gpu.requestAdapter();
    if (!adapter) return { reason: 'WebGPU adapter not available (requestAdapter() returned null)' };
    return { adapter };
  } catch (e) {
    return { reason: `WebGPU requestAdapter() failed: ${(e as Error).message ?? String(e)}` };
  }
}

/** A device with the adapter's buffer limits (the default device gets only 128/256 MiB). */
async function requestDevice(adapter: GpuAdapterLike): Promise<GpuDeviceLike> {
  if (typeof adapter.requestDevice !== 'function') throw new Error('the adapter has no requestDevice()');
  const requiredLimits: Record<string, number> = {};
  for (const key of REQUESTED_LIMITS) {
    const v = adapter.limits?.[key];
    if (typeof v === 'number') requiredLimits[key] = v;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features?.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (!device) throw new Error('requestDevice() returned nothing');
  return device;
}

function applyWasmEnv(ort: OrtWebModule, threads: number, wasmPaths: WebRuntimeOptions['wasmPaths']): void {
  ort.env.wasm.numThreads = threads;
  if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
}

/** A wasm runtime (used directly, and by the worker when it retries a WebGPU job). */
export function createWasmRuntime(ort: OrtWebModule, options: WebRuntimeOptions = {}): WebRuntime {
  const nav = options.navigator ?? globalNavigator();
  const threads = options.threads ?? wasmThreads(isolatedContext(options), nav?.hardwareConcurrency);
  applyWasmEnv(ort, threads, options.wasmPaths);
  return createOrtRuntime(ort, {
    library: 'onnxruntime-web',
    executionProvider: 'wasm',
    threads,
    ...(options.fallbackReason ? { fallbackReason: options.fallbackReason } : {}),
    ...(options.sessionOptions ? { sessionOptions: options.sessionOptions } : {}),
  });
}

/**
 * WebGPU if preferred and available (adapter + device), else wasm with the reason.
 * Creating the runtime does not load a model; a WebGPU session that fails to
 * load throws 'session-failed' from createSession (the caller may then fall back).
 */
export async function createWebRuntime(
  ort: OrtWebModule,
  options: WebRuntimeOptions = {},
): Promise<WebRuntime> {
  const nav = options.navigator ?? globalNavigator();
  if (options.preferWebGPU === false) return createWasmRuntime(ort, options);
  const probe = await probeWebGpu(nav);
  if ('reason' in probe)
    return { ...createWasmRuntime(ort, { ...options, fallbackReason: probe.reason }), noWebGpu: true };
  if (!ort.env.webgpu) {
    return createWasmRuntime(ort, {
      ...options,
      fallbackReason: 'this onnxruntime-web build has no WebGPU backend',
    });
  }
  const adapter = probe.adapter;
  const software = isSoftwareAdapter(adapter);
  if (software && !options.allowSoftwareWebGPU) {
    const wasm = createWasmRuntime(ort, {
      ...options,
      fallbackReason:
        `the only WebGPU adapter is a software renderer (${adapterText(adapter.info ?? {})}), ` +
        'which runs these models many times slower than wasm on the CPU',
    });
    return { ...wasm, skippedSoftwareAdapter: true };
  }
  let device: GpuDeviceLike;
  try {
    device = await requestDevice(adapter);
  } catch (e) {
    return createWasmRuntime(ort, {
      ...options,
      fallbackReason: `WebGPU device could not be created: ${(e as Error).message ?? String(e)}`,
    });
  }
  // Wasm settings still matter: ort-web's WebGPU build runs on the same wasm module (CPU ops, and a
  // later wasm fallback, which cannot change the thread count once the module is initialised).
  const threads = options.threads ?? wasmThreads(isolatedContext(options), nav?.hardwareConcurrency);
  applyWasmEnv(ort, threads, options.wasmPaths);
  const limits: WebGpuLimits = {
    adapter: {
      vendor: adapter.info?.vendor,
      architecture: adapter.info?.architecture,
      description: adapter.info?.description,
      software,
    },
    maxStorageBufferBindingSize: adapter.limits?.maxStorageBufferBindingSize ?? 0,
    maxBufferSize: adapter.limits?.maxBufferSize ?? 0,
    device: {
      maxStorageBufferBindingSize: device.limits?.maxStorageBufferBindingSize ?? 0,
      maxBufferSize: device.limits?.maxBufferSize ?? 0,
    },
    shaderF16: adapter.features?.has('shader-f16') ?? false,
  };
  // Resolves (never rejects) when the device is lost; runs race it so a lost device cannot hang a job.
  let lostReason: string | null = null;
  const lost: Promise<string> = (device.lost ?? new Promise<never>(() => undefined)).then((info) => {
    lostReason = `WebGPU device lost (${info?.reason ?? 'unknown'}${info?.message ? `: ${info.message}` : ''})`;
    return lostReason;
  });
  const stats: ResidentFeedStats = { uploads: 0, reuses: 0 };
  const resident = new Map<string, ResidentCache>();
  const fromGpuBuffer = (ort.Tensor as unknown as { fromGpuBuffer?: FromGpuBuffer }).fromGpuBuffer;
  const canUpload = typeof fromGpuBuffer === 'function' && !!device.createBuffer && !!device.queue;
  const inner = createOrtRuntime(ort, {
    library: 'onnxruntime-web',
    executionProvider: 'webgpu',
    threads,
    sessionOptions: {
      ...options.sessionOptions,
      // ort-web's WebGPU EP takes an application-created device in the EP options
      executionProviders: [{ name: 'webgpu', device }],
    },
    feedTensor: (session, t) => {
      if (!t.constant || !canUpload || lostReason) return undefined;
      let cache = resident.get(session);
      if (!cache) resident.set(session, (cache = new ResidentCache()));
      return cache.tensorFor(t, device, fromGpuBuffer as FromGpuBuffer, stats);
    },
  });
  return {
    backend: inner.backend,
    webgpu: limits,
    residentFeeds: stats,
    async createSession(name, bytes) {
      if (lostReason) throw gpuError('session-failed', name, lostReason);
      const session = await inner.createSession(name, bytes);
      return wrapGpuSession(
        session,
        lost,
        () => lostReason,
        () => {
          resident.get(name)?.clear();
          resident.delete(name);
        },
      );
    },
  };
}

/** Constant feeds of one session uploaded to the GPU, keyed by their array (least recently used first). */
class ResidentCache {
  private readonly entries = new Map<
    Float32Array,
    { dims: string; tensor: unknown; buffer: GpuBufferLike }
  >();

  tensorFor(
    t: Float32Tensor,
    device: GpuDeviceLike,
    fromGpuBuffer: FromGpuBuffer,
    stats: ResidentFeedStats,
  ): unknown {
    const dims = t.dims.join(',');
    const hit = this.entries.get(t.data);
    if (hit && hit.dims === dims) {
      this.entries.delete(t.data);
      this.entries.set(t.data, hit);
      stats.reuses += 1;
      return hit.tensor;
    }
    if (hit) this.drop(t.data);
    // storage buffers are bound in 16-byte units
    const size = Math.max(16, Math.ceil(t.data.byteLength / 16) * 16);
    const buffer = device.createBuffer!({ size, usage: STORAGE_COPY });
    device.queue!.writeBuffer(buffer, 0, t.data);
    const tensor = fromGpuBuffer(buffer, { dataType: 'float32', dims: t.dims });
    this.entries.set(t.data, { dims, tensor, buffer });
    stats.uploads += 1;
    while (this.entries.size > RESIDENT_PER_SESSION) this.drop(this.entries.keys().next().value!);
    return tensor;
  }

  private drop(key: Float32Array): void {
    const e = this.entries.get(key);
    this.entries.delete(key);
    e?.buffer.destroy();
  }

  clear(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
  }
}

function gpuError(code: 'session-failed' | 'out-of-memory', model: string, cause: string): InferenceError {
  return new InferenceError(
    code,
    `model "${model}" failed on webgpu: ${cause}; ${RETRY_ON_WASM} (init with preferWebGPU: false)`,
    { model, backend: 'webgpu', retryOnWasm: true },
  );
}

/** Turns WebGPU run failures into typed errors that tell the caller to retry on wasm. */
function wrapGpuSession(
  session: ModelSession,
  lost: Promise<string>,
  lostReason: () => string | null,
  onRelease: () => void,
): ModelSession {
  return {
    name: session.name,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const already = lostReason();
      if (already) throw gpuError('session-failed', session.name, already);
      const lostRace = lost.then((reason) => {
        throw gpuError('session-failed', session.name, reason);
      });
      // keep the race promise from reporting an unhandled rejection later
      lostRace.catch(() => undefined);
      try {
        return await Promise.race([session.run(feeds), lostRace]);
      } catch (e) {
        if (e instanceof InferenceError && e.details.retryOnWasm) throw e;
        const message = (e as Error).message ?? String(e);
        const reason = lostReason();
        if (reason || isDeviceLost(message))
          throw gpuError('session-failed', session.name, reason ?? message);
        if ((e instanceof InferenceError && e.code === 'out-of-memory') || isGpuOutOfMemory(message))
          throw gpuError('out-of-memory', session.name, message);
        throw e;
      }
    },
    release: async () => {
      onRelease();
      try {
        await session.release();
      } catch (e) {
        // releasing on a lost device may fail; the session is gone either way
        if (!lostReason()) throw e;
      }
    },
  };
}
