/**
 * The super-resolution panel's logic, free of UI and I/O: from a series grid
 * and the model manifest to the target presets, a validated plan (region of
 * the series, output grid, the padded grid the model runs on), the settings
 * checks, and the estimates.
 *
 * Region: a box of source voxels (default the whole series). What a mode takes
 * is modeGrid.ts: real CT series (512 x 512 in-plane) are larger than a latent
 * diffusion model's grid range, and a long series refined along every axis is
 * larger than the AI and classical modes hold in memory; then the panel proposes
 * the largest centred region that fits (`fitRegion`). The region is cropped on
 * the page before it is sent to the engine; the group space stays the WHOLE
 * series' extent (scan-extent models: a crop is a sub-range of [0,1]^3, as in
 * training).
 *
 * Target: a scale factor or a spacing per axis, refining only (the engine's
 * rule, planSuperResolutionTarget); the output grid covers the region's voxel
 * edges and is padded to the model's multiple of 8 (the grid latent diffusion
 * runs on).
 */
import { voxelCount, type Dims3, type Vec3 } from '../geometry/conventions';
import { LATENT_FACTOR, type LatentFactor } from '../geometry/coordinateChannels';
import { scanExtentGroupSpace, type GroupSpace } from '../geometry/groupSpace';
import {
  outputVoxels,
  paddedVoxels,
  planSuperResolutionTarget,
  type PlannedTarget,
  type SuperResolutionTarget,
} from '../inference/superResolutionTarget';
import type { ExpectedSeconds } from '../inference/progress';
import type { TilingPolicy } from '../inference/tiling';
import { superResolutionDefaults, type ModelManifest, type SuperResolutionMode } from '../model/manifest';
import { REFINER_MAX_SAMPLES } from '../inference/refiner';
import { DEFAULT_PROJECTION_ITERATIONS } from '../volume/acquisition';
import { seriesAcquisition, sliceModelFor, type SliceModelChoice } from '../volume/seriesAcquisition';
import { boxGrid, type CropBox } from '../volume/pad';
import type { Grid } from '../volume/volume';
import {
  costModel,
  estimatePlaneModeMemory,
  estimateSuperResolveMemory,
  expectedBatchSize,
  estimatePlaneModeTime,
  estimateTime,
  superResolveCalls,
  type Calibration,
  type CostModel,
  type MemoryEstimate,
  type PlaneCosts,
  type ProjectionWork,
  type TimeBasis,
  type TimeEstimate,
} from './estimate';
import { formatDims } from './format';
import { modeGridProblem, planeModeFits, PLANE_MODE_MAX_PLANE, PLANE_MODE_MAX_VOXELS } from './modeGrid';

const MODE_NAMES: Readonly<Record<SuperResolutionMode, string>> = {
  ai: 'AI refiner',
  classical: 'classical',
  diffusion: 'latent diffusion',
};
import type { SeriesGrid } from './seriesGrid';

export type TargetChoice =
  { readonly kind: 'scale'; readonly factors: Vec3 } | { readonly kind: 'spacing'; readonly spacingMm: Vec3 };

export interface SuperResolveSettings {
  /** ai: refiner + projection; classical: back-projection only; diffusion: the paper's latent diffusion. */
  readonly mode: SuperResolutionMode;
  /** How the series' slices were acquired (default 'auto': from SliceThickness / ImageType). */
  readonly slices: SliceModelChoice;
  readonly tStart: number;
  readonly cycles: number;
  readonly ddimSteps: number;
  readonly samples: number;
  readonly seed: number;
  /** Interpolate across missing slices (SeriesGrid.holes) instead of refusing. */
  readonly bridgeGaps: boolean;
}

export interface SuperResolveForm {
  readonly region: CropBox;
  readonly target: TargetChoice;
  readonly settings: SuperResolveSettings;
}

export interface TargetPreset {
  readonly id: string;
  readonly label: string;
  readonly target: (grid: SeriesGrid) => TargetChoice;
}

