/**
 * The prior time estimate (before this machine is measured): which recorded
 * costs it uses for a model and backend, how it is labelled, and that a
 * calibration replaces it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendInfo } from '../inference/runtime';
import type { WebGpuLimits } from '../inference/webRuntime';
import { parseManifest, type ModelManifest } from '../model/manifest';
import { estimateTime, superResolveCalls, type Calibration } from '../planning/estimate';
import { testManifest } from './__fixtures__/manifest';
import {
  isSoftwareAdapter,
  manifestPlaneCosts,
  manifestRecordedCosts,
  priorCosts,
  SOFTWARE_WEBGPU_FACTOR,
} from './priorCosts';

const demo: ModelManifest = parseManifest(
  JSON.parse(
    fs.readFileSync(path.resolve(__dirname, '../../../../models/geometry-ldm-demo/model.json'), 'utf8'),
  ),
);
const wasm = (threads: number): BackendInfo => ({
  library: 'onnxruntime-web',
  executionProvider: 'wasm',
  threads,
});
const webgpu: BackendInfo = { library: 'onnxruntime-web', executionProvider: 'webgpu', threads: 1 };
const limits = (adapter: WebGpuLimits['adapter']): WebGpuLimits => ({
  adapter,
  maxStorageBufferBindingSize: 2 ** 30,
  maxBufferSize: 2 ** 30,
  device: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 },
  shaderF16: false,
});
const N96 = 96 * 96 * 104;
/** The committed demo model's recorded costs, as its model.json carries them. */
const DEMO_RECORDED_COSTS = manifestRecordedCosts(demo);

describe('recorded costs of the demo model', () => {
  it('the committed demo model carries its recorded costs (metrics.perCallSeconds): 1 and 2 threads, three grids', () => {
    expect(DEMO_RECORDED_COSTS.map((r) => [r.backend, r.threads, r.imageVoxels])).toEqual([
      ['wasm', 1, N96],
      ['wasm', 1, 192 * 192 * 208],
      ['wasm', 1, 272 * 272 * 288],
      ['wasm', 2, N96],
      ['wasm', 2, 192 * 192 * 208],
      ['wasm', 2, 272 * 272 * 288],
    ]);
  });

  it('wasm: the recorded rows of the thread count in use, labelled as recorded', () => {
    for (const threads of [1, 2]) {
      const p = priorCosts(demo, wasm(threads))!;
      const rows = DEMO_RECORDED_COSTS.filter((r) => r.threads === threads);
      expect(p.points).toEqual(
        rows.map((r) => ({
          imageVoxels: r.imageVoxels,
          seconds: { encode: r.encode, unet: r.unet, decode: r.decode },
        })),
      );
      expect(p.basis).toBe(
        `from the costs recorded in the model description with wasm, ${threads} thread${threads === 1 ? '' : 's'}`,
      );
    }
    // more threads than recorded: the nearest recording, said so
    expect(priorCosts(demo, wasm(8))!.basis).toMatch(/with wasm, 2 threads \(this browser uses 8\)$/);
  });

  it('the prior passes through the recording and interpolates between (power law), never vanishing below', () => {
    const { model } = priorCosts(demo, wasm(2))!;
    const rows = DEMO_RECORDED_COSTS.filter((x) => x.threads === 2);
    for (const r of rows) {
      for (const stage of ['encode', 'unet', 'decode'] as const) {
        expect(model.seconds(stage, r.imageVoxels)).toBeCloseTo(r[stage], 9);
      }
    }
    // between 96x96x104 and 192x192x208 (8x the voxels): the geometric interpolation
    const mid = Math.sqrt(rows[0].imageVoxels * rows[1].imageVoxels);
    expect(model.seconds('decode', mid)).toBeCloseTo(Math.sqrt(rows[0].decode * rows[1].decode), 9);
    // 32^3 (1/29 of the smallest recording): at least proportional, so at least 1/29 of it
    const tiny = 32 ** 3;
    for (const stage of ['encode', 'unet', 'decode'] as const) {
      const s = model.seconds(stage, tiny);
      expect(s).toBeGreaterThanOrEqual((rows[0][stage] * tiny) / rows[0].imageVoxels - 1e-12);
      expect(s).toBeLessThanOrEqual(rows[0][stage]);
    }
    // beyond the largest: at least proportional
    expect(model.seconds('unet', 2 * rows[2].imageVoxels)).toBeGreaterThanOrEqual(2 * rows[2].unet - 1e-12);
  });

  it('WebGPU: the CPU recording, times 100 on a software adapter; labelled either way', () => {
    const hw = priorCosts(demo, webgpu, limits({ vendor: 'nvidia', architecture: 'ampere' }))!;
    expect(hw.basis).toMatch(/on the CPU \(wasm, 2 threads\); a GPU is usually faster$/);
    const sw = priorCosts(demo, webgpu, limits({ vendor: 'google', architecture: 'swiftshader' }))!;
    expect(sw.basis).toMatch(/times 100 for a software WebGPU adapter/);
    const calls = superResolveCalls({ samples: 2, cycles: 1, ddimSteps: 2 });
    const hwTime = estimateTime(hw.model, [96, 96, 104], calls).seconds;
    const swTime = estimateTime(sw.model, [96, 96, 104], calls).seconds;
    expect(swTime / hwTime).toBeCloseTo(SOFTWARE_WEBGPU_FACTOR, 6);
    expect(isSoftwareAdapter(limits({ description: 'SwiftShader Device (Subzero)' }))).toBe(true);
    expect(isSoftwareAdapter(null)).toBe(false);
  });
});

