/**
 * Bench entry for the inference engine (bundled by scripts/bench.mjs; run in a
 * fresh child process per task by scripts/bench/engine.mjs, because
 * onnxruntime-web fixes its wasm thread count when its module first loads).
 * Loads a model directory on onnxruntime-node or onnxruntime-web (wasm, in
 * Node, through the engine's own webRuntime), counts the time spent inside
 * model calls (pipeline overhead = the rest), and reports max RSS.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  coordinateChannels,
  latentConditioning,
} from '../../extensions/geometry-ldm/src/geometry/coordinateChannels';
import type { Affine } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { generate } from '../../extensions/geometry-ldm/src/inference/generate';
import { decode, encode, predictNoise } from '../../extensions/geometry-ldm/src/inference/latentOps';
import { loadModel, type LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../../extensions/geometry-ldm/src/inference/ortRuntime';
import type { InferenceRuntime, ModelSession } from '../../extensions/geometry-ldm/src/inference/runtime';
import { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
import type { TilingPolicy } from '../../extensions/geometry-ldm/src/inference/tiling';
import {
  tilingPolicyForLimits,
  WASM_MAX_TENSOR_BYTES,
} from '../../extensions/geometry-ldm/src/inference/tilingLimits';
import { createWasmRuntime, type OrtWebModule } from '../../extensions/geometry-ldm/src/inference/webRuntime';
import { parseManifestText, type ModelManifest } from '../../extensions/geometry-ldm/src/model/manifest';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';

export type Backend = 'node' | 'web-wasm';

export interface TimedModel extends LoadedModel {
  /** Milliseconds spent inside session.run since the last reset. */
  modelMs(): number;
  modelCalls(): number;
  resetModelMs(): void;
}

function timed(session: ModelSession, acc: { ms: number; calls: number }): ModelSession {
  return {
    name: session.name,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const t0 = performance.now();
      try {
        return await session.run(feeds);
      } finally {
        acc.ms += performance.now() - t0;
        acc.calls += 1;
      }
    },
    release: () => session.release(),
  };
}

async function runtimeFor(backend: Backend, threads: number, root: string): Promise<InferenceRuntime> {
  if (backend === 'node') {
    const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    return createOrtRuntime(ort, { library: 'onnxruntime-node', executionProvider: 'cpu', threads });
  }
  const dist = join(root, 'node_modules/onnxruntime-web/dist/');
  const web = (await import(pathToFileURL(join(dist, 'ort.node.min.mjs')).href)) as unknown as OrtWebModule;
  return createWasmRuntime(web, { threads, wasmPaths: pathToFileURL(dist).href });
}

/**
 * Loads the model; `gridMax` lifts the manifest's grid range (the models are
 * fully convolutional; the bench measures grids beyond the demo's 256).
 */
export async function load(
  dir: string,
  backend: Backend,
  threads: number,
  root: string,
  gridMax?: Dims3,
): Promise<TimedModel> {
  let manifest: ModelManifest = parseManifestText(await readFile(join(dir, 'model.json'), 'utf8'));
  if (gridMax) manifest = { ...manifest, grid: { ...manifest.grid, max: gridMax } };
  const runtime = await runtimeFor(backend, threads, root);
  const m = await loadModel(
    manifest,
    runtime,
    async (_p, f) => new Uint8Array(await readFile(join(dir, f.path))),
  );
  const acc = { ms: 0, calls: 0 };
  return {
    ...m,
    encoder: timed(m.encoder, acc),
    decoder: timed(m.decoder, acc),
    unet: timed(m.unet, acc),
    ...(m.refiner ? { refiner: timed(m.refiner, acc) } : {}),
    modelMs: () => acc.ms,
    modelCalls: () => acc.calls,
    resetModelMs: () => {
      acc.ms = 0;
      acc.calls = 0;
    },
  };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A smooth body-like phantom in HU (air outside an ellipse, soft tissue with texture inside). */
export function phantom(dims: Dims3): Float32Array {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const r = Math.hypot((i - nx / 2) / nx, (j - ny / 2) / ny);
        data[(k * ny + j) * nx + i] = r < 0.4 ? 40 + 30 * Math.sin(i / 5) * Math.cos(k / 7) : -1000;
      }
  return data;
}

/** The phantom as an HU volume on `affine` (row-major 4x4, mm). */
function phantomVolume(dims: Dims3, affine: Affine) {
  return makeVolume(dims, affine, phantom(dims), 'HU');
}

