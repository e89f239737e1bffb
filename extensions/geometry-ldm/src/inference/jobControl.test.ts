/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Job control of both pipelines on the tiny random-weight model (onnxruntime-node):
 * cancellation while a tiled encoder/decoder pass is in flight, batch sizes
 * (validation, 'auto', results independent of the batch), and progress
 * counted in per-sample model calls with a per-stage ETA, checked against a
 * fake clock that the model calls themselves advance.
 */
import * as ort from 'onnxruntime-node';
import { Acquisition } from '../volume/acquisition';
import { makeVolume, type Volume } from '../volume/volume';
import { smoothCtPhantom } from '../../../../test/support/phantom';
import { withTinyModelOnOrtNode } from '../../../../test/support/tinyModel';
import { MAX_AUTO_BATCH, resolveBatchSize } from './batching';
import { InferenceError } from './errors';
import { generate } from './generate';
import type { LoadedModel } from './modelSessions';
import type { ProgressEvent } from './progress';
import type { InferenceRuntime, ModelSession } from './runtime';
import { superResolve } from './superResolve';
import type { TilingPolicy } from './tiling';
import { tilingPolicyForLimits, WASM_MAX_TENSOR_BYTES } from './tilingLimits';
import type { WebGpuLimits } from './webRuntime';

const tiny = withTinyModelOnOrtNode(ort);

type Part = 'encoder' | 'decoder' | 'unet' | 'refiner';

interface Probe {
  readonly model: LoadedModel;
  /** Calls started per part. */
  readonly calls: Record<Part, number>;
  /** Batch (first dimension of the first feed) of every UNet call. */
  readonly unetBatches: number[];
  /** Model calls started / finished after the signal was aborted. */
  startedAfterAbort: number;
  finishedAfterAbort: number;
}

/**
 * The model with every session call counted. `onStart(part, n)` runs when call n (1-based) of a part
 * has started, before it runs (so an abort there happens while that call is in flight); `costMs`
 * advances `clock` by that much per call (per sample of the call's batch), as if the call took it.
 */
function probe(
  m: LoadedModel,
  opts: {
    signal?: AbortSignal;
    onStart?: (part: Part, n: number) => void;
    costMs?: Partial<Record<Part, number>>;
    clock?: { now: number };
  } = {},
): Probe {
  const p: Probe = {
    model: m,
    calls: { encoder: 0, decoder: 0, unet: 0, refiner: 0 },
    unetBatches: [],
    startedAfterAbort: 0,
    finishedAfterAbort: 0,
  };
  const wrap = (part: Part, s: ModelSession): ModelSession => ({
    name: s.name,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      if (opts.signal?.aborted) p.startedAfterAbort += 1;
      const n = ++p.calls[part];
      const batch = Object.values(feeds)[0].dims[0];
      if (part === 'unet') p.unetBatches.push(batch);
      opts.onStart?.(part, n);
      const out = await s.run(feeds);
      if (opts.costMs && opts.clock) opts.clock.now += (opts.costMs[part] ?? 0) * batch;
      if (opts.signal?.aborted) p.finishedAfterAbort += 1;
      return out;
    },
    release: () => s.release(),
  });
  (p as { model: LoadedModel }).model = {
    ...m,
    encoder: wrap('encoder', m.encoder),
    decoder: wrap('decoder', m.decoder),
    unet: wrap('unet', m.unet),
    ...(m.refiner ? { refiner: wrap('refiner', m.refiner) } : {}),
  };
  return p;
}

describe('cancellation in the AI mode (refiner calls)', () => {
  it('abort during refiner call 1 of 3: nothing starts after it, rejects as cancelled', async () => {
    const controller = new AbortController();
    const p = probe(tiny.model, {
      signal: controller.signal,
      onStart: (part, n) => {
        if (part === 'refiner' && n === 1) controller.abort();
      },
    });
    const error = await superResolve(
      p.model,
      phantom(),
      { kind: 'scale', factor: 2 },
      { mode: 'ai', samples: 3, signal: controller.signal },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InferenceError);
    expect((error as InferenceError).code).toBe('cancelled');
    expect(p.calls.refiner).toBe(1);
    expect(p.startedAfterAbort).toBe(0);
    expect(p.finishedAfterAbort).toBeLessThanOrEqual(1);
    expect(p.calls.encoder + p.calls.unet + p.calls.decoder).toBe(0);
  });
});