describe('other models', () => {
  it('a manifest with recorded costs (metrics.perCallSeconds) uses its own rows; invalid rows are dropped', () => {
    const base = testManifest();
    const m = {
      ...base,
      metrics: {
        perCallSeconds: [
          { backend: 'wasm', threads: 4, imageVoxels: N96, encode: 1, unet: 0.5, decode: 2 },
          { backend: 'wasm', threads: 4, imageVoxels: 8 * N96, encode: 8, unet: 4, decode: 16 },
          { backend: 'webgpu', threads: 1, imageVoxels: N96, encode: 0.1, unet: 0.05, decode: 0.2 },
          { backend: 'wasm', threads: 4, imageVoxels: -1, encode: 1, unet: 1, decode: 1 },
          'nonsense',
        ],
      },
    } as ModelManifest;
    expect(manifestRecordedCosts(m)).toHaveLength(3);
    const p = priorCosts(m, wasm(4))!;
    expect(p.basis).toBe('from the costs recorded in the model description with wasm, 4 threads');
    const t = estimateTime(p.model, [96, 96, 104], { encode: 1, unet: 1, decode: 1 });
    expect(t.seconds).toBeCloseTo(3.5, 6);
    const g = priorCosts(m, webgpu)!;
    expect(g.basis).toBe('from the costs recorded in the model description on WebGPU (your GPU may differ)');
    expect(g.points).toEqual([{ imageVoxels: N96, seconds: { encode: 0.1, unet: 0.05, decode: 0.2 } }]);
  });

  it("a model without recorded costs has no prior (no other model's numbers are borrowed)", () => {
    const m = testManifest();
    expect(manifestRecordedCosts(m)).toEqual([]);
    expect(priorCosts(m, wasm(2))).toBeNull();
    expect(priorCosts(m, webgpu)).toBeNull();
  });
});

describe('measured beats prior', () => {
  it('estimates say which they used', async () => {
    const { estimateGenerate, defaultGenerateForm } = await import('./generateModel');
    const form = defaultGenerateForm(demo);
    const prior = priorCosts(demo, wasm(2))!.model;
    const measured: Calibration = {
      key: 'k',
      measuredAt: '2026-01-01T00:00:00Z',
      points: [{ imageVoxels: 32768, seconds: { encode: 1, unet: 1, decode: 1 } }],
    };
    expect(estimateGenerate(form, null, null, prior).timeBasis).toBe('prior');
    const both = estimateGenerate(form, measured, null, prior);
    expect(both.timeBasis).toBe('measured');
    expect(both.time!.seconds).toBeCloseTo(estimateGenerate(form, measured).time!.seconds, 9);
    const none = estimateGenerate(form, null);
    expect(none.time).toBeNull();
    expect(none.timeBasis).toBeNull();
  });
});

describe('recorded costs of the ai and classical modes (metrics.planeCosts)', () => {
  it('the demo model records them for wasm at 1 and 2 threads; the prior uses the thread count in use', () => {
    const rows = manifestPlaneCosts(demo);
    expect(rows.map((r) => [r.backend, r.threads])).toEqual([
      ['wasm', 1],
      ['wasm', 2],
    ]);
    for (const threads of [1, 2]) {
      const row = rows.find((r) => r.threads === threads)!;
      expect(priorCosts(demo, wasm(threads))!.planes).toEqual({
        refinerPasses: row.refinerPasses,
        secondsPerProjectionWork: row.secondsPerProjectionWork,
        secondsPerOutputVoxel: row.secondsPerOutputVoxel,
      });
    }
  });

  it('invalid rows are dropped; a manifest without them has no plane prior', () => {
    const with_ = (planeCosts: unknown) =>
      ({ ...demo, metrics: { ...demo.metrics, planeCosts } }) as typeof demo;
    expect(manifestPlaneCosts(with_([{ backend: 'wasm', threads: 2, refinerPasses: [] }]))).toEqual([]);
    expect(priorCosts(with_(undefined), wasm(2))!.planes).toBeUndefined();
  });
});
