import { tilesFor } from '../inference/tiling';
import {
  activationBytes,
  costModel,
  estimateGenerateMemory,
  estimatePlaneModeMemory,
  estimateSuperResolveMemory,
  estimatePlaneModeTime,
  estimateTime,
  fitLinear,
  superResolveCalls,
  type Calibration,
} from './estimate';
import {
  stageSeconds,
  projectionCostsFromClassical,
  refinerPassFromEvents,
  calibrationGrids,
  calibrationKey,
  loadCalibration,
  saveCalibration,
} from '../panels/calibration';
import { testManifest } from '../panels/__fixtures__/manifest';

describe('linear cost fit', () => {
  it('recovers fixed + per-voxel costs from exact points', () => {
    const f = fitLinear([
      { x: 1000, y: 2 + 3e-3 * 1000 },
      { x: 5000, y: 2 + 3e-3 * 5000 },
      { x: 9000, y: 2 + 3e-3 * 9000 },
    ]);
    expect(f.fixed).toBeCloseTo(2, 9);
    expect(f.perVoxel).toBeCloseTo(3e-3, 12);
  });

  it('one point: proportional; noisy points that slope down: constant; negative intercept: through 0', () => {
    expect(fitLinear([{ x: 100, y: 5 }])).toEqual({ fixed: 0, perVoxel: 0.05 });
    expect(
      fitLinear([
        { x: 100, y: 5 },
        { x: 200, y: 4 },
      ]),
    ).toEqual({ fixed: 4.5, perVoxel: 0 });
    const f = fitLinear([
      { x: 100, y: 1 },
      { x: 200, y: 3 },
    ]);
    expect(f.fixed).toBe(0);
    expect(f.perVoxel).toBeCloseTo((100 * 1 + 200 * 3) / (100 ** 2 + 200 ** 2), 12);
    expect(() => fitLinear([])).toThrow(RangeError);
  });
});

describe('time estimate', () => {
  const c: Calibration = {
    key: 'k',
    measuredAt: '2026-01-01T00:00:00Z',
    points: [
      { imageVoxels: 32768, seconds: { encode: 0.1, unet: 0.05, decode: 0.2 } },
      { imageVoxels: 175616, seconds: { encode: 0.4, unet: 0.12, decode: 0.8 } },
    ],
  };

  it('sums the model calls a super-resolution makes at the fitted costs', () => {
    const model = costModel(c);
    const slope = (s: 'encode' | 'unet' | 'decode') =>
      (c.points[1].seconds[s] - c.points[0].seconds[s]) / (175616 - 32768);
    const at = (s: 'encode' | 'unet' | 'decode', n: number) =>
      c.points[0].seconds[s] + slope(s) * (n - 32768);
    const n = 64 * 64 * 64;
    const calls = superResolveCalls({ samples: 4, cycles: 5, ddimSteps: 10 });
    expect(calls).toEqual({ encode: 1, unet: 200, decode: 4 });
    const t = estimateTime(model, [64, 64, 64], calls);
    expect(t.byStage.unet).toBeCloseTo(200 * at('unet', n), 9);
    expect(t.seconds).toBeCloseTo(at('encode', n) + 200 * at('unet', n) + 4 * at('decode', n), 9);
  });
});

