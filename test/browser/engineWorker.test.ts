/**
 * The engine worker in headless chromium, served cross-origin isolated
 * (COOP/COEP) from a local static server: the worker bundle (esbuild, ESM,
 * onnxruntime-web bundled, its .mjs/.wasm served from node_modules), the page
 * helper bundle and the tiny random-weight model.
 * (a) wasm in a Worker: same result as the Node pipeline on ort-web wasm and
 *     on onnxruntime-node, bit-identical on a repeat, progress with preview,
 *     cancel, FIFO queue, transferred buffers; the model cache (a second init
 *     reads Cache Storage, no network; a corrupt entry is detected by sha256
 *     and fetched again);
 * (b) WebGPU through the software adapter (SwiftShader): backend, limits and
 *     the tiling derived from them, a fresh worker served from the cache,
 *     agreement with wasm, bit-identical repeat, the conditioning kept on the
 *     GPU, and a real device loss mid-job retried on wasm.
 * Two workers in all, on one page: each worker compiles onnxruntime-web's
 * 27 MB wasm (about 10 s on 2 busy cores) and, on WebGPU, every shader.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { MODEL_CACHE_NAME } from '../../extensions/geometry-ldm/src/inference/modelCache';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import {
  bundlePageHelpers,
  bundleWorker,
  maxAbsDiff,
  ORT_WEB_DIST,
  removeDriver,
  runNodeReference,
  startStaticServer,
  type DriverReport,
  type StaticServer,
} from './engineHarness';

const SPEC = {
  geometry: { kind: 'fov', dims: [32, 32, 32] },
  seed: 'engine-worker-1',
  sampler: { kind: 'ddim', steps: 2 },
};
/** HU per model unit of the tiny model's intensity window, set in beforeAll. */
let huPerModel = 1;

/**
 * Tolerances, in model units (the tiny model maps [-1, 1] to 2000 HU, so
 * 1e-4 model units is 0.1 HU). Measured values are logged.
 * - browser wasm (2 threads) vs ort-web wasm in Node (1 thread) and vs
 *   onnxruntime-node: 1e-4 (float reassociation across thread counts and kernels)
 * - WebGPU (SwiftShader) vs wasm: 1e-3 (GPU kernels sum in other orders)
 * - the same runtime and seed twice: bit-identical (0)
 */
const TOL_WASM_MODEL = 1e-4;
const TOL_WEBGPU_MODEL = 1e-3;

let exported: ExportedModel;
let reference: DriverReport;
let server: StaticServer;
let launched: LaunchedBrowser;
let modelFiles: Record<string, string>;
/** One page (one browser context) for all tests, so chromium compiles onnxruntime-web's wasm once. */
let page: Page;

beforeAll(async () => {
  exported = exportTinyModel(0);
  const i = exported.manifest.intensity;
  huPerModel = (i.huMax - i.huMin) / (i.modelMax - i.modelMin);
  modelFiles = Object.fromEntries(
    Object.entries(exported.manifest.files).map(([part, f]) => [part, `/model/${f.path}`]),
  );
  const [reportNode, worker, faulty, helpers] = await Promise.all([
    runNodeReference({ modelDir: exported.dir, generate: SPEC }),
    bundleWorker(),
    bundleWorker(join(__dirname, 'faultyGpuWorker.ts')),
    bundlePageHelpers(),
  ]);
  reference = reportNode;
  server = await startStaticServer(
    {
      '/': '<!doctype html><html><head><script src="/engine/page.js"></script></head><body></body></html>',
      '/engine/engineWorker.js': worker,
      '/engine/faultyGpuWorker.js': faulty,
      '/engine/page.js': helpers,
      // the same model with a wrong unet sha256 in its manifest
      '/bad/model.json': JSON.stringify({
        ...exported.manifest,
        files: {
          ...exported.manifest.files,
          unet: { ...exported.manifest.files.unet, sha256: '0'.repeat(64) },
        },
      }),
    },
    { '/ort/': ORT_WEB_DIST, '/model/': exported.dir, '/bad/': exported.dir },
    ['/ort/', '/engine/'],
  );
  launched = await launchChromium({ webgpu: true });
  page = await launched.browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(server.origin + '/');
}, 180000);

afterAll(async () => {
  await page?.close();
  await launched?.close();
  await server?.close();
  exported?.remove();
  removeDriver();
});

