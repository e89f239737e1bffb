/**
 * inference/webRuntime with onnxruntime-web (wasm, in Node, 1 thread)
 * reproduces onnxruntime-node on the tiny random-weight model: each of
 * encoder / decoder / unet within 1e-4, and a whole `generate` call.
 * ort-web runs in a child process (jest's VM cannot import its wasm glue);
 * the WebGPU probe and fallback logic are unit-tested here with fakes.
 */
import { exportTinyModel, type ExportedModel } from '../../../../test/support/tinyModel';
import { runNodeReference, removeDriver, type DriverReport } from '../../../../test/browser/engineHarness';
import { latentConditioning, pooledDims } from '../geometry/coordinateChannels';
import type { Dims3 } from '../geometry/conventions';
import { InferenceError } from './errors';
import { predictNoise } from './latentOps';
import type { LoadedModel } from './modelSessions';
import { createWebRuntime, probeWebGpu, wasmThreads, type OrtWebModule } from './webRuntime';

describe('webRuntime on onnxruntime-web wasm (Node) vs onnxruntime-node', () => {
  let exported: ExportedModel;
  let report: DriverReport;

  beforeAll(async () => {
    exported = exportTinyModel(0);
    report = await runNodeReference({
      modelDir: exported.dir,
      parts: true,
      generate: {
        geometry: { kind: 'fov', dims: [32, 32, 32] },
        seed: 'web-runtime-1',
        sampler: { kind: 'ddim', steps: 2 },
      },
    });
  }, 180000);
  afterAll(() => {
    exported?.remove();
    removeDriver();
  });

  it('falls back to wasm in Node and records why', () => {
    expect(report.backend).toMatchObject({
      library: 'onnxruntime-web',
      executionProvider: 'wasm',
      threads: 1,
    });
    expect(report.backend.fallbackReason).toMatch(/navigator\.gpu/);
  });

  it.each(['encoder', 'decoder', 'unet'])('%s output agrees within 1e-4', (part) => {
    const outs = Object.values(report.parts![part]);
    expect(outs.length).toBe(1);
    for (const o of outs) {
      expect(o.maxAbs).toBeGreaterThan(1e-3); // not trivially zero
      expect(o.maxAbsDiff).toBeLessThan(1e-4);
    }
  });

  it('a whole generate call agrees within 1e-4 in model units', () => {
    const g = report.generate!;
    expect(g.dims).toEqual([32, 32, 32]);
    expect(g.unit).toBe('HU');
    // HU = model scaled by (huMax - huMin) / (modelMax - modelMin)
    const i = exported.manifest.intensity;
    const huPerModelUnit = (i.huMax - i.huMin) / (i.modelMax - i.modelMin);
    console.log(
      `webRuntime generate: max |ort-web - ort-node| = ${g.maxAbsDiffHU.toExponential(2)} HU = ${(g.maxAbsDiffHU / huPerModelUnit).toExponential(2)} model units (max |HU| ${g.maxAbsHU.toFixed(1)})`,
    );
    expect(g.maxAbsDiffHU / huPerModelUnit).toBeLessThan(1e-4);
  });
});