export const TARGET_PRESETS: readonly TargetPreset[] = [
  { id: 'x2', label: '×2 on every axis', target: () => ({ kind: 'scale', factors: [2, 2, 2] }) },
  { id: 'x2-slices', label: '×2 slices only', target: () => ({ kind: 'scale', factors: [1, 1, 2] }) },
  { id: 'x4-slices', label: '×4 slices only', target: () => ({ kind: 'scale', factors: [1, 1, 4] }) },
  { id: 'x2-inplane', label: '×2 in-plane only', target: () => ({ kind: 'scale', factors: [2, 2, 1] }) },
  {
    id: 'isotropic',
    label: 'Isotropic (slice spacing = in-plane)',
    target: (g) => {
      const s = Math.min(g.spacingMm[0], g.spacingMm[1]);
      return { kind: 'spacing', spacingMm: [g.spacingMm[0], g.spacingMm[1], Math.min(s, g.spacingMm[2])] };
    },
  },
];

export function defaultSettings(manifest: ModelManifest, mode?: SuperResolutionMode): SuperResolveSettings {
  const d = superResolutionDefaults(manifest);
  const m = mode ?? d.mode;
  return {
    mode: m,
    slices: 'auto',
    tStart: d.tStart,
    cycles: d.cycles,
    ddimSteps: d.ddimSteps,
    samples: defaultSamples(manifest, m),
    seed: 0,
    bridgeGaps: false,
  };
}

/** Samples a mode starts with: the refiner's test-time augmentations, one for classical, else diffusion samples. */
export function defaultSamples(manifest: ModelManifest, mode: SuperResolutionMode): number {
  const d = superResolutionDefaults(manifest);
  return mode === 'ai' ? d.refinerSamples : mode === 'classical' ? 1 : d.samples;
}

/** The modes this model offers ('ai' only with a refiner). */
export function availableModes(manifest: ModelManifest): SuperResolutionMode[] {
  return manifest.files.refiner ? ['ai', 'classical', 'diffusion'] : ['classical', 'diffusion'];
}

export function wholeRegion(grid: SeriesGrid): CropBox {
  return { start: [0, 0, 0], dims: [grid.dims[0], grid.dims[1], grid.dims[2]] };
}

/** Target spacing per axis (mm) for a choice on a grid. */
export function targetSpacing(grid: { spacingMm: Vec3 }, target: TargetChoice): Vec3 {
  if (target.kind === 'spacing') return target.spacingMm;
  return grid.spacingMm.map((s, a) => s / target.factors[a]) as unknown as Vec3;
}

export function engineTarget(target: TargetChoice): SuperResolutionTarget {
  return target.kind === 'spacing'
    ? { kind: 'spacing', spacingMm: target.spacingMm }
    : { kind: 'scale', factor: target.factors };
}

/**
 * The largest region (per axis, at most the series) that `mode` takes (modeGrid.ts), centred on
 * `centre` (source index, default the series centre) and kept inside the series.
 * Latent diffusion: per axis, the padded output within the model's grid maximum. The AI and
 * classical modes: whole slices where they fit (the in-plane axes shrink only until the slice
 * plane fits), then as many slices as the voxel and plane bounds allow.
 */