/** Evaluates `fn(args)` in the page; `fn` must be self-contained (it is sent as source). */
async function inPage<A, R>(page: Page, fn: (args: A) => Promise<R>, args: A): Promise<R> {
  return (await page.evaluate(({ src, a }) => new Function('a', `return (${src})(a)`)(a), {
    src: fn.toString(),
    a: args as unknown,
  })) as R;
}

interface PageArgs {
  origin: string;
  spec: typeof SPEC;
  worker?: string;
  preferWebGPU?: boolean;
}

/** Starts a client in the page as `globalThis.engine` and returns the ready info. */
async function startEngine(page: Page, worker: string, preferWebGPU: boolean) {
  return inPage(
    page,
    async ({
      origin,
      worker: w,
      preferWebGPU: gpu,
    }: {
      origin: string;
      worker: string;
      preferWebGPU: boolean;
    }) => {
      const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const client = g.engineTest.createEngineClient(() => new Worker(w, { type: 'module', name: 'engine' }));
      g.fallbacks = [];
      client.onFallback = (f: unknown) => g.fallbacks.push(f);
      g.engine = client;
      const ready = await client.init({
        manifestUrl: '/model/model.json',
        wasmPaths: origin + '/ort/',
        preferWebGPU: gpu,
        // these tests run WebGPU on chromium's software adapter on purpose (the product skips it by default)
        allowSoftwareWebGPU: gpu,
      });
      const nav = navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } };
      return {
        ready,
        isolated: crossOriginIsolated,
        pageAdapter: nav.gpu ? !!(await nav.gpu.requestAdapter()) : false,
      };
    },
    { origin: server.origin, worker, preferWebGPU },
  );
}

async function stopEngine(page: Page): Promise<void> {
  await page.evaluate(() =>
    (globalThis as unknown as { engine?: { dispose(): Promise<void> } }).engine?.dispose(),
  );
}

// ------------------------------------------------------------------ (a) wasm + model cache

const modelRequests = () =>
  Object.fromEntries(Object.entries(modelFiles).map(([part, p]) => [part, server.counts.get(p) ?? 0]));

/** Re-initialises the page's engine (same worker): the model is loaded anew through the cache. */
const reinit = () =>
  inPage(
    page,
    async ({ origin }: { origin: string }) => {
      const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const ready = await g.engine.init({
        manifestUrl: '/model/model.json',
        wasmPaths: origin + '/ort/',
        preferWebGPU: false,
      });
      return ready.files as { part: string; source: string; corruptEntryReplaced?: boolean }[];
    },
    { origin: server.origin },
  );