/** The shared smooth phantom as a Volume (scale 2: a 40 x 36 x 32 result on a 40 x 40 x 32 model grid). */
function phantom(): Volume {
  const p = smoothCtPhantom();
  return makeVolume(p.dims, p.affine, p.data, 'HU');
}

/**
 * Latent grid 5 x 5 x 4 under this policy: tiles of 3 x 3 x 4 latent voxels, overlap 1, starts
 * [0, 2] on the two first axes: 4 tiles per encoder or decoder pass.
 */
const TILED: TilingPolicy = { maxImageVoxelsPerCall: 3 * 3 * 4 * 512, overlapLatent: 1 };
const TILES = 4;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}

describe('cancellation during a tiled encoder/decoder pass', () => {
  const cases: Array<['superResolve' | 'generate', Part, number]> = [
    ['superResolve', 'encoder', 2],
    ['superResolve', 'decoder', 2],
    ['generate', 'decoder', 3],
  ];
  it.each(cases)(
    '%s, abort in %s tile %i of 4: nothing starts after it, at most the call in flight finishes, rejects as cancelled',
    async (what, part, nth) => {
      const controller = new AbortController();
      const p = probe(tiny.model, {
        signal: controller.signal,
        onStart: (pt, n) => {
          if (pt === part && n === nth) controller.abort();
        },
      });
      const job =
        what === 'generate'
          ? generate(
              p.model,
              {
                geometry: { kind: 'fov', dims: [40, 40, 32] },
                seed: 'cancel-1',
                sampler: { kind: 'ddim', steps: 2 },
                samples: 2,
              },
              { tiling: TILED, signal: controller.signal },
            )
          : superResolve(
              p.model,
              phantom(),
              { kind: 'scale', factor: 2 },
              {
                mode: 'diffusion',
                samples: 2,
                cycles: 1,
                ddimSteps: 2,
                tiling: TILED,
                signal: controller.signal,
              },
            );
      const error = await job.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InferenceError);
      expect((error as InferenceError).code).toBe('cancelled');
      expect(p.calls[part]).toBe(nth);
      expect(nth).toBeLessThan(TILES);
      expect(p.startedAfterAbort).toBe(0);
      expect(p.finishedAfterAbort).toBeLessThanOrEqual(1);
    },
  );
});