describe('memory estimate (pipeline buffers)', () => {
  it('super-resolution: a 64^3 job counts the buffers listed in estimate.ts', () => {
    const n = 64 ** 3;
    const m = estimateSuperResolveMemory({
      seriesDims: [128, 128, 16],
      sourceDims: [64, 64, 16],
      paddedDims: [64, 64, 64],
      outputDims: [64, 64, 64],
    });
    const src = 64 * 64 * 16;
    const latent = (8 * n) / 512;
    // persistent: source + upsampled + model copy + 3 coords + conditioning + mean & M2
    const persistent = src + 5 * n + (3 * n) / 512 + 2 * n;
    // decode phase: batch + sample copy + HU copy + crop + latents (encoded, batch, noise, next)
    const decode = n + 2 * n + n + latent * 4;
    expect(m.workerBytes).toBe(4 * (persistent + decode));
    expect(m.pageBytes).toBe(Math.max(4 * (128 * 128 * 16 + src), 4 * 3 * n + 4 * n));
    // activations: 128 B per image voxel of the whole padded grid (no tiling)
    expect(m.activationBytes).toBe(128 * n);
    expect(m.totalBytes).toBe(m.workerBytes + m.activationBytes + m.pageBytes);
  });

  it('the AI and classical modes: copies of the result and the refiner plane, no encoder or latents', () => {
    const args = {
      seriesDims: [512, 512, 30],
      sourceDims: [512, 512, 30],
      outputDims: [512, 512, 120],
    } as const;
    const n = 512 * 512 * 120;
    const src = 512 * 512 * 30;
    const ai = estimatePlaneModeMemory({ mode: 'ai', ...args });
    expect(ai.workerBytes).toBe(4 * (src + 8 * n));
    // the largest plane is 512 x 512 (262,144 = 2^18): 12 activations of 48 float32 channels
    expect(ai.activationBytes).toBe(12 * 48 * 4 * 512 * 512);
    // page: mean, std, trilinear, classical, unprojected, AI minus classical + 16-bit twice
    expect(ai.pageBytes).toBe(4 * 6 * n + 4 * n);
    expect(ai.totalBytes).toBe(ai.workerBytes + ai.activationBytes + ai.pageBytes);
    const classical = estimatePlaneModeMemory({ mode: 'classical', ...args });
    expect(classical.workerBytes).toBe(4 * (src + 5 * n));
    expect(classical.activationBytes).toBe(0);
    expect(classical.pageBytes).toBe(4 * 4 * n + 4 * n);
    // a 512 x 2048 plane (a long series' coronal plane) sets the activations
    expect(
      estimatePlaneModeMemory({ mode: 'ai', ...args, outputDims: [512, 512, 2048] }).activationBytes,
    ).toBe(12 * 48 * 4 * 512 * 2048);
  });

  it('with tiling, activations follow the largest tile the engine would really run', () => {
    const policy = { maxImageVoxelsPerCall: 48 ** 3, overlapLatent: 2 };
    const latent: [number, number, number] = [16, 16, 16]; // a 128^3 image
    const plan = tilesFor(latent, 8, policy)!;
    const largestTile = plan.size[0] * plan.size[1] * plan.size[2] * 512;
    const est = activationBytes(128 ** 3, policy);
    expect(est).toBeGreaterThanOrEqual(128 * largestTile);
    expect(est).toBeLessThan(128 * 128 ** 3);
    expect(activationBytes(32 ** 3, policy)).toBe(128 * 32 ** 3); // below the cap: one call
  });

  it('grows with samples kept and with the grid', () => {
    const base = {
      seriesDims: [64, 64, 64],
      sourceDims: [64, 64, 64],
      paddedDims: [64, 64, 64],
      outputDims: [64, 64, 64],
    } as const;
    expect(estimateSuperResolveMemory({ ...base, keepSamples: 2 }).workerBytes).toBe(
      estimateSuperResolveMemory(base).workerBytes + 2 * 4 * 64 ** 3,
    );
    expect(estimateGenerateMemory({ dims: [64, 64, 64], samples: 2 }).totalBytes).toBeGreaterThan(
      estimateGenerateMemory({ dims: [64, 64, 64], samples: 1 }).totalBytes,
    );
  });

  it('a latent factor of 4 holds 8x the latent voxels of factor 8 (1/64 of the image voxels, not 1/512)', () => {
    const n = 64 ** 3;
    const sr = {
      seriesDims: [64, 64, 64],
      sourceDims: [64, 64, 64],
      paddedDims: [64, 64, 64],
      outputDims: [64, 64, 64],
    } as const;
    // super-resolution: 3 conditioning channels persistent, 8 latent channels x (encoded + 3 per batch item)
    const perFactor = (f: number) => 3 * (n / f ** 3) + 8 * (n / f ** 3) * 4;
    expect(
      estimateSuperResolveMemory({ ...sr, latentFactor: 4 }).workerBytes -
        estimateSuperResolveMemory(sr).workerBytes,
    ).toBe(4 * (perFactor(4) - perFactor(8)));
    expect(estimateSuperResolveMemory({ ...sr, latentFactor: 8 }).workerBytes).toBe(
      estimateSuperResolveMemory(sr).workerBytes,
    );
    // generation: 3 conditioning channels + 8 latent channels x 3 per batch item
    const g = { dims: [64, 64, 64] as const, samples: 1 };
    expect(
      estimateGenerateMemory({ ...g, latentFactor: 4 }).workerBytes - estimateGenerateMemory(g).workerBytes,
    ).toBe(4 * (3 * (n / 64 - n / 512) + 8 * 3 * (n / 64 - n / 512)));
  });
});