export function fitRegion(
  grid: SeriesGrid,
  target: TargetChoice,
  manifest: ModelManifest,
  mode: SuperResolutionMode,
  centre?: Vec3,
): CropBox {
  const spacing = targetSpacing(grid, target);
  const out = (a: number, n: number) => outputVoxels(n, grid.spacingMm[a], spacing[a]);
  const dims = [grid.dims[0], grid.dims[1], grid.dims[2]] as [number, number, number];
  if (mode === 'diffusion') {
    const m = manifest.grid.multipleOf;
    for (let a = 0; a < 3; a++)
      while (dims[a] > 1 && paddedVoxels(out(a, dims[a]), m, manifest.grid.min[a]) > manifest.grid.max[a])
        dims[a]--;
  } else {
    const outDims = (): Dims3 => [out(0, dims[0]), out(1, dims[1]), out(2, dims[2])];
    // the wider in-plane axis (in result voxels) gives way first
    const shrinkInPlane = (): boolean => {
      const o = outDims();
      const a = o[0] >= o[1] ? 0 : 1;
      const b = 1 - a;
      if (dims[a] > 1) dims[a]--;
      else if (dims[b] > 1) dims[b]--;
      else return false;
      return true;
    };
    while (outDims()[0] * outDims()[1] > PLANE_MODE_MAX_PLANE) if (!shrinkInPlane()) break;
    while (!planeModeFits(outDims()) && dims[2] > 1) dims[2]--;
    while (!planeModeFits(outDims())) if (!shrinkInPlane()) break;
  }
  const start = [0, 1, 2].map((a) => {
    const c = centre ? centre[a] : (grid.dims[a] - 1) / 2;
    const s = Math.round(c - (dims[a] - 1) / 2);
    return Math.min(Math.max(0, s), grid.dims[a] - dims[a]);
  }) as unknown as Vec3;
  return { start, dims };
}

export interface PlanOk {
  readonly ok: true;
  /** The region's grid (what is sent to the engine, after cropping). */
  readonly sourceGrid: Grid;
  readonly plan: PlannedTarget;
  readonly spacingMm: Vec3;
  readonly engineTarget: SuperResolutionTarget;
  /** The whole series' extent: the crop's placement in the model's [0,1]^3. */
  readonly groupSpace: GroupSpace;
  readonly warnings: readonly string[];
}

export interface PlanError {
  readonly ok: false;
  readonly errors: readonly string[];
}

export type SuperResolvePlan = PlanOk | PlanError;

