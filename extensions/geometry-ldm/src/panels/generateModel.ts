/**
 * The generation panel's logic, free of UI and I/O: presets (the paper's
 * geometries), the form -> GenerateSpec with the resolved geometry (grid,
 * spacing, FOV, rotation) and its checks against the manifest, and the
 * estimates.
 *
 * Geometry is given either as grid + FOV per axis (group units, voxel
 * centres; spacing follows) or as grid + spacing in mm (FOV follows, centred
 * on a group point), plus a rotation; see geometry/generationGeometry.ts and
 * docs/conventions.md.
 */
import type { Dims3, Vec3 } from '../geometry/conventions';
import { LATENT_FACTOR, type LatentFactor } from '../geometry/coordinateChannels';
import {
  fovOf,
  resolveGeometry,
  type FovRanges,
  type GenerationGeometrySpec,
  type ResolvedGeometry,
} from '../geometry/generationGeometry';
import { generationGroupSpace, type GenerateSpec } from '../inference/generate';
import type { ExpectedSeconds } from '../inference/progress';
import { generationGuidance, generationSampler, type SamplerSpec } from '../inference/sampler';
import type { TilingPolicy } from '../inference/tiling';
import { checkGrid, type ModelManifest } from '../model/manifest';
import {
  costModel,
  estimateGenerateMemory,
  expectedBatchSize,
  estimateTime,
  generateCalls,
  generationPreviewEvery,
  type Calibration,
  type CostModel,
  type MemoryEstimate,
  type TimeBasis,
  type TimeEstimate,
} from '../planning/estimate';
import { formatDims } from '../planning/format';

export type GeometryMode = 'fov' | 'spacing';
export type SamplerKind = 'ddim' | 'ddpm';

export interface GenerateForm {
  readonly mode: GeometryMode;
  readonly dims: Dims3;
  /** 'fov' mode: [lo, hi] per axis (u, v, w), group units. */
  readonly fov: FovRanges;
  /** 'spacing' mode: mm per axis, and the FOV centre in group units. */
  readonly spacingMm: Vec3;
  readonly fovCentre: Vec3;
  readonly rotationDeg: Vec3;
  readonly seed: number;
  readonly sampler: SamplerKind;
  readonly steps: number;
  readonly samples: number;
}

export interface GeneratePreset {
  readonly id: string;
  readonly label: string;
  /** Only the geometry fields; the sampler settings are kept. */
  readonly apply: (manifest: ModelManifest) => Pick<GenerateForm, 'mode' | 'dims' | 'fov' | 'rotationDeg'>;
}

const FULL: FovRanges = [
  [0, 1],
  [0, 1],
  [0, 1],
];

/**
 * The paper's evaluation geometries (docs/method.md section 5): three resolutions
 * of the full range, two partial-body FOVs and a rotated view, plus the
 * model's own largest trained grid.
 */
export const GENERATE_PRESETS: readonly GeneratePreset[] = [
  {
    id: 'trained',
    label: "Model's trained size, full range",
    apply: (m) => ({
      mode: 'fov',
      dims: (m.grid.trainedMax ?? m.grid.min) as Dims3,
      fov: FULL,
      rotationDeg: [0, 0, 0],
    }),
  },
  {
    id: 'paper-96',
    label: 'Paper 96 × 96 × 104, full range',
    apply: () => ({ mode: 'fov', dims: [96, 96, 104], fov: FULL, rotationDeg: [0, 0, 0] }),
  },
  {
    id: 'paper-192',
    label: 'Paper 192 × 192 × 208, full range',
    apply: () => ({ mode: 'fov', dims: [192, 192, 208], fov: FULL, rotationDeg: [0, 0, 0] }),
  },
  {
    id: 'paper-272',
    label: 'Paper 272 × 272 × 288, full range',
    apply: () => ({ mode: 'fov', dims: [272, 272, 288], fov: FULL, rotationDeg: [0, 0, 0] }),
  },
  {
    id: 'upper-half',
    label: 'Partial FOV: upper half (w 0.5–1)',
    apply: () => ({
      mode: 'fov',
      dims: [96, 96, 56],
      fov: [
        [0, 1],
        [0, 1],
        [0.5, 1],
      ],
      rotationDeg: [0, 0, 0],
    }),
  },
  {
    id: 'lower-half',
    label: 'Partial FOV: lower half (w 0–0.5)',
    apply: () => ({
      mode: 'fov',
      dims: [96, 96, 56],
      fov: [
        [0, 1],
        [0, 1],
        [0, 0.5],
      ],
      rotationDeg: [0, 0, 0],
    }),
  },
  {
    id: 'rotated',
    label: 'Rotated view: 15° about z',
    apply: () => ({ mode: 'fov', dims: [96, 96, 104], fov: FULL, rotationDeg: [0, 0, 15] }),
  },
];