describe('engine worker on wasm (chromium Web Worker), model cache', () => {
  let wasmData: number[];
  let ready: Awaited<ReturnType<typeof startEngine>>;
  beforeAll(async () => {
    server.resetCounts();
    const t0 = Date.now();
    ready = await startEngine(page, '/engine/engineWorker.js', false);
    console.log(`wasm worker start + init: ${Date.now() - t0} ms`);
  }, 120000);
  afterAll(async () => {
    if (page) await stopEngine(page);
  });

  it('init reports onnxruntime-web wasm with threads (cross-origin isolated), the model card, the tiling budget; files came from the network', () => {
    expect(ready.isolated).toBe(true);
    expect(ready.ready.backend).toMatchObject({ library: 'onnxruntime-web', executionProvider: 'wasm' });
    expect(ready.ready.backend.threads).toBeGreaterThanOrEqual(2);
    expect(ready.ready.model).toMatchObject({
      name: exported.manifest.name,
      version: exported.manifest.version,
      intendedUse: 'research, not for diagnosis',
    });
    // wasm: 256 MiB per tensor / 128 B per image voxel
    expect(ready.ready.tiling).toEqual({ maxImageVoxelsPerCall: 2 ** 21 });
    expect(ready.ready.files.map((f: { source: string }) => f.source)).toEqual([
      'network',
      'network',
      'network',
      'network',
    ]);
    expect(modelRequests()).toEqual({ encoder: 1, decoder: 1, unet: 1, refiner: 1 });
  });

  it('generate: same output as the Node pipeline, bit-identical on a repeat, progress with a preview', async () => {
    const t0 = Date.now();
    const got = await inPage(
      page,
      async ({ spec }: PageArgs) => {
        const client = (globalThis as unknown as Record<string, any>).engine; // eslint-disable-line @typescript-eslint/no-explicit-any
        const events: {
          stage: string;
          step: number;
          total: number;
          preview?: { width: number; height: number; data: Float32Array };
        }[] = [];
        const r = await client.generate(spec, {
          preview: true,
          onProgress: (e: (typeof events)[number]) => events.push(e),
        });
        const again = await client.generate(spec);
        const v = r.samples[0].volume;
        const last = events.find((e) => e.preview);
        return {
          events: events.map((e) => ({ stage: e.stage, step: e.step, total: e.total })),
          preview: last?.preview
            ? {
                width: last.preview.width,
                height: last.preview.height,
                isF32: last.preview.data instanceof Float32Array,
                data: Array.from(last.preview.data),
              }
            : null,
          dims: v.dims,
          unit: v.unit,
          affine: v.affine,
          data: Array.from(v.data as Float32Array),
          again: Array.from(again.samples[0].volume.data as Float32Array),
        };
      },
      { origin: server.origin, spec: SPEC },
    );
    console.log(`wasm generate x2 in the worker: ${Date.now() - t0} ms`);
    expect(got.dims).toEqual([32, 32, 32]);
    expect(got.unit).toBe('HU');
    expect(got.affine).toEqual(reference.generate!.affine);
    wasmData = got.data;
    const dWeb = maxAbsDiff(got.data, reference.webData!);
    const dNode = maxAbsDiff(got.data, reference.nodeData!);
    console.log(
      `browser wasm vs Node ort-web wasm: ${dWeb.toExponential(2)} HU (${(dWeb / huPerModel).toExponential(2)} model); ` +
        `vs onnxruntime-node: ${dNode.toExponential(2)} HU (${(dNode / huPerModel).toExponential(2)} model)`,
    );
    expect(dWeb / huPerModel).toBeLessThan(TOL_WASM_MODEL);
    expect(dNode / huPerModel).toBeLessThan(TOL_WASM_MODEL);
    expect(maxAbsDiff(got.again, got.data)).toBe(0);
    // prepare, 2 denoise steps, decode, finish
    expect(got.events.map((e) => e.stage)).toEqual(['prepare', 'denoise', 'denoise', 'decode', 'finish']);
    expect(got.events.at(-1)).toMatchObject({ step: 3, total: 3 });
    // the preview is the mid-slice (k = 16) of the result, in model units
    expect(got.preview).toMatchObject({ width: 32, height: 32, isF32: true });
    const i = exported.manifest.intensity;
    const midSliceModel = got.data
      .slice(16 * 32 * 32, 17 * 32 * 32)
      .map((hu) => i.modelMin + (hu - i.huMin) / huPerModel);
    expect(maxAbsDiff(got.preview!.data, midSliceModel)).toBeLessThan(1e-5);
  });

  it('cancel stops a job within a model call with a typed "cancelled" error; queued jobs run after it in order; buffers are transferred', async () => {
    const got = await inPage(
      page,
      async ({ spec }: PageArgs) => {
        const client = (globalThis as unknown as Record<string, any>).engine; // eslint-disable-line @typescript-eslint/no-explicit-any
        const lib = (globalThis as unknown as Record<string, any>).engineTest; // eslint-disable-line @typescript-eslint/no-explicit-any
        const log: string[] = [];
        type Settled = {
          ok: boolean;
          r?: unknown;
          error?: {
            name: string;
            code?: string;
            message: string;
            isError: boolean;
            details?: Record<string, unknown>;
          };
        };
        const settle = (name: string, p: Promise<unknown>): Promise<Settled> =>
          p.then(
            (r) => {
              log.push(`${name}:done`);
              return { ok: true, r };
            },
            (e: Error & { code?: string; details?: Record<string, unknown> }) => {
              log.push(`${name}:error`);
              return {
                ok: false,
                error: {
                  name: e.name,
                  code: e.code,
                  message: e.message,
                  isError: e instanceof Error,
                  details: e.details,
                },
              };
            },
          );
        let denoiseSeen = 0;
        let cancelledAt = -1;
        const long = client.generate(
          { ...spec, sampler: { kind: 'ddim', steps: 50 } },
          {
            onProgress: (e: { stage: string }) => {
              if (e.stage !== 'denoise') return;
              denoiseSeen += 1;
              if (denoiseSeen === 2) {
                log.push('long:cancel');
                cancelledAt = denoiseSeen;
                client.cancel(long.jobId);
              }
            },
          },
        );
        let secondFirstProgress = true;
        const second = client.generate(spec, {
          onProgress: () => {
            if (secondFirstProgress) log.push('second:progress');
            secondFirstProgress = false;
          },
        });
        const dropped = client.generate(spec);
        client.cancel(dropped.jobId); // still queued: dropped without running
        // super-resolution of a small HU volume; its buffer goes to the worker
        const n = 16;
        const data = new Float32Array(n * n * n);
        for (let k = 0; k < n; k++)
          for (let j = 0; j < n; j++)
            for (let i = 0; i < n; i++) data[(k * n + j) * n + i] = -500 + 40 * i - 20 * j + 10 * k;
        const src = lib.makeVolume([n, n, n], [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1], data, 'HU');
        const before = data.buffer.byteLength;
        const sr = client.superResolve(
          src,
          { kind: 'scale', factor: 2 },
          { samples: 1, cycles: 1, ddimSteps: 2 },
        );
        const after = data.buffer.byteLength;
        const results = await Promise.all([
          settle('long', long),
          settle('second', second),
          settle('dropped', dropped),
          settle('sr', sr),
        ]);
        const secondR = results[1].r as { samples: { volume: { data: Float32Array } }[] } | undefined;
        const srR = results[3].r as
          { mean: { dims: number[]; unit: string; data: Float32Array }; std: { unit: string } } | undefined;
        return {
          log,
          denoiseSeen,
          cancelledAt,
          long: results[0],
          dropped: results[2],
          secondData: secondR ? Array.from(secondR.samples[0].volume.data) : null,
          sr: srR
            ? {
                dims: srR.mean.dims,
                unit: srR.mean.unit,
                stdUnit: srR.std.unit,
                finite: srR.mean.data.every(Number.isFinite),
              }
            : results[3],
          before,
          after,
        };
      },
      { origin: server.origin, spec: SPEC },
    );
    expect(got.long).toMatchObject({
      ok: false,
      error: { name: 'InferenceError', code: 'cancelled', isError: true },
    });
    // The worker counts the model calls that finished after the cancel ARRIVED: at most the
    // one in flight. (Counting progress events on the main thread would also count the steps
    // that ran while the cancel message was in transit: tiny-model steps take milliseconds.)
    const afterCancel = got.long.error?.details?.modelCallsAfterCancel;
    expect(typeof afterCancel).toBe('number');
    expect(afterCancel as number).toBeLessThanOrEqual(1);
    expect(got.denoiseSeen).toBeLessThan(50); // stopped long before the end of its 50 steps
    expect(got.dropped).toMatchObject({ ok: false, error: { name: 'InferenceError', code: 'cancelled' } });
    // FIFO: the second job starts only after the first has stopped, then the super-resolution
    expect(got.log.indexOf('long:error')).toBeGreaterThan(got.log.indexOf('long:cancel'));
    expect(got.log.indexOf('second:progress')).toBeGreaterThan(got.log.indexOf('long:error'));
    expect(got.log.indexOf('sr:done')).toBeGreaterThan(got.log.indexOf('second:done'));
    expect(got.log.indexOf('dropped:error')).toBeLessThan(got.log.indexOf('long:error'));
    // the queued job gives the same result as the one run alone
    expect(maxAbsDiff(got.secondData!, wasmData)).toBe(0);
    expect(got.sr).toEqual({ dims: [32, 32, 32], unit: 'HU', stdUnit: 'HU-std', finite: true });
    // transferred, not copied: the sender's buffer is detached
    expect(got.before).toBe(16 ** 3 * 4);
    expect(got.after).toBe(0);
  });

  it('model cache: a second init reads the files from Cache Storage; a corrupt entry is re-fetched', async () => {
    server.resetCounts();
    const second = await reinit();
    expect(second.map((f) => f.source)).toEqual(['cache', 'cache', 'cache', 'cache']);
    expect(modelRequests()).toEqual({ encoder: 0, decoder: 0, unet: 0, refiner: 0 });
    expect(server.counts.get('/model/model.json')).toBe(1);

    // corrupt the cached unet: same size, one byte flipped (only the sha256 can tell)
    const flipped = await inPage(
      page,
      async ({ sha256, name }: { sha256: string; name: string }) => {
        const lib = (globalThis as unknown as Record<string, any>).engineTest; // eslint-disable-line @typescript-eslint/no-explicit-any
        const cache = await caches.open(name);
        const key = lib.modelCacheKey(sha256);
        const hit = await cache.match(key);
        if (!hit) return false;
        const bytes = new Uint8Array(await hit.arrayBuffer());
        bytes[bytes.length >> 1] ^= 0xff;
        await cache.put(key, new Response(bytes));
        return true;
      },
      { sha256: exported.manifest.files.unet.sha256, name: MODEL_CACHE_NAME },
    );
    expect(flipped).toBe(true);

    server.resetCounts();
    const third = await reinit();
    expect(third.map((f) => [f.part, f.source])).toEqual([
      ['encoder', 'cache'],
      ['decoder', 'cache'],
      ['unet', 'network'],
      ['refiner', 'cache'],
    ]);
    expect(third[2].corruptEntryReplaced).toBe(true);
    expect(modelRequests()).toEqual({ encoder: 0, decoder: 0, unet: 1, refiner: 0 });

    server.resetCounts();
    const fourth = await reinit();
    expect(fourth.map((f) => f.source)).toEqual(['cache', 'cache', 'cache', 'cache']);
    expect(modelRequests()).toEqual({ encoder: 0, decoder: 0, unet: 0, refiner: 0 });
  });

  it('init with a model file that does not match the manifest sha256 rejects with a typed error; jobs then say why', async () => {
    const got = await inPage(
      page,
      async ({ origin, spec }: PageArgs) => {
        const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        const describe = (e: Error & { code?: string }) => ({
          name: e.name,
          code: e.code,
          message: e.message,
        });
        const init = await g.engine
          .init({ manifestUrl: '/bad/model.json', wasmPaths: origin + '/ort/', preferWebGPU: false })
          .then(() => null, describe);
        const job = await g.engine.generate(spec).then(() => null, describe);
        const lib = g.engineTest;
        const cached = await (
          await caches.open(lib.MODEL_CACHE_NAME)
        ).match(lib.modelCacheKey('0'.repeat(64)));
        return { init, job, cached: !!cached };
      },
      { origin: server.origin, spec: SPEC },
    );
    expect(got.init).toEqual({
      name: 'ManifestError',
      code: 'sha256-mismatch',
      message: expect.stringMatching(/^unet\.onnx: sha256 [0-9a-f]{64}, manifest says 0{64}$/),
    });
    expect(got.job).toMatchObject({ name: 'InferenceError', code: 'model-load-failed' });
    expect(got.cached).toBe(false);
  });
});

