/**
 * Hounsfield units <-> the model's intensity scale, from the manifest's
 * parameters:
 *
 *   model = (clip(HU, huMin, huMax) - huMin) / (huMax - huMin) * (modelMax - modelMin) + modelMin
 *
 * (`clip` only when params.clip is true). The inverse never clips:
 *
 *   HU = (model - modelMin) / (modelMax - modelMin) * (huMax - huMin) + huMin
 *
 * Arithmetic is float64 per voxel, stored as float32. NaN stays NaN.
 */
import { CodedError } from '../codedError';
import { VolumeError, type IntensityUnit, type Volume } from './volume';

export interface IntensityParams {
  readonly huMin: number;
  readonly huMax: number;
  readonly modelMin: number;
  readonly modelMax: number;
  /** Clip HU to [huMin, huMax] before mapping (HU -> model only). */
  readonly clip: boolean;
}

export type IntensityErrorCode = 'invalid-params' | 'unit-mismatch';

export class IntensityError extends CodedError<IntensityErrorCode> {
  constructor(code: IntensityErrorCode, message: string) {
    super('IntensityError', code, message);
  }
}

/** Throws IntensityError('invalid-params') unless all bounds are finite, huMin < huMax, modelMin < modelMax and clip is a boolean. */
export function validateIntensityParams(params: IntensityParams): void {
  if (params === null || typeof params !== 'object') {
    throw new IntensityError('invalid-params', 'intensity parameters must be an object');
  }
  for (const key of ['huMin', 'huMax', 'modelMin', 'modelMax'] as const) {
    const v = params[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new IntensityError(
        'invalid-params',
        `intensity parameter ${key} must be a finite number, got ${String(v)}`,
      );
    }
  }
  if (!(params.huMax > params.huMin)) {
    throw new IntensityError(
      'invalid-params',
      `huMax (${params.huMax}) must be greater than huMin (${params.huMin})`,
    );
  }
  if (!(params.modelMax > params.modelMin)) {
    throw new IntensityError(
      'invalid-params',
      `modelMax (${params.modelMax}) must be greater than modelMin (${params.modelMin})`,
    );
  }
  if (typeof params.clip !== 'boolean') {
    throw new IntensityError(
      'invalid-params',
      `intensity parameter clip must be a boolean, got ${String(params.clip)}`,
    );
  }
}

/** One value, HU -> model. */
export function huToModelValue(hu: number, params: IntensityParams): number {
  validateIntensityParams(params);
  return forward(hu, params);
}

/** One value, model -> HU (no clipping). */
export function modelToHuValue(model: number, params: IntensityParams): number {
  validateIntensityParams(params);
  return inverse(model, params);
}

/**
 * A new volume in model units from one in HU (throws 'unit-mismatch' for any other unit).
 * `into` (same length; may be `volume.data` itself) receives the values instead of a new array.
 */
export function huToModel(volume: Volume, params: IntensityParams, into?: Float32Array): Volume {
  validateIntensityParams(params);
  requireUnit(volume, 'HU');
  const src = volume.data;
  if (into !== undefined && into.length !== src.length) {
    throw new VolumeError('shape-mismatch', `output array has ${into.length} values, need ${src.length}`);
  }
  return withData(volume, huToModelValues(src, into ?? new Float32Array(src.length), params), 'model');
}

/**
 * HU -> model units over plain arrays (`out` may be `src`): for callers that map parts of a
 * volume as they read them (the tiled encoder maps each tile's image box).
 */
export function huToModelValues(src: Float32Array, out: Float32Array, params: IntensityParams): Float32Array {
  validateIntensityParams(params);
  if (out.length !== src.length) {
    throw new VolumeError('shape-mismatch', `output array has ${out.length} values, need ${src.length}`);
  }
  const { huMin, huMax, modelMin, clip } = params;
  const scale = (params.modelMax - modelMin) / (huMax - huMin);
  for (let n = 0; n < src.length; n++) {
    let v = src[n];
    if (clip) v = v < huMin ? huMin : v > huMax ? huMax : v;
    out[n] = (v - huMin) * scale + modelMin;
  }
  return out;
}

/**
 * A new volume in HU from one in model units (throws 'unit-mismatch' for any other unit). No clipping.
 * `into` (same length; may be `volume.data` itself) receives the values instead of a new array:
 * the pipelines convert each decoded sample in place.
 */
export function modelToHu(volume: Volume, params: IntensityParams, into?: Float32Array): Volume {
  validateIntensityParams(params);
  requireUnit(volume, 'model');
  const src = volume.data;
  if (into !== undefined && into.length !== src.length) {
    throw new VolumeError('shape-mismatch', `output array has ${into.length} values, need ${src.length}`);
  }
  const out = into ?? new Float32Array(src.length);
  const { huMin, modelMin } = params;
  const scale = (params.huMax - huMin) / (params.modelMax - modelMin);
  for (let n = 0; n < src.length; n++) out[n] = (src[n] - modelMin) * scale + huMin;
  return withData(volume, out, 'HU');
}

/**
 * A standard deviation in model units -> HU ('HU-std'): only the scale
 * applies, no offset. Takes a volume whose unit is 'model' (a std map
 * computed in model space).
 */
export function modelStdToHuStd(volume: Volume, params: IntensityParams): Volume {
  validateIntensityParams(params);
  requireUnit(volume, 'model');
  const src = volume.data;
  const out = new Float32Array(src.length);
  const scale = (params.huMax - params.huMin) / (params.modelMax - params.modelMin);
  for (let n = 0; n < src.length; n++) out[n] = src[n] * scale;
  return withData(volume, out, 'HU-std');
}

function forward(hu: number, p: IntensityParams): number {
  const v = p.clip ? Math.min(Math.max(hu, p.huMin), p.huMax) : hu;
  return ((v - p.huMin) / (p.huMax - p.huMin)) * (p.modelMax - p.modelMin) + p.modelMin;
}

function inverse(model: number, p: IntensityParams): number {
  return ((model - p.modelMin) / (p.modelMax - p.modelMin)) * (p.huMax - p.huMin) + p.huMin;
}

function requireUnit(volume: Volume, unit: IntensityUnit): void {
  if (volume.unit !== unit) {
    throw new IntensityError(
      'unit-mismatch',
      `expected a volume in ${unit}, got one in ${String(volume.unit)}`,
    );
  }
}

function withData(volume: Volume, data: Float32Array, unit: IntensityUnit): Volume {
  if (data.length !== volume.dims[0] * volume.dims[1] * volume.dims[2]) {
    throw new VolumeError(
      'shape-mismatch',
      `volume data has ${data.length} values for grid [${volume.dims.join(', ')}]`,
    );
  }
  return {
    dims: [volume.dims[0], volume.dims[1], volume.dims[2]],
    affine: volume.affine.slice(),
    data,
    unit,
  };
}