/** Why a preset does not fit this model (null when it does). */
export function presetProblem(preset: GeneratePreset, manifest: ModelManifest): string | null {
  const { dims } = preset.apply(manifest);
  try {
    checkGrid(manifest, dims);
    return null;
  } catch {
    return `outside this model's grid range (${formatDims(manifest.grid.min)} to ${formatDims(manifest.grid.max)})`;
  }
}

export function defaultGenerateForm(manifest: ModelManifest): GenerateForm {
  const first = GENERATE_PRESETS[0].apply(manifest);
  return {
    ...first,
    spacingMm: resolvedSpacing(manifest, first.dims, first.fov),
    fovCentre: [0.5, 0.5, 0.5],
    seed: 0,
    sampler: 'ddim',
    steps: manifest.generation.ddimSteps,
    samples: 1,
  };
}

function resolvedSpacing(manifest: ModelManifest, dims: Dims3, fov: FovRanges): Vec3 {
  return resolveGeometry({ kind: 'fov', dims, fov }, generationGroupSpace(manifest)).spacingMm;
}

/** The form's sampler; DDIM with the model's eta (recorded with the result). */
export function samplerSpec(
  form: Pick<GenerateForm, 'sampler' | 'steps'>,
  manifest: ModelManifest,
): SamplerSpec {
  return generationSampler(
    manifest,
    form.sampler === 'ddim' ? { kind: 'ddim', steps: form.steps } : { kind: 'ddpm', steps: form.steps },
  );
}

export function geometrySpec(form: GenerateForm): GenerationGeometrySpec {
  return form.mode === 'fov'
    ? { kind: 'fov', dims: form.dims, fov: form.fov, rotationDeg: form.rotationDeg }
    : {
        kind: 'spacing',
        dims: form.dims,
        spacingMm: form.spacingMm,
        fovCentre: form.fovCentre,
        rotationDeg: form.rotationDeg,
      };
}

export interface GeneratePlanOk {
  readonly ok: true;
  readonly spec: GenerateSpec;
  readonly geometry: ResolvedGeometry;
  /** FOV actually covered by the voxel centres (group units), whatever the mode. */
  readonly fov: FovRanges;
  readonly warnings: readonly string[];
}

export type GeneratePlan = GeneratePlanOk | { readonly ok: false; readonly errors: readonly string[] };