// ------------------------------------------------------------------ (b) WebGPU

/**
 * One worker (faultyGpuWorker: the real engine whose GPUDevice is destroyed
 * at the 8th WebGPU model call) for all WebGPU checks: SwiftShader compiles
 * every shader anew per device, tens of seconds on 2 cores.
 */
describe('engine worker with WebGPU preferred on a machine without a GPU', () => {
  it("skips chromium's software adapter for wasm by default and says why", async () => {
    const ready = await inPage(
      page,
      async ({ origin }: { origin: string }) => {
        const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        const client = g.engineTest.createEngineClient(
          () => new Worker('/engine/faultyGpuWorker.js', { type: 'module', name: 'engine' }),
        );
        const fallbacks: unknown[] = [];
        client.onFallback = (f: unknown) => fallbacks.push(f);
        const r = await client.init({
          manifestUrl: '/model/model.json',
          wasmPaths: origin + '/ort/',
          preferWebGPU: true,
        });
        await client.dispose();
        return { backend: r.backend, webgpu: r.webgpu ?? null, fallbacks };
      },
      { origin: server.origin },
    );
    expect(ready.backend.executionProvider).toBe('wasm');
    expect(ready.backend.fallbackReason).toMatch(
      /^the only WebGPU adapter is a software renderer \(.*SwiftShader.*\)/i,
    );
    expect(ready.webgpu).toBeNull();
    expect(ready.fallbacks).toEqual([]); // a decision, not a failure: no "switched to wasm" warning
  }, 120000);
});

