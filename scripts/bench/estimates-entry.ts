/**
 * Bench entry for the panels' time estimates (bundled by scripts/bench.mjs; run in a fresh
 * child process per thread count by scripts/bench/estimates.mjs: onnxruntime-web fixes its
 * wasm thread count when its module loads). On onnxruntime-web wasm in Node (the worker's
 * wasm code path, through the engine's webRuntime) it:
 *  1. runs the panels' calibration (panels/calibration.ts `calibrate`, unchanged) and times it;
 *  2. for each job shape, computes the panels' estimate from that calibration
 *     (planning/superResolvePlan.ts `estimateSuperResolution`, panels/generateModel.ts
 *     `estimateGenerate`), then runs the job through the same pipeline the worker runs and
 *     times it, recording every progress event's ETA (the job gets the estimate's seconds per
 *     stage, as the panels pass them, so the live ETA starts from the estimate).
 * What it leaves out of "actual": the worker boundary (volumes cloned between page and
 * worker) and reading the series from the PACS, which the panels' estimate does not cover.
 */
import { scaling } from '../../extensions/geometry-ldm/src/geometry/affine';
import type { Dims3, Vec3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { generate } from '../../extensions/geometry-ldm/src/inference/generate';
import type { ProgressEvent } from '../../extensions/geometry-ldm/src/inference/progress';
import { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
import {
  tilingPolicyForLimits,
  WASM_MAX_TENSOR_BYTES,
} from '../../extensions/geometry-ldm/src/inference/tilingLimits';
import { superResolutionDefaults } from '../../extensions/geometry-ldm/src/model/manifest';
import { calibrate } from '../../extensions/geometry-ldm/src/panels/calibration';
import {
  defaultGenerateForm,
  estimateGenerate,
  generationTraits,
  geometrySpec,
  samplerSpec,
} from '../../extensions/geometry-ldm/src/panels/generateModel';
import {
  generationPreviewEvery,
  type Calibration,
} from '../../extensions/geometry-ldm/src/planning/estimate';
import {
  defaultSettings,
  estimateSuperResolution,
  planSuperResolution,
  type SuperResolveSettings,
  type TargetChoice,
} from '../../extensions/geometry-ldm/src/planning/superResolvePlan';
import type { SeriesGrid } from '../../extensions/geometry-ldm/src/planning/seriesGrid';
import { sliceModelFor } from '../../extensions/geometry-ldm/src/volume/seriesAcquisition';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { crop } from '../../extensions/geometry-ldm/src/volume/pad';
import type { EngineClient } from '../../extensions/geometry-ldm/src/worker/engineClient';
import { load, phantom, type TimedModel } from './engine-entry';

export interface SrShape {
  readonly kind: 'super-resolve';
  readonly label: string;
  readonly dims: Dims3;
  readonly spacingMm: Vec3;
  readonly target: TargetChoice;
  readonly settings: Partial<SuperResolveSettings>;
  /** SliceThickness of the series (mm), as the header would give it. */
  readonly thicknessMm?: number;
}
export interface GenerateShape {
  readonly kind: 'generate';
  readonly label: string;
  readonly dims: Dims3;
  readonly steps: number;
  readonly samples: number;
}
export type Shape = SrShape | GenerateShape;

export interface Task {
  dir: string;
  root: string;
  threads: number;
  shapes: Shape[];
}

export interface ShapeResult {
  label: string;
  estimateSeconds: number | null;
  actualSeconds: number;
  ratio: number | null;
  /** ETA / true remaining time over ticks after the first 10 % of the run with > 5 % left. */
  etaRatioRange: [number, number] | null;
  /** Largest ETA jump after the first 10 %: eta_i / (eta_{i-1} - elapsed), as a factor >= 1. */
  etaMaxJump: number | null;
  events: number;
}

/** The tiling (and so the batching) the browser worker uses on wasm (worker/engineHost.ts). */
const TILING = tilingPolicyForLimits(WASM_MAX_TENSOR_BYTES);

/** The calibration's view of an engine: the pipelines, called in this process. */
function inProcessClient(model: TimedModel): EngineClient {
  return {
    superResolve: (
      volume: Volume,
      target: never,
      options: never,
      job: { onProgress?: never; signal?: never },
    ) =>
      superResolve(model, volume, target, {
        ...(options as object),
        onProgress: job?.onProgress,
        signal: job?.signal,
      }),
  } as unknown as EngineClient;
}

function etaStats(events: readonly { e: ProgressEvent; at: number }[], start: number, end: number) {
  const total = end - start;
  const ticks = events.filter(({ e, at }) => e.etaSeconds !== null && at - start >= 0.1 * total);
  const inRange = ticks.filter(({ at }) => end - at > 0.05 * total);
  const ratios = inRange.map(({ e, at }) => e.etaSeconds! / ((end - at) / 1000));
  let jump = 1;
  for (let n = 1; n < inRange.length; n++) {
    const prev = inRange[n - 1];
    const cur = inRange[n];
    const expected = prev.e.etaSeconds! - (cur.at - prev.at) / 1000;
    if (expected <= 0.02 * (total / 1000) || cur.e.etaSeconds! <= 0) continue;
    const f = cur.e.etaSeconds! / expected;
    jump = Math.max(jump, f, 1 / f);
  }
  return {
    etaRatioRange: ratios.length ? ([Math.min(...ratios), Math.max(...ratios)] as [number, number]) : null,
    etaMaxJump: inRange.length > 1 ? jump : null,
  };
}

/** Runs a job, timed, with its progress events; the estimate beside the real time. */
async function timed(
  label: string,
  estimate: { readonly time: { readonly seconds: number } | null },
  run: (onProgress: (e: ProgressEvent) => void) => Promise<unknown>,
): Promise<ShapeResult> {
  const events: { e: ProgressEvent; at: number }[] = [];
  const start = performance.now();
  await run((e) => events.push({ e, at: performance.now() }));
  const end = performance.now();
  const est = estimate.time?.seconds ?? null;
  const actual = (end - start) / 1000;
  return {
    label,
    estimateSeconds: est,
    actualSeconds: actual,
    ratio: est === null ? null : est / actual,
    ...etaStats(events, start, end),
    events: events.length,
  };
}

async function runSr(model: TimedModel, cal: Calibration, s: SrShape): Promise<ShapeResult> {
  const m = model.manifest;
  const affine = scaling([...s.spacingMm]);
  const grid: SeriesGrid = { dims: s.dims, affine, spacingMm: s.spacingMm };
  const settings: SuperResolveSettings = { ...defaultSettings(m, s.settings.mode), ...s.settings };
  const form = { region: { start: [0, 0, 0] as Vec3, dims: s.dims }, target: s.target, settings };
  const plan = planSuperResolution(grid, form, m);
  if (!plan.ok) throw new Error(`${s.label}: ${plan.errors.join(' ')}`);
  const estimate = estimateSuperResolution(
    grid,
    plan,
    settings,
    cal,
    TILING,
    null,
    superResolutionDefaults(m).projectionIterations,
  );
  const volume = makeVolume(s.dims, affine, phantom(s.dims), 'HU');
  const { mode, slices: choice, ...sampling } = settings;
  const slices = sliceModelFor(choice, s.spacingMm[2], { sliceThicknessMm: s.thicknessMm ?? null });
  return timed(s.label, estimate, (onProgress) =>
    superResolve(model, crop(volume, form.region), plan.engineTarget, {
      ...sampling,
      mode,
      slices,
      groupSpace: plan.groupSpace,
      preview: true,
      tiling: TILING,
      ...(estimate.expected ? { expectedSeconds: estimate.expected } : {}),
      onProgress,
    }),
  );
}

async function runGenerate(model: TimedModel, cal: Calibration, s: GenerateShape): Promise<ShapeResult> {
  const m = model.manifest;
  const form = { ...defaultGenerateForm(m), dims: s.dims, steps: s.steps, samples: s.samples };
  const estimate = estimateGenerate(form, cal, TILING, null, generationTraits(m));
  return timed(s.label, estimate, (onProgress) =>
    generate(
      model,
      { geometry: geometrySpec(form), seed: 1, sampler: samplerSpec(form, m), samples: s.samples },
      {
        preview: true,
        previewEvery: generationPreviewEvery(s.steps),
        tiling: TILING,
        ...(estimate.expected ? { expectedSeconds: estimate.expected } : {}),
        onProgress,
      },
    ),
  );
}

/** Runs one thread count's calibration and shapes in this process. */
export async function runTask(task: Task): Promise<unknown> {
  const model = await load(task.dir, 'web-wasm', task.threads, task.root);
  try {
    const backend = { library: 'onnxruntime-web', executionProvider: 'wasm', threads: task.threads } as const;
    const t0 = performance.now();
    const cal = await calibrate(inProcessClient(model), model.manifest, backend as never);
    const calibrationSeconds = (performance.now() - t0) / 1000;
    const shapes: ShapeResult[] = [];
    for (const s of task.shapes) {
      shapes.push(s.kind === 'generate' ? await runGenerate(model, cal, s) : await runSr(model, cal, s));
    }
    return { threads: task.threads, calibrationSeconds, calibration: cal, shapes };
  } finally {
    await model.release();
  }
}
