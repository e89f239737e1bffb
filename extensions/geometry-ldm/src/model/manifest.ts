/**
 * The model manifest (model.json): loading, schema validation and typed access.
 *
 * The JSON schema (models/schema/model.schema.json) is the contract with the
 * training/export code (models/training/ldm/export.py); this module validates
 * a manifest against it (ajv), adds the checks a schema cannot express, and
 * hands out the parts the pipeline needs: group space, intensity mapping,
 * noise schedule, super-resolution defaults and the supported grid range.
 * File integrity (sha256 + byte size) is checked with WebCrypto.
 */
import { CodedError } from '../codedError';
import Ajv, { type ErrorObject } from 'ajv';
import schema from '../../../../models/schema/model.schema.json';
import type { Dims3, Vec3 } from '../geometry/conventions';
import type { LatentFactor } from '../geometry/coordinateChannels';

export type ManifestErrorCode =
  | 'invalid-json'
  | 'schema'
  | 'unsupported-version'
  | 'invalid-value'
  | 'io-mismatch'
  | 'unknown-file'
  | 'size-mismatch'
  | 'sha256-mismatch'
  | 'unsupported-grid';

export class ManifestError extends CodedError<ManifestErrorCode> {
  constructor(code: ManifestErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('ManifestError', code, message, details);
  }
}

export type CoreModelPart = 'encoder' | 'decoder' | 'unet';
export type ModelPart = CoreModelPart | 'refiner';
/** The parts every model has. */
export const MODEL_PARTS: readonly CoreModelPart[] = ['encoder', 'decoder', 'unet'];
/** The parts a model may have: the super-resolution refiner (files.refiner). */
export const OPTIONAL_MODEL_PARTS: readonly ModelPart[] = ['refiner'];

/** The file of a part (ManifestError 'unknown-file' when the model has none). */
export function modelFile(m: ModelManifest, part: ModelPart): ManifestFile {
  const f = (m.files as Partial<Record<ModelPart, ManifestFile>>)[part];
  if (!f) throw new ManifestError('unknown-file', `the manifest has no file for ${part}`);
  return f;
}

/** The parts this manifest has files for, required ones first. */
export function modelParts(m: ModelManifest): ModelPart[] {
  return [...MODEL_PARTS, ...OPTIONAL_MODEL_PARTS.filter((p) => m.files[p] !== undefined)];
}

export type SuperResolutionMode = 'ai' | 'classical' | 'diffusion';

export interface ManifestFile {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly weights: 'float32' | 'float16';
}

export interface TensorSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'float16' | 'int64';
  /** Integers are fixed sizes, strings symbolic ('B', 'D', 'D/8', ...). */
  readonly shape: readonly (number | string)[];
}