function unitAffine(dims: Dims3): number[] {
  return [1 / dims[0], 0, 0, 0, 0, 1 / dims[1], 0, 0, 0, 0, 1 / dims[2], 0, 0, 0, 0, 1];
}

export interface PerCallResult {
  part: 'encoder' | 'decoder' | 'unet';
  dims: Dims3;
  runsMs: number[];
  medianMs: number;
  error?: string;
}

/** Median time of one encoder, decoder and UNet call (whole volume, untiled) per grid. */
export async function perCall(
  model: TimedModel,
  grids: Dims3[],
  runsFor: (dims: Dims3) => { runs: number; warmup: number },
): Promise<PerCallResult[]> {
  const out: PerCallResult[] = [];
  for (const dims of grids) {
    const f = model.manifest.latent.factor;
    const L = dims.map((d) => d / f) as unknown as Dims3;
    const nl = L[0] * L[1] * L[2];
    const image = new Float32Array(dims[0] * dims[1] * dims[2]).fill(0.3);
    const coords = coordinateChannels(dims, unitAffine(dims) as never);
    const lc = latentConditioning(dims, unitAffine(dims) as never, f);
    const z = new Float32Array(8 * nl).map((_, q) => Math.sin(q));
    const { runs, warmup } = runsFor(dims);
    const parts: [PerCallResult['part'], () => Promise<unknown>][] = [
      ['unet', () => predictNoise(model, z, 500, lc, L, 1)],
      ['encoder', () => encode(model, image, coords, dims)],
      ['decoder', () => decode(model, z, L, 1)],
    ];
    for (const [part, fn] of parts) {
      const runsMs: number[] = [];
      try {
        for (let n = 0; n < warmup; n++) await fn();
        for (let n = 0; n < runs; n++) {
          const t0 = performance.now();
          await fn();
          runsMs.push(performance.now() - t0);
        }
        out.push({ part, dims, runsMs, medianMs: median(runsMs) });
      } catch (e) {
        out.push({
          part,
          dims,
          runsMs,
          medianMs: NaN,
          error: String((e as Error).message ?? e).slice(0, 200),
        });
      }
    }
  }
  return out;
}

export interface PipelineRun {
  totalMs: number;
  modelMs: number;
  modelCalls: number;
  outsideShare: number;
}

export interface PipelineResult extends PipelineRun {
  case: string;
  /** The first run in the process (JIT warm-up, first allocations); the other fields are the second run. */
  cold: PipelineRun;
}

/** Whole pipelines, each run twice (cold, then warm), with the share of wall time spent outside model calls. */
export async function pipelines(model: TimedModel): Promise<PipelineResult[]> {
  const results: PipelineResult[] = [];
  const once = async (fn: () => Promise<unknown>): Promise<PipelineRun> => {
    model.resetModelMs();
    const t0 = performance.now();
    await fn();
    const totalMs = performance.now() - t0;
    return {
      totalMs,
      modelMs: model.modelMs(),
      modelCalls: model.modelCalls(),
      outsideShare: 1 - model.modelMs() / totalMs,
    };
  };
  const measure = async (name: string, fn: () => Promise<unknown>) => {
    const cold = await once(fn);
    results.push({ case: name, ...(await once(fn)), cold });
  };
  await measure('generate 96x96x104, DDIM 10 steps, 1 sample', () =>
    generate(model, {
      geometry: { kind: 'fov', dims: [96, 96, 104] },
      seed: 1,
      sampler: { kind: 'ddim', steps: 10 },
    }),
  );
  const srcDims: Dims3 = [52, 52, 56];
  const src = phantomVolume(srcDims, [6.6, 0, 0, -170, 0, 6.6, 0, -170, 0, 0, 7, -300, 0, 0, 0, 1]);
  await measure('super-resolve 52x52x56 -> 104x104x112, 4 samples x 2 cycles x 5 DDIM steps (t=100)', () =>
    superResolve(
      model,
      src,
      { kind: 'scale', factor: 2 },
      { mode: 'diffusion', slices: 'none', samples: 4, cycles: 2, ddimSteps: 5, tStart: 100 },
    ),
  );
  // the tiled path: blending and tile copies are outside-model work too
  const tiling: TilingPolicy = { maxImageVoxelsPerCall: 64 * 64 * 64, overlapLatent: 2 };
  await measure(
    'super-resolve 52x52x56 -> 104x104x112 tiled (64^3 voxels per call), 2 samples x 1 cycle x 5 steps',
    () =>
      // the same source as above, built outside the timed call (it is not pipeline work)
      superResolve(
        model,
        src,
        { kind: 'scale', factor: 2 },
        { mode: 'diffusion', slices: 'none', samples: 2, cycles: 1, ddimSteps: 5, tStart: 100, tiling },
      ),
  );
  // the product's default: back-projection, refiner planes, projection (a thick-slice source)
  const thick: Dims3 = [128, 128, 33];
  const thickSrc = phantomVolume(thick, [1.4, 0, 0, -90, 0, 1.4, 0, -90, 0, 0, 5, -80, 0, 0, 0, 1]);
  await measure('super-resolve 128x128x33 (5 mm) -> 128x128x132, default ai mode, 2 samples', () =>
    superResolve(model, thickSrc, { kind: 'scale', factor: [1, 1, 4] }, {}),
  );
  // no model calls at all: the back-projection alone (its time is the projection's speed)
  const wide: Dims3 = [256, 256, 33];
  const wideSrc = phantomVolume(wide, [0.7, 0, 0, -90, 0, 0.7, 0, -90, 0, 0, 5, -80, 0, 0, 0, 1]);
  await measure('super-resolve 256x256x33 (5 mm) -> 256x256x132, classical mode', () =>
    superResolve(model, wideSrc, { kind: 'scale', factor: [1, 1, 4] }, { mode: 'classical' }),
  );
  return results;
}