describe('calibration', () => {
  it('stage times come from the progress events of a 1-sample, 1-cycle, 1-step job', () => {
    const s = stageSeconds([
      { stage: 'prepare', step: 0, at: 1000 },
      { stage: 'encode', step: 1, at: 1300 },
      { stage: 'denoise', step: 2, at: 1450 },
      { stage: 'decode', step: 3, at: 2050 },
      { stage: 'finish', step: 3, at: 2051 },
    ]);
    expect(s.encode).toBeCloseTo(0.3, 12);
    expect(s.unet).toBeCloseTo(0.15, 12);
    expect(s.decode).toBeCloseTo(0.6, 12);
    expect(() => stageSeconds([{ stage: 'prepare', step: 0, at: 0 }])).toThrow(/encode/);
    // several UNet calls: their mean (the job's 4 DDIM steps)
    const four = stageSeconds([
      { stage: 'prepare', step: 0, at: 0 },
      { stage: 'encode', step: 1, at: 100 },
      { stage: 'denoise', step: 2, at: 190 },
      { stage: 'denoise', step: 3, at: 210 },
      { stage: 'denoise', step: 4, at: 230 },
      { stage: 'denoise', step: 5, at: 260 },
      { stage: 'decode', step: 6, at: 560 },
    ]);
    expect(four.unet).toBeCloseTo(0.04, 12);
    expect(four.decode).toBeCloseTo(0.3, 12);
  });

  it('grids: the model minimum, ~1.6x and ~2.5x it on the multiple-of-8 lattice, within range', () => {
    const m = testManifest();
    expect(calibrationGrids(m)).toEqual([
      [32, 32, 32],
      [56, 56, 56],
      [80, 80, 80],
    ]);
    expect(calibrationGrids(testManifest({ min: [32, 32, 32], max: [40, 256, 256] }))[1]).toEqual([
      40, 56, 56,
    ]);
  });

  it('is cached per model and backend', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    const m = testManifest();
    const wasm = { library: 'onnxruntime-web', executionProvider: 'wasm', threads: 2 } as const;
    const gpu = { library: 'onnxruntime-web', executionProvider: 'webgpu', threads: 2 } as const;
    const key = calibrationKey(m, wasm);
    expect(calibrationKey(m, gpu)).not.toBe(key);
    const c: Calibration = {
      key,
      measuredAt: 'now',
      points: [{ imageVoxels: 1, seconds: { encode: 1, unet: 1, decode: 1 } }],
    };
    saveCalibration(storage, c);
    expect(loadCalibration(storage, key)).toEqual(c);
    expect(loadCalibration(storage, calibrationKey(m, gpu))).toBeNull();
    expect(loadCalibration(null, key)).toBeNull();
  });
});