function isPositiveInteger(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/** Settings checks against the manifest's schedule (the engine repeats them; these are friendlier). */
export function validateSettings(s: SuperResolveSettings, manifest: ModelManifest): string[] {
  const errors: string[] = [];
  if (!availableModes(manifest).includes(s.mode)) errors.push(`This model has no ${s.mode} mode.`);
  if (s.mode === 'ai' && isPositiveInteger(s.samples) && s.samples > REFINER_MAX_SAMPLES)
    errors.push(`The AI refiner has ${REFINER_MAX_SAMPLES} distinct samples (2 planes × 4 mirrorings).`);
  if (s.mode === 'classical' && s.samples !== 1)
    errors.push('The classical mode is deterministic: 1 sample.');
  if (s.mode !== 'diffusion') {
    if (!isPositiveInteger(s.samples)) errors.push('Samples must be a whole number of at least 1.');
    return errors;
  }
  const T = manifest.scheduler.numTrainTimesteps;
  if (!isPositiveInteger(s.tStart) || s.tStart >= T)
    errors.push(`Noise level t must be a whole number from 1 to ${T - 1}.`);
  if (!isPositiveInteger(s.cycles)) errors.push('Cycles must be a whole number of at least 1.');
  if (!isPositiveInteger(s.ddimSteps)) errors.push('DDIM steps must be a whole number of at least 1.');
  else if (isPositiveInteger(s.tStart) && s.ddimSteps > s.tStart)
    errors.push(`DDIM steps (${s.ddimSteps}) cannot exceed the noise level t (${s.tStart}).`);
  if (!isPositiveInteger(s.samples)) errors.push('Samples must be a whole number of at least 1.');
  if (!Number.isInteger(s.seed) || s.seed < 0) errors.push('Seed must be a whole number of at least 0.');
  return errors;
}

function validateRegion(grid: SeriesGrid, region: CropBox): string[] {
  const errors: string[] = [];
  for (let a = 0; a < 3; a++) {
    const axis = ['columns', 'rows', 'slices'][a];
    const one = ['column', 'row', 'slice'][a];
    const { start, dims } = region;
    if (!Number.isInteger(start[a]) || !Number.isInteger(dims[a])) {
      errors.push(`The region's ${axis} must be whole numbers.`);
    } else if (dims[a] < 1) {
      errors.push(
        `The region's last ${one} (${start[a] + dims[a]}) comes before its first (${start[a] + 1}): swap them.`,
      );
    } else if (start[a] < 0 || start[a] + dims[a] > grid.dims[a]) {
      errors.push(
        `The region's ${axis} ${start[a] + 1}–${start[a] + dims[a]} lie outside the series (1–${grid.dims[a]}).`,
      );
    }
  }
  return errors;
}

export function planSuperResolution(
  grid: SeriesGrid,
  form: SuperResolveForm,
  manifest: ModelManifest,
): SuperResolvePlan {
  const errors = [...validateRegion(grid, form.region), ...validateSettings(form.settings, manifest)];
  if (grid.holes && !form.settings.bridgeGaps)
    errors.push(`${grid.holes}. Tick "Bridge gaps" to interpolate across them, or choose another series.`);
  const t = form.target;
  const values = t.kind === 'scale' ? t.factors : t.spacingMm;
  if (!values.every((v) => Number.isFinite(v) && v > 0)) {
    errors.push(
      t.kind === 'scale' ? 'Scale factors must be positive.' : 'Target spacing must be positive mm.',
    );
  }
  if (errors.length > 0) return { ok: false, errors };

  const sourceGrid = boxGrid({ dims: grid.dims, affine: grid.affine }, form.region);
  const target = engineTarget(t);
  let plan: PlannedTarget;
  try {
    plan = planSuperResolutionTarget(sourceGrid, target, manifest.grid.multipleOf, manifest.grid.min);
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const problem = modeGridProblem(manifest, form.settings.mode, plan);
  if (problem) {
    const g = manifest.grid;
    return {
      ok: false,
      errors: [
        form.settings.mode === 'diffusion'
          ? `The model grid would be ${formatDims(plan.padded.dims)} voxels (result ${formatDims(plan.output.dims)}, padded to multiples of ${g.multipleOf} and at least ${formatDims(g.min)}); this model supports ${formatDims(g.min)} to ${formatDims(g.max)}. Use “Fit region”, a smaller region or a coarser target.`
          : `The result would be ${formatDims(plan.output.dims)} voxels; the ${MODE_NAMES[form.settings.mode]} mode takes at most ${(PLANE_MODE_MAX_VOXELS / 1e6).toFixed(1)} million (e.g. 512 × 512 × 256) with planes of at most 512 × 1024, to stay within memory. Use “Fit region”, a smaller region or a coarser target.`,
      ],
    };
  }
  const warnings: string[] = [];
  const tm = manifest.grid.trainedMax;
  if (form.settings.mode === 'diffusion' && tm && plan.padded.dims.some((n, a) => n > tm[a])) {
    warnings.push(
      `The model was trained on grids up to ${formatDims(tm)}; ${formatDims(plan.padded.dims)} is beyond that (results may degrade).`,
    );
  }
  if (form.settings.samples === 1 && form.settings.mode !== 'classical') {
    warnings.push('With one sample the uncertainty (std) map is zero everywhere.');
  }
  if (form.settings.slices === 'none') {
    warnings.push(
      'No slice model: the result is not projected onto the acquired slices and need not reproduce them.',
    );
  }
  return {
    ok: true,
    sourceGrid,
    plan,
    spacingMm: targetSpacing(grid, t),
    engineTarget: { kind: 'grid', grid: plan.output },
    groupSpace: scanExtentGroupSpace(grid.dims, grid.affine),
    warnings,
  };
}

export interface SuperResolveEstimate {
  readonly time: TimeEstimate | null;
  /** Seconds per stage for the live ETA (null without a time). */
  readonly expected: ExpectedSeconds | null;
  /** 'measured': from a calibration on this machine; 'prior': from the model's recorded costs. */
  readonly timeBasis: TimeBasis | null;
  readonly memory: MemoryEstimate;
}

/** The projection work of a planned job (null: no slice model, or a grid it cannot project onto). */
function plannedProjectionWork(
  grid: SeriesGrid,
  plan: PlanOk,
  choice: SliceModelChoice,
): ProjectionWork | null {
  try {
    const slices = sliceModelFor(choice, grid.spacingMm[2], grid.header ?? {});
    return slices === 'none'
      ? null
      : seriesAcquisition(plan.sourceGrid, plan.plan.output, slices).projectionWork();
  } catch {
    return null;
  }
}

/**
 * Time from the calibration when there is one, else from `prior` (the model's
 * recorded costs, priorCosts.ts), else none. Latent diffusion: per model call;
 * the 'ai' and 'classical' modes: refiner passes, projection work and per-voxel
 * pipeline work (estimatePlaneModeTime). The slice model is chosen as the job will
 * choose it, from the grid's header (SliceThickness, ImageType); without one, a box as
 * wide as the spacing.
 */
export function estimateSuperResolution(
  grid: SeriesGrid,
  plan: PlanOk,
  settings: SuperResolveSettings,
  calibration: Calibration | null,
  tiling?: TilingPolicy | null,
  prior?: { readonly model: CostModel; readonly planes?: PlaneCosts } | null,
  projectionIterations = DEFAULT_PROJECTION_ITERATIONS,
  latentFactor: LatentFactor = LATENT_FACTOR,
): SuperResolveEstimate {
  const basis: TimeBasis | null = calibration ? 'measured' : prior ? 'prior' : null;
  let time: TimeEstimate | null = null;
  if (settings.mode === 'diffusion') {
    const costs = calibration ? costModel(calibration) : (prior?.model ?? null);
    if (costs) time = estimateTime(costs, plan.plan.padded.dims, superResolveCalls(settings));
  } else {
    const planes = calibration ? calibration.planes : prior?.planes;
    if (planes) {
      time = estimatePlaneModeTime(planes, {
        mode: settings.mode,
        outputVoxels: voxelCount(plan.plan.output.dims),
        samples: settings.samples,
        iterations: projectionIterations,
        projection: plannedProjectionWork(grid, plan, settings.slices),
      });
    }
  }
  const b = time?.byStage;
  return {
    time,
    expected: b
      ? settings.mode === 'diffusion'
        ? { encode: b.encode ?? 0, denoise: b.unet ?? 0, decode: b.decode ?? 0 }
        : { refine: b.refine ?? 0 }
      : null,
    timeBasis: time ? basis : null,
    memory:
      settings.mode === 'diffusion'
        ? estimateSuperResolveMemory({
            seriesDims: grid.dims,
            sourceDims: plan.sourceGrid.dims,
            paddedDims: plan.plan.padded.dims,
            outputDims: plan.plan.output.dims,
            batchSize: expectedBatchSize(plan.plan.padded.dims, settings.samples, tiling),
            tiling,
            latentFactor,
          })
        : estimatePlaneModeMemory({
            mode: settings.mode,
            seriesDims: grid.dims,
            sourceDims: plan.sourceGrid.dims,
            outputDims: plan.plan.output.dims,
          }),
  };
}

/** Short text for the DICOM SeriesDescription label, e.g. "x4 z" or "0.65x0.65x2.00mm". */
export function targetLabel(target: TargetChoice): string {
  if (target.kind === 'scale') {
    const f = target.factors;
    if (f[0] === 1 && f[1] === 1) return `x${f[2]} z`;
    if (f[0] === f[1] && f[1] === f[2]) return `x${f[0]}`;
    return `x${f.join('/')}`;
  }
  return `${target.spacingMm.map((s) => s.toFixed(2)).join('x')}mm`;
}