function isPositiveInteger(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

export function planGenerate(form: GenerateForm, manifest: ModelManifest): GeneratePlan {
  const errors: string[] = [];
  const T = manifest.scheduler.numTrainTimesteps;
  if (!form.dims.every(isPositiveInteger)) errors.push('The grid size must be whole numbers.');
  if (!isPositiveInteger(form.steps) || form.steps > T)
    errors.push(`Steps must be a whole number from 1 to ${T}.`);
  if (!isPositiveInteger(form.samples)) errors.push('Samples must be a whole number of at least 1.');
  if (!Number.isInteger(form.seed) || form.seed < 0)
    errors.push('Seed must be a whole number of at least 0.');
  if (!form.rotationDeg.every(Number.isFinite)) errors.push('Rotation angles must be numbers.');
  if (form.mode === 'fov') {
    form.fov.forEach((r, a) => {
      if (!r.every(Number.isFinite) || !(r[1] > r[0]))
        errors.push(`FOV ${'uvw'[a]}: the upper end must be above the lower end.`);
    });
  } else {
    if (!form.spacingMm.every((s) => Number.isFinite(s) && s > 0))
      errors.push('Spacing must be positive mm.');
    if (!form.fovCentre.every(Number.isFinite)) errors.push('The FOV centre must be numbers.');
  }
  if (errors.length === 0) {
    try {
      checkGrid(manifest, form.dims);
    } catch {
      const g = manifest.grid;
      errors.push(
        `The grid ${formatDims(form.dims)} is outside this model's range: each axis must be a multiple of ${g.multipleOf} from ${formatDims(g.min)} to ${formatDims(g.max)}.`,
      );
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const group = generationGroupSpace(manifest);
  let geometry: ResolvedGeometry;
  try {
    geometry = resolveGeometry(geometrySpec(form), group);
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const fov = fovOf(geometry);
  const warnings: string[] = [];
  const outside = fov.some((r) => r[0] < -1e-6 || r[1] > 1 + 1e-6);
  if (outside) {
    warnings.push(
      'Part of the field of view lies outside the model’s body range [0, 1]: that part is extrapolation.',
    );
  }
  const tm = manifest.grid.trainedMax;
  if (tm && form.dims.some((n, a) => n > tm[a])) {
    warnings.push(
      `The model was trained on grids up to ${formatDims(tm)}; ${formatDims(form.dims)} is beyond that (results may degrade).`,
    );
  }
  return {
    ok: true,
    spec: {
      geometry: geometrySpec(form),
      seed: form.seed,
      sampler: samplerSpec(form, manifest),
      samples: form.samples,
    },
    geometry,
    fov,
    warnings,
  };
}

export interface GenerateEstimate {
  readonly time: TimeEstimate | null;
  /** 'measured': from a calibration on this machine; 'prior': from the model's recorded costs. */
  readonly timeBasis: TimeBasis | null;
  /** Seconds per stage for the live ETA (null without a time). */
  readonly expected: ExpectedSeconds | null;
  readonly memory: MemoryEstimate;
}

/** What of the model a generation estimate depends on (generationTraits). */
export interface GenerationTraits {
  readonly latentFactor: LatentFactor;
  /** Classifier-free guidance: two UNet calls per step. */
  readonly guided: boolean;
}

export function generationTraits(manifest: ModelManifest): GenerationTraits {
  return {
    latentFactor: manifest.latent.factor,
    guided: generationGuidance(manifest) !== 1,
  };
}

/** Time from the calibration when there is one, else from `prior` (priorCosts.ts), else none. */
export function estimateGenerate(
  form: GenerateForm,
  calibration: Calibration | null,
  tiling?: TilingPolicy | null,
  prior?: CostModel | null,
  traits: GenerationTraits = { latentFactor: LATENT_FACTOR, guided: false },
): GenerateEstimate {
  const { latentFactor } = traits;
  const costs = calibration ? costModel(calibration) : (prior ?? null);
  const batchSize = expectedBatchSize(form.dims, form.samples, tiling);
  const calls = generateCalls({
    samples: form.samples,
    steps: form.steps,
    previewEvery: generationPreviewEvery(form.steps),
    batchSize,
    guided: traits.guided,
  });
  const time = costs ? estimateTime(costs, form.dims, calls) : null;
  // the decoder calls beyond one per sample are the previews made while sampling
  const perDecode = time && calls.decode > 0 ? (time.byStage.decode ?? 0) / calls.decode : 0;
  return {
    time,
    expected: time
      ? {
          denoise: time.byStage.unet ?? 0,
          decode: form.samples * perDecode,
          preview: (calls.decode - form.samples) * perDecode,
        }
      : null,
    timeBasis: calibration ? 'measured' : prior ? 'prior' : null,
    memory: estimateGenerateMemory({
      dims: form.dims,
      samples: form.samples,
      batchSize,
      tiling,
      latentFactor,
    }),
  };
}

/** Axis descriptions for the body-range picker, from the manifest's group space. */
export function axisLabels(manifest: ModelManifest): readonly { axis: string; zero: string; one: string }[] {
  return manifest.groupSpace.axes.map((a) => ({ axis: a.axis, zero: a.zero, one: a.one }));
}