describe('the ai and classical modes: refiner passes, projection work and the rest', () => {
  const costs = {
    refinerPasses: [{ voxels: 100_000, seconds: 2 }],
    secondsPerProjectionWork: 1e-9,
    secondsPerOutputVoxel: 1e-7,
  };
  const work = { once: 1.4e7, backProjectionOnce: 1.6e7, perIteration: 4e6, upsample: 2e6 };

  it('ai: a back-projection, then per sample a refiner pass and a projection (worked by hand)', () => {
    // 10 steps: 1.4e7 + 9 x 4e6 = 5e7 work x 1 ns = 0.05 s per projection; back-projection
    // 1.6e7 + 9 x 4e6 = 5.2e7 work: 0.052 s
    // refiner 2 s per 100k voxels -> 8 s for 400k; other 1e-7 x 4e5 = 0.04 s
    const t = estimatePlaneModeTime(costs, {
      mode: 'ai',
      outputVoxels: 400_000,
      samples: 3,
      iterations: 10,
      projection: work,
    });
    expect(t.byStage.refine).toBeCloseTo(3 * 8, 9);
    expect(t.byStage.project).toBeCloseTo(0.052 + 3 * 0.05, 9);
    expect(t.byStage.other).toBeCloseTo(0.04, 9);
    expect(t.seconds).toBeCloseTo(24 + 0.202 + 0.04, 9);
  });

  it('classical: the back-projection only; no slice model: no projection', () => {
    const job = { outputVoxels: 400_000, samples: 1, iterations: 10, projection: work } as const;
    expect(estimatePlaneModeTime(costs, { ...job, mode: 'classical' }).seconds).toBeCloseTo(0.052 + 0.04, 9);
    const raw = estimatePlaneModeTime(costs, { ...job, mode: 'ai', projection: null });
    expect(raw.byStage.project).toBe(0);
    expect(raw.seconds).toBeCloseTo(8 + 0.04, 9);
  });

  it("calibration: the 'ai' job's events give the refiner pass", () => {
    // start 0; prepare at 300 ms (transfer + upsampling + back-projection); refiner 300 -> 2300
    const pass = refinerPassFromEvents(
      [
        { stage: 'prepare', step: 0, at: 300 },
        { stage: 'refine', step: 32, at: 1300 },
        { stage: 'refine', step: 64, at: 2300 },
        { stage: 'project', step: 65, at: 2400 },
        { stage: 'finish', step: 65, at: 2440 },
      ],
      { start: 0, end: 2450, outputVoxels: 100_000 },
    );
    expect(pass).toEqual({ voxels: 100_000, seconds: 2 });
    expect(() =>
      refinerPassFromEvents([{ stage: 'prepare', step: 0, at: 1 }], { start: 0, end: 2, outputVoxels: 1 }),
    ).toThrow(/refine/);
    expect(() =>
      refinerPassFromEvents(
        [
          { stage: 'refine', step: 1, at: 1 },
          { stage: 'prepare', step: 0, at: 5 },
        ],
        { start: 0, end: 9, outputVoxels: 1 },
      ),
    ).toThrow(/order/);
  });

  it("calibration: the classical job's timed back-projection gives the projection's rate and the rest", () => {
    // 10 steps of back-projection: 1.5e6 once + 9 x 1e6 = 1.05e7 work in 0.105 s -> 1e-8 s each;
    // the job took 0.35 s: the rest is 0.245 s over 2 M output voxels
    const c = projectionCostsFromClassical({
      start: 1000,
      end: 1350,
      outputVoxels: 2_000_000,
      iterations: 10,
      work: { once: 1e6, backProjectionOnce: 1.5e6, perIteration: 1e6, upsample: 5e5 },
      backProjectionSeconds: 0.105,
    });
    expect(c.secondsPerProjectionWork).toBeCloseTo(1e-8, 15);
    expect(c.secondsPerOutputVoxel).toBeCloseTo(0.245 / 2_000_000, 15);
  });
});
