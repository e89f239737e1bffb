/**
 * A PRIOR time estimate, shown before this machine has been measured: the
 * model's recorded per-call costs (seconds of one encoder, UNet and decoder
 * call at a few grid sizes, for a backend), interpolated in grid size, so the
 * panel can say "roughly 40 s" from the start. A calibration on this machine
 * (calibration.ts) replaces it; the panel labels which one it shows.
 *
 * Interpolation: piecewise power law between the recorded grids (straight
 * lines in log seconds over log voxels), which follows both the fixed costs
 * that dominate small grids and the per-voxel costs of large ones (a single
 * fixed + per-voxel least-squares line, as for a calibration's two small
 * grids, misses the small recorded grid by 2x). Outside the recorded range
 * the nearest segment's exponent is continued, clamped to [0, 1] below the
 * range (costs do not vanish on tiny grids) and to at least 1 above it.
 *
 * The recorded costs come from the model's manifest only: `metrics.perCallSeconds`, rows of
 * `{ backend: 'wasm' | 'webgpu', threads, imageVoxels, encode, unet, decode }` (seconds per
 * call; `imageVoxels` is the model grid's voxel count), written at export from the engine
 * benchmark (BENCHMARKS.md "Inference engine: per call"). A model without them has no prior:
 * the panel offers to measure this machine instead of guessing from another model's numbers.
 *
 * The 'ai' and 'classical' super-resolution modes have their own recorded costs,
 * `metrics.planeCosts`: rows of `{ backend, threads, refinerPasses: [{ voxels, seconds }],
 * secondsPerProjectionWork, secondsPerOutputVoxel }` (estimate.ts PlaneCosts), from the same
 * calibration the panel runs (BENCHMARKS.md "Time estimates against real runs").
 *
 * Backends: rows of the same backend and the nearest thread count are used.
 * WebGPU without WebGPU rows falls back to the CPU rows, labelled as such; a
 * software adapter (SwiftShader, e.g. headless chromium) is about 100x slower
 * than wasm on these models (docs: platform notes, 60-130x), so its prior is
 * the CPU rows times 100.
 */
import type { BackendInfo } from '../inference/runtime';
import { isSoftwareAdapter as isSoftwareRuntimeAdapter, type WebGpuLimits } from '../inference/webRuntime';
import type { ModelManifest } from '../model/manifest';
import type { CalibrationPoint, CostModel, CostStage, PlaneCosts } from '../planning/estimate';

export interface RecordedCost {
  readonly backend: 'wasm' | 'webgpu';
  readonly threads: number;
  readonly imageVoxels: number;
  readonly encode: number;
  readonly unet: number;
  readonly decode: number;
}

export interface PriorCosts {
  /** Seconds per call by stage and model-grid voxels (what estimateTime uses). */
  readonly model: CostModel;
  /** The 'ai' and 'classical' modes' costs, when the model records them for this backend. */
  readonly planes?: PlaneCosts;
  /** The recorded points the model interpolates (after backend scaling). */
  readonly points: readonly CalibrationPoint[];
  /** Plain words: where the numbers come from and how far to trust them. */
  readonly basis: string;
}

/** How much slower a software WebGPU adapter is than wasm on these models (60-130x measured). */
export const SOFTWARE_WEBGPU_FACTOR = 100;

const pos = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The backend and thread count every recorded row starts with. */
function hasBackend(x: { backend?: unknown; threads?: unknown } | null): boolean {
  return (
    !!x && (x.backend === 'wasm' || x.backend === 'webgpu') && typeof x.threads === 'number' && x.threads >= 1
  );
}

function isRow(r: unknown): r is RecordedCost {
  const x = r as Partial<RecordedCost> | null;
  return (
    hasBackend(x) &&
    typeof x!.imageVoxels === 'number' &&
    x!.imageVoxels > 0 &&
    pos(x!.encode) &&
    pos(x!.unet) &&
    pos(x!.decode)
  );
}

export interface RecordedPlaneCosts extends PlaneCosts {
  readonly backend: 'wasm' | 'webgpu';
  readonly threads: number;
}

function isPlaneRow(r: unknown): r is RecordedPlaneCosts {
  const x = r as Partial<RecordedPlaneCosts> | null;
  return (
    hasBackend(x) &&
    Array.isArray(x!.refinerPasses) &&
    x!.refinerPasses.length > 0 &&
    x!.refinerPasses.every((p) => !!p && pos(p.seconds) && typeof p.voxels === 'number' && p.voxels > 0) &&
    pos(x!.secondsPerProjectionWork) &&
    pos(x!.secondsPerOutputVoxel)
  );
}

/** The manifest's recorded plane-mode costs (`metrics.planeCosts`), invalid rows dropped. */
export function manifestPlaneCosts(manifest: ModelManifest): RecordedPlaneCosts[] {
  const rows = (manifest.metrics as { planeCosts?: unknown } | undefined)?.planeCosts;
  return Array.isArray(rows) ? rows.filter(isPlaneRow) : [];
}

/** The manifest's own recorded costs (`metrics.perCallSeconds`), invalid rows dropped. */
export function manifestRecordedCosts(manifest: ModelManifest): RecordedCost[] {
  const rows = (manifest.metrics as { perCallSeconds?: unknown } | undefined)?.perCallSeconds;
  return Array.isArray(rows) ? rows.filter(isRow) : [];
}