describe('batch size', () => {
  it.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '2', 'big'])(
    'rejects batchSize %p with a typed error before any model call',
    async (bad) => {
      const p = probe(tiny.model);
      await expect(
        generate(p.model, {
          geometry: { kind: 'fov', dims: [32, 32, 32] },
          seed: 1,
          sampler: { kind: 'ddim', steps: 1 },
          samples: 2,
          batchSize: bad as never,
        }),
      ).rejects.toMatchObject({ name: 'InferenceError', code: 'invalid-input' });
      await expect(
        superResolve(p.model, phantom(), { kind: 'scale', factor: 2 }, { batchSize: bad as never }),
      ).rejects.toMatchObject({ name: 'InferenceError', code: 'invalid-input' });
      expect(p.calls).toEqual({ encoder: 0, decoder: 0, unet: 0, refiner: 0 });
    },
  );

  it("'auto' fits the batch's decoder call into the per-call budget, and is 1 when the grid needs tiling", () => {
    const wasm = { backend: { library: 'onnxruntime-web' } } as unknown as InferenceRuntime;
    const dims = [32, 32, 32] as const; // 32768 image voxels
    const perCall = tilingPolicyForLimits(WASM_MAX_TENSOR_BYTES).maxImageVoxelsPerCall; // 2^21
    const auto = (samples: number, tiling?: TilingPolicy, runtime = wasm) =>
      resolveBatchSize({ batchSize: 'auto', samples, imageDims: dims, runtime, tiling });
    expect(auto(3)).toBe(3);
    expect(auto(50)).toBe(Math.min(MAX_AUTO_BATCH, Math.floor(perCall / 32768)));
    expect(auto(50, { maxImageVoxelsPerCall: 3 * 32768 + 5 })).toBe(3);
    expect(auto(50, { maxImageVoxelsPerCall: 32767 })).toBe(1); // one sample already needs tiles
    expect(resolveBatchSize({ batchSize: undefined, samples: 2, imageDims: dims, runtime: wasm })).toBe(2);
    expect(resolveBatchSize({ batchSize: 5, samples: 3, imageDims: dims, runtime: wasm })).toBe(3);
    // a WebGPU runtime's own buffer limits: a 272 x 272 x 288 grid fits no batch of 2 under 1 GiB
    const gpu = (bytes: number) =>
      ({
        backend: { library: 'onnxruntime-web' },
        webgpu: {
          device: { maxStorageBufferBindingSize: bytes, maxBufferSize: bytes },
        } as unknown as WebGpuLimits,
      }) as unknown as InferenceRuntime;
    const big = [272, 272, 288] as const;
    expect(resolveBatchSize({ batchSize: 'auto', samples: 8, imageDims: big, runtime: gpu(2 ** 30) })).toBe(
      1,
    );
    expect(resolveBatchSize({ batchSize: 'auto', samples: 8, imageDims: big, runtime: gpu(2 ** 34) })).toBe(
      Math.floor(2 ** 34 / 128 / (272 * 272 * 288)),
    );
  });

  it('superResolve: batches of 3 and the automatic batch give the mean and std of batch 1 (same seed)', async () => {
    const opts = {
      mode: 'diffusion' as const,
      samples: 4,
      cycles: 2,
      ddimSteps: 2,
      tStart: 100,
      seed: 'batch-1',
    };
    const runs: Record<
      string,
      { r: Awaited<ReturnType<typeof superResolve>>; p: Probe; last: ProgressEvent }
    > = {};
    for (const batchSize of [1, 3, 'auto'] as const) {
      const p = probe(tiny.model);
      const events: ProgressEvent[] = [];
      const r = await superResolve(
        p.model,
        phantom(),
        { kind: 'scale', factor: 2 },
        { ...opts, batchSize, onProgress: (e) => events.push(e) },
      );
      runs[String(batchSize)] = { r, p, last: events.filter((e) => e.stage !== 'finish').at(-1)! };
    }
    // the batches really ran: 3 + 1, and 'auto' = all 4 (40x40x32 is far under the per-call budget)
    expect(new Set(runs['1'].p.unetBatches)).toEqual(new Set([1]));
    expect(new Set(runs['3'].p.unetBatches)).toEqual(new Set([3, 1]));
    expect(new Set(runs.auto.p.unetBatches)).toEqual(new Set([4]));
    expect(runs.auto.p.calls.decoder).toBe(1);
    // Stated tolerance: 1e-3 HU (float reassociation of batched convolutions; measured values logged).
    const base = runs['1'].r;
    for (const k of ['3', 'auto']) {
      const dMean = maxAbsDiff(runs[k].r.mean.data, base.mean.data);
      const dStd = maxAbsDiff(runs[k].r.std.data, base.std.data);
      console.log(
        `superResolve batch ${k} vs 1: mean ${dMean.toExponential(2)} HU, std ${dStd.toExponential(2)} HU`,
      );
      expect(dMean).toBeLessThan(1e-3);
      expect(dStd).toBeLessThan(1e-3);
      // progress counts per-sample work: the same total whatever the batch, and it is reached
      expect(runs[k].last).toMatchObject({ step: runs['1'].last.total, total: runs['1'].last.total });
    }
    expect(runs['1'].last.total).toBe(1 + 4 * 2 * 2 + 4);
    // the samples differ (their own noise streams), so the std map is not trivially 0
    expect(Math.max(...base.std.data)).toBeGreaterThan(1e-2);
  }, 120000);
});