export interface IoSpec {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export interface ManifestIntensity {
  readonly huMin: number;
  readonly huMax: number;
  readonly modelMin: number;
  readonly modelMax: number;
  readonly clip: boolean;
  readonly outsideValueModel?: number;
}

export interface ManifestGroupSpace {
  readonly kind: 'scan-extent' | 'anatomical';
  /** mm of one group unit along x, y, z when no study defines the extent (generation). */
  readonly referenceExtentMm: Vec3;
  readonly label?: string;
  readonly axes: readonly {
    readonly axis: 'u' | 'v' | 'w';
    readonly patientAxis: '+x' | '+y' | '+z';
    readonly zero: string;
    readonly one: string;
  }[];
  readonly note?: string;
}

export interface ManifestScheduler {
  readonly type: 'ddpm';
  readonly numTrainTimesteps: number;
  readonly betaSchedule: 'scaled_linear' | 'linear';
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly varianceType: 'fixed_large' | 'fixed_small';
  readonly predictionType: 'epsilon';
}

export interface SuperResolutionDefaults {
  readonly tStart: number;
  readonly cycles: number;
  readonly ddimSteps: number;
  /** Diffusion samples. */
  readonly samples: number;
  readonly mode?: SuperResolutionMode;
  readonly refinerSamples?: number;
  readonly projectionIterations?: number;
}

export interface GridRange {
  /** [nx, ny, nz] */
  readonly min: Dims3;
  readonly max: Dims3;
  readonly multipleOf: 8;
  readonly trainedMin?: Dims3;
  readonly trainedMax?: Dims3;
}

export interface ModelManifest {
  readonly schemaVersion: 1;
  readonly name: string;
  readonly version: string;
  readonly licence: string;
  readonly intendedUse: 'research, not for diagnosis';
  readonly description?: string;
  readonly trainingData: {
    readonly summary: string;
    readonly scans?: readonly {
      readonly name: string;
      readonly source: string;
      readonly licence: string;
      readonly gridIJK?: Dims3;
      readonly spacingMm?: Vec3;
    }[];
    readonly heldOut: readonly string[];
  };
  readonly files: Readonly<Record<'encoder' | 'decoder' | 'unet', ManifestFile>> & {
    readonly refiner?: ManifestFile;
  };
  readonly onnx: { readonly opset: number } & Readonly<Record<'encoder' | 'decoder' | 'unet', IoSpec>> & {
      readonly refiner?: IoSpec;
    };
  readonly latent: {
    /** Image voxels per latent voxel along each axis (LatentFactor). */
    readonly factor: LatentFactor;
    readonly channels: number;
    readonly scale: number;
    readonly quantised: boolean;
    readonly codebookSize?: number;
    readonly note?: string;
  };
  readonly intensity: ManifestIntensity;
  readonly groupSpace: ManifestGroupSpace;
  readonly scheduler: ManifestScheduler;
  readonly generation: {
    readonly ddimSteps: number;
    /** DDIM's eta for generation (0 deterministic, 1 DDPM-like fresh noise per step); absent = 0. */
    readonly ddimEta?: number;
    readonly timestepSpacing?: 'leading' | 'trailing';
    /**
     * Classifier-free guidance scale s (inference/sampler.ts guidedEps); absent = 1: none. Only for a
     * UNet trained with the null condition (training config diffusion.cond_drop > 0).
     */
    readonly guidanceScale?: number;
  };
  readonly superResolution: SuperResolutionDefaults;
  readonly grid: GridRange;
  readonly golden?: {
    readonly path: string;
    readonly sha256: string;
    readonly bytes: number;
    readonly toleranceAbs: number;
  };
  readonly metrics?: Record<string, unknown>;
}

let validator: ReturnType<Ajv['compile']> | null = null;

function validateSchema(value: unknown): ErrorObject[] {
  if (!validator) validator = new Ajv({ allErrors: true, strict: true }).compile(schema);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/** The expected names/ranks of the ONNX inputs and outputs (the contract in the issue). */
const EXPECTED_IO: Readonly<Record<ModelPart, { inputs: [string, number][]; outputs: [string, number][] }>> =
  {
    encoder: {
      inputs: [
        ['image', 5],
        ['coords', 5],
      ],
      outputs: [['latent', 5]],
    },
    decoder: { inputs: [['latent', 5]], outputs: [['image', 5]] },
    unet: {
      inputs: [
        ['z_t', 5],
        ['t', 1],
        ['coords', 5],
      ],
      outputs: [['eps', 5]],
    },
    refiner: {
      inputs: [
        ['planes', 4],
        ['acquisition', 2],
      ],
      outputs: [['refined', 4]],
    },
  };

function semanticChecks(m: ModelManifest): void {
  const bad = (message: string, details: Record<string, unknown> = {}) => {
    throw new ManifestError('invalid-value', message, details);
  };
  const { intensity: i, scheduler: s, grid: g, superResolution: sr } = m;
  if (!(i.huMax > i.huMin)) bad(`intensity.huMax (${i.huMax}) must exceed huMin (${i.huMin})`);
  if (!(i.modelMax > i.modelMin))
    bad(`intensity.modelMax (${i.modelMax}) must exceed modelMin (${i.modelMin})`);
  if (!(s.betaEnd >= s.betaStart)) bad('scheduler.betaEnd must be >= betaStart');
  for (let a = 0; a < 3; a++) {
    if (g.min[a] % 8 !== 0 || g.max[a] % 8 !== 0)
      bad('grid.min and grid.max must be multiples of 8', { grid: g });
    if (g.min[a] > g.max[a]) bad('grid.min must not exceed grid.max', { grid: g });
  }
  if (sr.tStart >= s.numTrainTimesteps) bad(`superResolution.tStart must be < T (${s.numTrainTimesteps})`);
  if (sr.ddimSteps > sr.tStart) bad('superResolution.ddimSteps must be <= tStart');
  if (m.generation.ddimSteps > s.numTrainTimesteps) bad('generation.ddimSteps must be <= T');
  const axes = m.groupSpace.axes.map((a) => `${a.axis}${a.patientAxis}`).join(',');
  if (axes !== 'u+x,v+y,w+z') bad(`groupSpace.axes must be u:+x, v:+y, w:+z in that order, got ${axes}`);
  if (m.latent.channels !== 8) bad('latent.channels must be 8 (the ONNX contract)');
  if ((m.files.refiner === undefined) !== (m.onnx.refiner === undefined)) {
    bad('files.refiner and onnx.refiner come together (both or neither)');
  }
  if (sr.mode === 'ai' && m.files.refiner === undefined) {
    bad("superResolution.mode 'ai' needs a refiner (files.refiner)");
  }
  for (const part of modelParts(m)) {
    const io = m.onnx[part]!;
    const exp = EXPECTED_IO[part];
    for (const dir of ['inputs', 'outputs'] as const) {
      const got = io[dir].map((t) => [t.name, t.shape.length]);
      if (JSON.stringify(got) !== JSON.stringify(exp[dir])) {
        throw new ManifestError(
          'io-mismatch',
          `${part} ${dir} must be ${JSON.stringify(exp[dir])}, got ${JSON.stringify(got)}`,
          {
            part,
            dir,
          },
        );
      }
      for (const t of io[dir])
        if (t.dtype !== 'float32')
          throw new ManifestError('io-mismatch', `${part}.${t.name} must be float32`);
    }
  }
}

/** Validates a parsed manifest (schema + semantic checks) and returns it typed. */
export function parseManifest(value: unknown): ModelManifest {
  if (
    value &&
    typeof value === 'object' &&
    'schemaVersion' in value &&
    (value as { schemaVersion: unknown }).schemaVersion !== 1
  ) {
    throw new ManifestError(
      'unsupported-version',
      `unsupported manifest schemaVersion ${String((value as { schemaVersion: unknown }).schemaVersion)}`,
    );
  }
  const errors = validateSchema(value);
  if (errors.length > 0) {
    const text = errors.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()).join('; ');
    throw new ManifestError('schema', `model.json does not match the schema: ${text}`, { errors });
  }
  const m = value as ModelManifest;
  semanticChecks(m);
  return m;
}

/** Parses and validates model.json text. */
export function parseManifestText(text: string): ModelManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ManifestError('invalid-json', `model.json is not JSON: ${(e as Error).message}`);
  }
  return parseManifest(value);
}