describe('engine worker on WebGPU (software adapter)', () => {
  let started: Awaited<ReturnType<typeof startEngine>>;
  beforeAll(async () => {
    server.resetCounts();
    const t0 = Date.now();
    started = await startEngine(page, '/engine/faultyGpuWorker.js', true);
    console.log(
      `webgpu worker start + init: ${Date.now() - t0} ms; limits ${JSON.stringify(started.ready.webgpu)}`,
    );
  }, 120000);
  afterAll(async () => {
    if (page) await stopEngine(page);
  });

  it('reports webgpu with the device limits and the tiling from them; a fresh worker reads the model from the cache', () => {
    const ready = started.ready;
    if (!started.pageAdapter || ready.backend.executionProvider !== 'webgpu') {
      throw new Error(
        `WebGPU did not start in headless chromium with --enable-unsafe-webgpu (page adapter: ${started.pageAdapter}); ` +
          `worker fell back: ${ready.backend.fallbackReason}`,
      );
    }
    // the engine's device has the adapter's buffer limits (a default device would have 128/256 MiB)
    expect(ready.webgpu.device.maxStorageBufferBindingSize).toBe(ready.webgpu.maxStorageBufferBindingSize);
    expect(ready.webgpu.device.maxBufferSize).toBe(ready.webgpu.maxBufferSize);
    const limit = Math.min(
      ready.webgpu.device.maxStorageBufferBindingSize,
      ready.webgpu.device.maxBufferSize,
    );
    expect(limit).toBeGreaterThan(128 * 2 ** 20);
    expect(ready.tiling).toEqual({ maxImageVoxelsPerCall: Math.floor(limit / 128) });
    expect(ready.files.map((f: { source: string }) => f.source)).toEqual([
      'cache',
      'cache',
      'cache',
      'cache',
    ]);
    expect(modelRequests()).toEqual({ encoder: 0, decoder: 0, unet: 0, refiner: 0 });
  });

  it('generate agrees with wasm, is bit-identical on a repeat, keeps the conditioning on the GPU', async () => {
    const t0 = Date.now();
    const got = await inPage(
      page,
      async ({ spec }: PageArgs) => {
        const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        const r = await g.engine.generate(spec);
        const again = await g.engine.generate(spec);
        return {
          fallbacks: g.fallbacks,
          backend: r.backend,
          resident: r.gpuResidentFeeds,
          data: Array.from(r.samples[0].volume.data as Float32Array),
          again: Array.from(again.samples[0].volume.data as Float32Array),
        };
      },
      { origin: server.origin, spec: SPEC },
    );
    console.log(`webgpu generate x2: ${Date.now() - t0} ms`);
    expect(got.fallbacks).toEqual([]);
    expect(got.backend.executionProvider).toBe('webgpu');
    // 2 UNet calls: the conditioning went up once and was reused once
    expect(got.resident).toEqual({ uploads: 1, reuses: 1 });
    const d = maxAbsDiff(got.data, reference.webData!);
    console.log(`webgpu vs wasm: ${d.toExponential(2)} HU (${(d / huPerModel).toExponential(2)} model)`);
    expect(d / huPerModel).toBeLessThan(TOL_WEBGPU_MODEL);
    expect(maxAbsDiff(got.again, got.data)).toBe(0);
  });

  it('a device lost mid-job rejects as session-failed, is reported as a fallback and the job finishes on wasm', async () => {
    const t0 = Date.now();
    const got = await inPage(
      page,
      async ({ spec }: PageArgs) => {
        const g = globalThis as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        const job = g.engine.generate(spec);
        const r = await job.then(
          (x: { backend: unknown; samples: { volume: { data: Float32Array } }[] }) => ({
            backend: x.backend,
            data: Array.from(x.samples[0].volume.data),
          }),
          (e: Error & { code?: string }) => ({ error: { name: e.name, code: e.code, message: e.message } }),
        );
        return { jobId: job.jobId as string, fallbacks: g.fallbacks, r, clientBackend: g.engine.backend };
      },
      { origin: server.origin, spec: SPEC },
    );
    console.log(`device loss + retry on wasm: ${Date.now() - t0} ms`);
    expect('error' in got.r ? got.r.error : null).toBeNull();
    expect(got.fallbacks).toHaveLength(1);
    expect(got.fallbacks[0].jobId).toBe(got.jobId);
    expect(got.fallbacks[0].reason).toMatch(/device lost.*retry on the wasm backend/i);
    const r = got.r as { backend: { executionProvider: string; fallbackReason?: string }; data: number[] };
    expect(r.backend.executionProvider).toBe('wasm');
    expect(r.backend.fallbackReason).toMatch(/device lost/i);
    expect(got.clientBackend.executionProvider).toBe('wasm');
    const d = maxAbsDiff(r.data, reference.webData!);
    console.log(
      `device-loss retry on wasm vs Node ort-web wasm: ${(d / huPerModel).toExponential(2)} model units`,
    );
    expect(d / huPerModel).toBeLessThan(TOL_WASM_MODEL);
  });
});