describe('progress: per-sample work units and a per-stage ETA (fake clock)', () => {
  /** Runs a tiled super-resolution where each call costs `costMs` of fake time; events with their times. */
  async function timedRun(costMs: Partial<Record<Part, number>>) {
    const clock = { now: 0 };
    const spy = jest.spyOn(performance, 'now').mockImplementation(() => clock.now);
    try {
      const p = probe(tiny.model, { costMs, clock });
      const events: Array<{ e: ProgressEvent; at: number }> = [];
      await superResolve(
        p.model,
        phantom(),
        { kind: 'scale', factor: 2 },
        {
          mode: 'diffusion',
          slices: 'none',
          samples: 2,
          cycles: 2,
          ddimSteps: 2,
          tiling: TILED,
          onProgress: (e) => events.push({ e, at: clock.now }),
        },
      );
      expect(p.calls).toEqual({ encoder: TILES, decoder: 2 * TILES, unet: 2 * 2 * 2, refiner: 0 });
      const end = clock.now;
      const ticks = events.filter(({ e }) => e.etaSeconds !== null);
      return { ticks, events, truth: (at: number) => (end - at) / 1000 };
    } finally {
      spy.mockRestore();
    }
  }

  it('every tile is a unit of work; the ETA never underestimates, never rises and is exact once the stages are seen', async () => {
    // encoder and decoder tiles cost the same (same grid and tiles), a UNet call half of that
    const { ticks, events, truth } = await timedRun({ encoder: 2000, decoder: 2000, unet: 1000 });
    const total = TILES + 2 * 2 * 2 + 2 * TILES;
    expect(ticks.map(({ e }) => e.stage)).toEqual([
      ...Array(TILES).fill('encode'),
      ...Array(4).fill('denoise'),
      ...Array(TILES).fill('decode'),
      ...Array(4).fill('denoise'),
      ...Array(TILES).fill('decode'),
    ]);
    expect(ticks.map(({ e }) => e.step)).toEqual(Array.from({ length: total }, (_, n) => n + 1));
    expect(events.every(({ e }) => e.total === total)).toBe(true);
    const firstDenoise = ticks.findIndex(({ e }) => e.stage === 'denoise');
    ticks.forEach(({ e, at }, n) => {
      const eta = e.etaSeconds!;
      expect(eta).toBeGreaterThanOrEqual(truth(at) - 1e-9);
      if (n > 0) expect(eta).toBeLessThanOrEqual(ticks[n - 1].e.etaSeconds! + 1e-9);
      if (n >= firstDenoise) expect(eta).toBeCloseTo(truth(at), 9);
    });
    expect(ticks.at(-1)!.e.etaSeconds).toBe(0);
  });

  it('a decoder dearer than the encoder: exact from its first tile on', async () => {
    const { ticks, truth } = await timedRun({ encoder: 2000, decoder: 3000, unet: 500 });
    const firstDecode = ticks.findIndex(({ e }) => e.stage === 'decode');
    for (const { e, at } of ticks.slice(firstDecode)) expect(e.etaSeconds!).toBeCloseTo(truth(at), 9);
    expect(ticks.at(-1)!.e.etaSeconds).toBe(0);
  });
});

describe('progress of the AI mode: refiner planes and projections (fake clock)', () => {
  it('counts every plane and projection; the ETA is exact from the first tick (projection timed up front)', async () => {
    const clock = { now: 0 };
    const spy = jest.spyOn(performance, 'now').mockImplementation(() => clock.now);
    // each projection costs 500 ms of fake time, and so does the back-projection
    const costs500ms = (name: 'project' | 'backProject') => {
      const real = Acquisition.prototype[name] as (...a: unknown[]) => Float32Array;
      return jest.spyOn(Acquisition.prototype, name).mockImplementation(function (
        this: Acquisition,
        ...args
      ) {
        clock.now += 500;
        return real.apply(this, args);
      });
    };
    const projectSpy = costs500ms('project');
    const backProjectSpy = costs500ms('backProject');
    try {
      const p = probe(tiny.model, { costMs: { refiner: 10 }, clock });
      const events: Array<{ e: ProgressEvent; at: number }> = [];
      await superResolve(
        p.model,
        phantom(),
        { kind: 'scale', factor: 2 },
        { mode: 'ai', samples: 2, onProgress: (e) => events.push({ e, at: clock.now }) },
      );
      const end = clock.now;
      const ticks = events.filter(({ e }) => e.etaSeconds !== null);
      const refines = ticks.filter(({ e }) => e.stage === 'refine');
      const projects = ticks.filter(({ e }) => e.stage === 'project');
      expect(projects).toHaveLength(2);
      const planes = refines.at(-1)!.e.step - 1; // the first sample's projection came before
      expect(ticks.at(-1)!.e).toMatchObject({ step: planes + 2, total: planes + 2, etaSeconds: 0 });
      expect(events.every(({ e }) => e.total === planes + 2)).toBe(true);
      for (const { e, at } of ticks) expect(e.etaSeconds!).toBeCloseTo((end - at) / 1000, 6);
    } finally {
      projectSpy.mockRestore();
      backProjectSpy.mockRestore();
      spy.mockRestore();
    }
  });
});