/** Fetches and validates a manifest; file URLs resolve relative to it (see fileUrl). */
export async function loadManifest(url: string, fetchFn: typeof fetch = fetch): Promise<ModelManifest> {
  const res = await fetchFn(url);
  if (!res.ok) throw new ManifestError('invalid-json', `could not load ${url}: HTTP ${res.status}`);
  return parseManifestText(await res.text());
}

/** URL of a model file, relative to the manifest's URL. */
export function fileUrl(manifestUrl: string, m: ModelManifest, part: ModelPart): string {
  return new URL(modelFile(m, part).path, new URL(manifestUrl, 'http://localhost/')).href.replace(
    /^http:\/\/localhost/,
    '',
  );
}

export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Checks byte size and sha256 of a model file against the manifest; throws ManifestError. */
export async function verifyModelFile(
  m: ModelManifest,
  part: ModelPart,
  bytes: Uint8Array | ArrayBuffer,
): Promise<void> {
  const f = modelFile(m, part);
  const size = bytes.byteLength;
  if (size !== f.bytes) {
    throw new ManifestError('size-mismatch', `${f.path}: ${size} bytes, manifest says ${f.bytes}`, {
      part,
      size,
      expected: f.bytes,
    });
  }
  const hash = await sha256Hex(bytes);
  if (hash !== f.sha256) {
    throw new ManifestError('sha256-mismatch', `${f.path}: sha256 ${hash}, manifest says ${f.sha256}`, {
      part,
      hash,
      expected: f.sha256,
    });
  }
}

// ---------------------------------------------------------------- accessors

/** Intensity parameters, in the shape of volume/intensity.ts IntensityParams. */
export function intensityParams(m: ModelManifest): {
  huMin: number;
  huMax: number;
  modelMin: number;
  modelMax: number;
  clip: boolean;
} {
  const { huMin, huMax, modelMin, modelMax, clip } = m.intensity;
  return { huMin, huMax, modelMin, modelMax, clip };
}

/** Noise schedule facts, in the shape of diffusion/schedule.ts ScheduleConfig (+ variance type). */
export function scheduleConfig(m: ModelManifest): {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  varianceType: 'fixed_large' | 'fixed_small';
} {
  const { numTrainTimesteps, betaStart, betaEnd, betaSchedule, varianceType } = m.scheduler;
  return { numTrainTimesteps, betaStart, betaEnd, betaSchedule, varianceType };
}

export function superResolutionDefaults(m: ModelManifest): Required<SuperResolutionDefaults> {
  const sr = m.superResolution;
  return {
    ...sr,
    mode: sr.mode ?? (m.files.refiner ? 'ai' : 'diffusion'),
    refinerSamples: sr.refinerSamples ?? 2,
    projectionIterations: sr.projectionIterations ?? 10,
  };
}

export function groupSpaceDefinition(m: ModelManifest): ManifestGroupSpace {
  return m.groupSpace;
}

/** Throws ManifestError('unsupported-grid') unless dims [nx, ny, nz] lie in the manifest's grid range. */
export function checkGrid(m: ModelManifest, dims: Dims3): void {
  const g = m.grid;
  for (let a = 0; a < 3; a++) {
    const n = dims[a];
    if (!Number.isInteger(n) || n % g.multipleOf !== 0 || n < g.min[a] || n > g.max[a]) {
      throw new ManifestError(
        'unsupported-grid',
        `grid [${dims.join(', ')}] is outside the model's range: axis ${'ijk'[a]} needs a multiple of ${g.multipleOf} in [${g.min[a]}, ${g.max[a]}]`,
        { dims, grid: g },
      );
    }
  }
}

export function isSupportedGrid(m: ModelManifest, dims: Dims3): boolean {
  try {
    checkGrid(m, dims);
    return true;
  } catch {
    return false;
  }
}