describe('webRuntime backend selection and WebGPU failure handling (fakes)', () => {
  type RunImpl = (feeds: Record<string, unknown>) => Promise<Record<string, unknown>>;
  /** A fake ort-web: sessions record their options and feeds; `run` is what the test says. */
  function fakeOrt(run: RunImpl) {
    const created: Record<string, unknown>[] = [];
    const feeds: Record<string, unknown>[] = [];
    const gpuTensors: { buffer: unknown; dims: readonly number[] }[] = [];
    class Tensor {
      constructor(
        readonly type: string,
        readonly data: Float32Array,
        readonly dims: readonly number[],
      ) {}
      static fromGpuBuffer(buffer: unknown, o: { dims: readonly number[] }) {
        const t = { location: 'gpu-buffer', buffer, dims: o.dims };
        gpuTensors.push(t);
        return t;
      }
    }
    const ort = {
      env: { wasm: {}, webgpu: {} },
      InferenceSession: {
        async create(_bytes: Uint8Array, options?: Record<string, unknown>) {
          created.push(options ?? {});
          return {
            inputNames: ['x', 'c'],
            outputNames: ['y'],
            run: (f: Record<string, unknown>) => {
              feeds.push(f);
              return run(f);
            },
            release: async () => undefined,
          };
        },
      },
      Tensor: Tensor as never,
    } as OrtWebModule;
    return { ort, created, feeds, gpuTensors };
  }

  function fakeGpu() {
    let lose: (info: { reason: string; message: string }) => void = () => undefined;
    const buffers: { size: number; usage: number; destroyed: boolean; written?: Float32Array }[] = [];
    const requested: unknown[] = [];
    const device = {
      limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 },
      lost: new Promise<{ reason: string; message: string }>((ok) => (lose = ok)),
      queue: {
        writeBuffer(b: (typeof buffers)[number], _offset: number, data: Float32Array) {
          b.written = data.slice();
        },
      },
      createBuffer(d: { size: number; usage: number }) {
        const b = { ...d, destroyed: false, destroy: () => (b.destroyed = true) };
        buffers.push(b);
        return b;
      },
    };
    const adapter = {
      limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 2 ** 31, maxComputeWorkgroupSizeX: 256 },
      features: { has: (f: string) => f === 'shader-f16' },
      requestDevice: async (descriptor: unknown) => {
        requested.push(descriptor);
        return device;
      },
    };
    return {
      adapter,
      device,
      buffers,
      requested,
      lose: (reason: string) => lose({ reason, message: 'test' }),
    };
  }

  const navWith = (adapter: unknown) => ({ gpu: { requestAdapter: async () => adapter as never } });
  const out = { y: { type: 'float32', data: new Float32Array([1]), dims: [1] } };

  it('threads: min(hardwareConcurrency, 4) only when cross-origin isolated', () => {
    expect(wasmThreads(true, 16)).toBe(4);
    expect(wasmThreads(true, 2)).toBe(2);
    expect(wasmThreads(false, 16)).toBe(1);
  });

  it('no adapter at all: wasm, with the reason, marked as no WebGPU here (not a failure)', async () => {
    const { ort } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, { navigator: { gpu: { requestAdapter: async () => null } } });
    expect(rt.backend.executionProvider).toBe('wasm');
    expect(rt.backend.fallbackReason).toMatch(/adapter not available/);
    expect(rt.noWebGpu).toBe(true);
    const gpu = fakeGpu();
    expect((await createWebRuntime(ort, { navigator: navWith(gpu.adapter) })).noWebGpu).toBeUndefined();
  });

  it('reports why WebGPU is missing', async () => {
    expect(await probeWebGpu(undefined)).toEqual({ reason: expect.stringMatching(/navigator\.gpu/) });
    expect(await probeWebGpu({ gpu: { requestAdapter: async () => null } })).toEqual({
      reason: expect.stringMatching(/adapter not available/),
    });
    const { ort } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, {
      navigator: { gpu: { requestAdapter: async () => null }, hardwareConcurrency: 8 },
      crossOriginIsolated: true,
      wasmPaths: '/ort/',
    });
    expect(rt.backend).toMatchObject({ executionProvider: 'wasm', threads: 4 });
    expect(rt.backend.fallbackReason).toMatch(/adapter not available/);
    expect(ort.env.wasm).toEqual({ numThreads: 4, wasmPaths: '/ort/' });
  });

  it('a device that cannot be created falls back to wasm with the reason', async () => {
    const { ort } = fakeOrt(async () => out);
    const adapter = {
      limits: {},
      requestDevice: async () => {
        throw new Error('limits not supported');
      },
    };
    const rt = await createWebRuntime(ort, { navigator: navWith(adapter) });
    expect(rt.backend.executionProvider).toBe('wasm');
    expect(rt.backend.fallbackReason).toBe('WebGPU device could not be created: limits not supported');
  });

  it.each([
    ['the fallback flag (info.isFallbackAdapter)', { info: { isFallbackAdapter: true, vendor: 'x' } }],
    ['the fallback flag on the adapter (older browsers)', { isFallbackAdapter: true }],
    [
      "chromium's SwiftShader by its description",
      {
        info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' },
      },
    ],
    ['Mesa llvmpipe', { info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }],
  ])(
    'a software adapter (%s) is skipped for wasm by default, with the reason; allowed on request',
    async (_n, extra) => {
      const gpu = fakeGpu();
      const adapter = { ...gpu.adapter, ...extra };
      const { ort } = fakeOrt(async () => out);
      const rt = await createWebRuntime(ort, { navigator: navWith(adapter) });
      expect(rt.backend.executionProvider).toBe('wasm');
      expect(rt.backend.fallbackReason).toMatch(
        /^the only WebGPU adapter is a software renderer \(.*\), which runs these models many times slower than wasm/,
      );
      expect(rt.skippedSoftwareAdapter).toBe(true);
      expect(gpu.requested).toEqual([]); // no device was even created
      const forced = await createWebRuntime(ort, { navigator: navWith(adapter), allowSoftwareWebGPU: true });
      expect(forced.backend.executionProvider).toBe('webgpu');
      expect(forced.webgpu?.adapter.software).toBe(true);
    },
  );

  it('a hardware adapter is used and labelled as such', async () => {
    const gpu = fakeGpu();
    const adapter = {
      ...gpu.adapter,
      info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' },
    };
    const { ort } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, { navigator: navWith(adapter) });
    expect(rt.backend.executionProvider).toBe('webgpu');
    expect(rt.webgpu?.adapter).toEqual({
      vendor: 'nvidia',
      architecture: 'hopper',
      description: 'NVIDIA H200',
      software: false,
    });
    expect(rt.skippedSoftwareAdapter).toBeUndefined();
  });

  it('requests a device with the adapter limits and passes it to the WebGPU EP', async () => {
    const gpu = fakeGpu();
    const { ort, created } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, { navigator: navWith(gpu.adapter) });
    expect(rt.backend).toMatchObject({ library: 'onnxruntime-web', executionProvider: 'webgpu' });
    expect(gpu.requested).toEqual([
      {
        requiredLimits: {
          maxStorageBufferBindingSize: 1 << 30,
          maxBufferSize: 2 ** 31,
          maxComputeWorkgroupSizeX: 256,
        },
        requiredFeatures: ['shader-f16'],
      },
    ]);
    expect(rt.webgpu).toMatchObject({
      maxStorageBufferBindingSize: 1 << 30,
      maxBufferSize: 2 ** 31,
      device: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 },
      shaderF16: true,
    });
    await rt.createSession('unet', new Uint8Array(1));
    expect(created[0].executionProviders).toEqual([{ name: 'webgpu', device: gpu.device }]);
  });

  it('a lost device rejects a hanging run as session-failed with retryOnWasm, and later calls at once', async () => {
    const gpu = fakeGpu();
    const { ort } = fakeOrt(() => new Promise(() => undefined)); // hangs: only the device-lost race can end it
    const rt = await createWebRuntime(ort, { navigator: navWith(gpu.adapter) });
    const session = await rt.createSession('unet', new Uint8Array(1));
    const run = session.run({ x: { data: new Float32Array(1), dims: [1] } });
    gpu.lose('destroyed');
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe('session-failed');
    expect(err.message).toMatch(/WebGPU device lost \(destroyed: test\).*retry on the wasm backend/);
    expect(err.details.retryOnWasm).toBe(true);
    const again = await session.run({ x: { data: new Float32Array(1), dims: [1] } }).catch((e) => e);
    expect(again.code).toBe('session-failed');
    await expect(rt.createSession('decoder', new Uint8Array(1))).rejects.toMatchObject({
      code: 'session-failed',
    });
  });

  it('a buffer over the device limit is reported as out-of-memory with retryOnWasm', async () => {
    const gpu = fakeGpu();
    const { ort } = fakeOrt(async () => {
      throw new Error('Failed to create buffer: size 2147483648 exceeds the maxBufferSize limit');
    });
    const rt = await createWebRuntime(ort, { navigator: navWith(gpu.adapter) });
    const session = await rt.createSession('decoder', new Uint8Array(1));
    const err = await session.run({ x: { data: new Float32Array(1), dims: [1] } }).catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe('out-of-memory');
    expect(err.details).toMatchObject({ retryOnWasm: true, model: 'decoder', backend: 'webgpu' });
  });

  it('constant feeds are uploaded once per array and reused; evicted and released buffers are destroyed', async () => {
    const gpu = fakeGpu();
    const { ort, feeds } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, { navigator: navWith(gpu.adapter) });
    const session = await rt.createSession('unet', new Uint8Array(1));
    const cond = new Float32Array([1, 2, 3, 4, 5]);
    for (let n = 0; n < 3; n++) {
      await session.run({
        x: { data: new Float32Array([n]), dims: [1] },
        c: { data: cond, dims: [5], constant: true },
      });
    }
    expect(rt.residentFeeds).toEqual({ uploads: 1, reuses: 2 });
    expect(gpu.buffers).toHaveLength(1);
    // 5 floats = 20 bytes, bound in 16-byte units; STORAGE | COPY_SRC | COPY_DST
    expect(gpu.buffers[0]).toMatchObject({ size: 32, usage: 0x8c, destroyed: false });
    expect(Array.from(gpu.buffers[0].written!)).toEqual([1, 2, 3, 4, 5]);
    // non-constant feeds stay CPU tensors; the constant one is the GPU tensor each time
    for (const f of feeds) {
      expect((f.x as { data: Float32Array }).data).toBeInstanceOf(Float32Array);
      expect(f.c).toMatchObject({ location: 'gpu-buffer', dims: [5] });
    }
    // two more constant arrays: the least recently used (cond) is evicted and destroyed
    for (const extra of [new Float32Array(4), new Float32Array(8)]) {
      await session.run({
        x: { data: new Float32Array(1), dims: [1] },
        c: { data: extra, dims: [extra.length], constant: true },
      });
    }
    expect(gpu.buffers.map((b) => b.destroyed)).toEqual([true, false, false]);
    await session.release();
    expect(gpu.buffers.map((b) => b.destroyed)).toEqual([true, true, true]);
  });

  it.each([
    [[96, 96, 104], 59904],
    [[192, 192, 208], 479232],
    [[272, 272, 288], 1331712],
  ] as Array<[Dims3, number]>)(
    'per UNet step at %j only z_t, t and eps cross (%i B each way); the conditioning goes up once',
    async (dims, bytes) => {
      const gpu = fakeGpu();
      // the fake UNet returns eps of the shape of z_t
      const { ort, feeds } = fakeOrt(async (f) => {
        const z = f.z_t as { dims: readonly number[]; data: Float32Array };
        return { eps: { type: 'float32', data: new Float32Array(z.data.length), dims: z.dims } };
      });
      const rt = await createWebRuntime(ort, { navigator: navWith(gpu.adapter) });
      const unet = await rt.createSession('unet', new Uint8Array(1));
      const names = (...n: string[]) => n.map((name) => ({ name }));
      const model = {
        manifest: {
          latent: { channels: 8, factor: 8 },
          onnx: { unet: { inputs: names('z_t', 't', 'coords'), outputs: names('eps') } },
        },
        unet,
      } as unknown as LoadedModel;
      const L = pooledDims(dims, 8);
      const cond = latentConditioning(dims, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 8);
      let down = 0;
      for (let step = 0; step < 3; step++)
        down += (await predictNoise(model, new Float32Array(8 * L[0] * L[1] * L[2]), 900, cond, L, 1))
          .byteLength;
      // CPU feeds (uploaded by ort-web each run) vs the resident conditioning
      let up = 0;
      for (const f of feeds)
        for (const t of Object.values(f) as { data?: Float32Array; location?: string }[])
          if (t.location !== 'gpu-buffer') up += t.data!.byteLength;
      expect(up / 3).toBe(bytes + 4); // z_t + t
      expect(down / 3).toBe(bytes); // eps
      expect(rt.residentFeeds).toEqual({ uploads: 1, reuses: 2 });
      expect(gpu.buffers.map((b) => b.written!.byteLength)).toEqual([(3 / 8) * bytes]);
    },
  );

  it('wasm ignores the constant flag (plain CPU tensors)', async () => {
    const { ort, feeds } = fakeOrt(async () => out);
    const rt = await createWebRuntime(ort, { preferWebGPU: false });
    const session = await rt.createSession('unet', new Uint8Array(1));
    await session.run({ c: { data: new Float32Array(3), dims: [3], constant: true } });
    expect((feeds[0].c as { type: string }).type).toBe('float32');
    expect(rt.residentFeeds).toBeUndefined();
  });
});