export interface MemoryResult {
  mode: 'diffusion' | 'ai';
  sourceDims: Dims3;
  targetDims: Dims3;
  tiling: TilingPolicy;
  settings: { samples: number; cycles: number; ddimSteps: number };
  totalMs: number;
  modelMs: number;
  maxRssMiB: number;
  rssBeforeMiB: number;
}

/**
 * Super-resolution of a 136x136x144 phantom (2.5 x 2.5 x 2.5 mm) onto 272x272x288: the
 * latent-diffusion mode (no projection) with encoder/decoder tiled with the policy the
 * browser worker uses on wasm, or the default 'ai' mode (refiner + projection, its own
 * batching; `settings.samples` refiner samples).
 */
export async function peakMemory(
  model: TimedModel,
  settings: { samples: number; cycles: number; ddimSteps: number },
  mode: 'diffusion' | 'ai' = 'diffusion',
): Promise<MemoryResult> {
  const srcDims: Dims3 = [136, 136, 144];
  const tiling = tilingPolicyForLimits(WASM_MAX_TENSOR_BYTES);
  const src = phantomVolume(srcDims, [2.5, 0, 0, -170, 0, 2.5, 0, -170, 0, 0, 2.5, -300, 0, 0, 0, 1]);
  const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
  model.resetModelMs();
  const t0 = performance.now();
  const r = await superResolve(
    model,
    src,
    { kind: 'scale', factor: 2 },
    mode === 'ai'
      ? { mode: 'ai', samples: settings.samples }
      : { mode: 'diffusion', slices: 'none', ...settings, tStart: 100, tiling },
  );
  const totalMs = performance.now() - t0;
  return {
    mode,
    sourceDims: srcDims,
    targetDims: r.mean.dims,
    tiling,
    settings,
    totalMs,
    modelMs: model.modelMs(),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    rssBeforeMiB,
  };
}

export interface Task {
  dir: string;
  root: string;
  backend: Backend;
  threads: number;
  kind: 'per-call' | 'pipelines' | 'memory' | 'memory-ai';
  grids?: Dims3[];
  gridMax?: Dims3;
  /** Grids with more voxels than this (default 2M) get 1 run and no warm-up. */
  bigVoxels?: number;
  runs?: number;
  settings?: { samples: number; cycles: number; ddimSteps: number };
}

/** Runs one task in this process and returns its JSON-able result. */
export async function runTask(task: Task): Promise<unknown> {
  const model = await load(task.dir, task.backend, task.threads, task.root, task.gridMax);
  try {
    if (task.kind === 'per-call') {
      const big = task.bigVoxels ?? 2e6;
      return await perCall(model, task.grids ?? [], (d) =>
        d[0] * d[1] * d[2] > big ? { runs: 1, warmup: 0 } : { runs: task.runs ?? 3, warmup: 1 },
      );
    }
    if (task.kind === 'pipelines') return await pipelines(model);
    const settings = task.settings ?? { samples: 2, cycles: 1, ddimSteps: 2 };
    return await peakMemory(model, settings, task.kind === 'memory-ai' ? 'ai' : 'diffusion');
  } finally {
    await model.release();
  }
}