/** A software WebGPU adapter (SwiftShader): inference/webRuntime.ts decides, from what the adapter says. */
export function isSoftwareAdapter(webgpu: WebGpuLimits | null | undefined): boolean {
  return isSoftwareRuntimeAdapter(webgpu?.adapter);
}

function threadsText(n: number): string {
  return `${n} thread${n === 1 ? '' : 's'}`;
}

/** Rows of one backend at the thread count nearest `threads` (ties: fewer threads, the slower). */
function pick<R extends { backend: string; threads: number }>(
  rows: readonly R[],
  backend: 'wasm' | 'webgpu',
  threads: number,
): R[] {
  const same = rows.filter((r) => r.backend === backend);
  if (same.length === 0) return [];
  const counts = [...new Set(same.map((r) => r.threads))].sort((a, b) => a - b);
  const best = counts.reduce((b, t) => (Math.abs(t - threads) < Math.abs(b - threads) ? t : b), counts[0]);
  return same.filter((r) => r.threads === best);
}

function toPoints(
  rows: readonly RecordedCost[],
  scale: Readonly<Record<CostStage, number>>,
): CalibrationPoint[] {
  return rows
    .map((r) => ({
      imageVoxels: r.imageVoxels,
      seconds: {
        encode: r.encode * scale.encode,
        unet: r.unet * scale.unet,
        decode: r.decode * scale.decode,
      },
    }))
    .sort((a, b) => a.imageVoxels - b.imageVoxels);
}

/** Piecewise power-law interpolation of recorded points (see the module comment). */
export function interpolatedCostModel(points: readonly CalibrationPoint[]): CostModel {
  const pts = [...points].sort((a, b) => a.imageVoxels - b.imageVoxels);
  if (pts.length === 0) throw new RangeError('no recorded costs');
  return {
    seconds(stage, voxels) {
      const n = Math.max(1, voxels);
      if (pts.length === 1) return pts[0].seconds[stage] * (n / pts[0].imageVoxels);
      let i = pts.findIndex((p) => p.imageVoxels >= n);
      const below = i === 0;
      const above = i < 0;
      if (below) i = 1;
      if (above) i = pts.length - 1;
      const a = pts[i - 1];
      const b = pts[i];
      const ya = Math.max(a.seconds[stage], 1e-9);
      const yb = Math.max(b.seconds[stage], 1e-9);
      let k = Math.log(yb / ya) / Math.log(b.imageVoxels / a.imageVoxels);
      if (below) k = Math.min(1, Math.max(0, k));
      if (above) k = Math.max(1, k);
      return ya * (n / a.imageVoxels) ** k;
    },
  };
}

function planesOf(row: RecordedPlaneCosts | undefined, refinerScale: number): PlaneCosts | undefined {
  if (!row) return undefined;
  return {
    refinerPasses: row.refinerPasses.map((p) => ({ voxels: p.voxels, seconds: p.seconds * refinerScale })),
    secondsPerProjectionWork: row.secondsPerProjectionWork,
    secondsPerOutputVoxel: row.secondsPerOutputVoxel,
  };
}

function prior(
  rows: readonly RecordedCost[],
  scale: Readonly<Record<CostStage, number>>,
  basis: string,
  planes: PlaneCosts | undefined,
): PriorCosts {
  const points = toPoints(rows, scale);
  return { model: interpolatedCostModel(points), points, basis, ...(planes ? { planes } : {}) };
}

/** The prior for `manifest` on `backend`; null when the manifest records no costs for it. */
export function priorCosts(
  manifest: ModelManifest,
  backend: BackendInfo,
  webgpu?: WebGpuLimits | null,
): PriorCosts | null {
  const source = manifestRecordedCosts(manifest);
  if (source.length === 0) return null;
  const planeRows = manifestPlaneCosts(manifest);
  const from = 'the costs recorded in the model description';
  const scale: Record<CostStage, number> = { encode: 1, unet: 1, decode: 1 };
  const threads = Math.max(1, backend.threads);

  if (backend.executionProvider === 'webgpu') {
    const gpuRows = pick(source, 'webgpu', 1);
    if (gpuRows.length > 0) {
      return prior(
        gpuRows,
        scale,
        `from ${from} on WebGPU (your GPU may differ)`,
        planesOf(pick(planeRows, 'webgpu', 1)[0], 1),
      );
    }
    const cpuRows = pick(source, 'wasm', 2);
    if (cpuRows.length === 0) return null;
    if (isSoftwareAdapter(webgpu)) {
      const f = SOFTWARE_WEBGPU_FACTOR;
      return prior(
        cpuRows,
        { encode: scale.encode * f, unet: scale.unet * f, decode: scale.decode * f },
        `from ${from} on the CPU, times ${f} for a software WebGPU adapter (no GPU)`,
        planesOf(pick(planeRows, 'wasm', 2)[0], f),
      );
    }
    return prior(
      cpuRows,
      scale,
      `from ${from} on the CPU (wasm, ${threadsText(cpuRows[0].threads)}); a GPU is usually faster`,
      planesOf(pick(planeRows, 'wasm', 2)[0], 1),
    );
  }

  const rows = pick(source, 'wasm', threads);
  if (rows.length === 0) return null;
  const t = rows[0].threads;
  return prior(
    rows,
    scale,
    `from ${from} with wasm, ${threadsText(t)}${t !== threads ? ` (this browser uses ${threads})` : ''}`,
    planesOf(pick(planeRows, 'wasm', threads)[0], 1),
  );
}
