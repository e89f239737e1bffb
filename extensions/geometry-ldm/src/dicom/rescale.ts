/**
 * Float values -> signed 16-bit stored values with RescaleSlope/Intercept
 * chosen so that every value fits without clipping, and DS-formatted
 * (at most 16 characters) so the header says exactly what was used.
 */
import { DicomError } from './errors';

/** Shortest decimal string of at most 16 characters for x (a valid DS). */
export function formatDS(x: number): string {
  if (!Number.isFinite(x)) throw new DicomError('invalid-input', `DS value must be finite, got ${x}`);
  if (Object.is(x, -0) || x === 0) return '0';
  const plain = String(x);
  if (plain.length <= 16 && !/e/i.test(plain)) return plain;
  for (let p = 16; p >= 1; p--) {
    for (const s of [x.toPrecision(p), x.toExponential(Math.max(0, p - 1))]) {
      const t = s.includes('e')
        ? s.replace(/\.?0+e/, 'e').replace('e+', 'e')
        : s.includes('.')
          ? s.replace(/\.?0+$/, '')
          : s;
      if (t.length <= 16) return t;
    }
  }
  throw new DicomError('invalid-input', `cannot format ${x} as DS`);
}

/** Smallest DS-representable value >= x (x > 0). */
function formatDSAtLeast(x: number): string {
  let s = formatDS(x);
  let bump = x;
  while (Number(s) < x) {
    bump = bump * (1 + 1e-12) + Number.MIN_VALUE;
    s = formatDS(bump + Math.abs(x) * 1e-13);
  }
  return s;
}

export interface Rescale {
  readonly slope: number;
  readonly intercept: number;
  /** As written into RescaleSlope / RescaleIntercept. */
  readonly slopeDS: string;
  readonly interceptDS: string;
  readonly minStored: number;
  readonly maxStored: number;
}

export type RescaleMode =
  /** Slope 1 and integer values when the rounded range fits int16 (CT HU), else 'full-range'. */
  | 'integer'
  /** Spread [min, max] over -32767..32767 (fine values such as a std map). */
  | 'full-range';

export function chooseRescale(data: Float32Array, mode: RescaleMode = 'integer'): Rescale {
  let min = Infinity;
  let max = -Infinity;
  for (let n = 0; n < data.length; n++) {
    const v = data[n];
    if (!Number.isFinite(v))
      throw new DicomError('invalid-input', `value ${v} at voxel ${n} cannot be stored`, { voxel: n });
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (data.length === 0) throw new DicomError('invalid-input', 'no values to store');
  if (mode === 'integer' && Math.round(min) >= -32768 && Math.round(max) <= 32767) {
    return {
      slope: 1,
      intercept: 0,
      slopeDS: '1',
      interceptDS: '0',
      minStored: Math.round(min),
      maxStored: Math.round(max),
    };
  }
  if (max === min) {
    const interceptDS = formatDS(min);
    return {
      slope: 1,
      intercept: Number(interceptDS),
      slopeDS: '1',
      interceptDS,
      minStored: Math.round(min - Number(interceptDS)),
      maxStored: Math.round(min - Number(interceptDS)),
    };
  }
  const interceptDS = formatDS((min + max) / 2);
  const intercept = Number(interceptDS);
  const halfRange = Math.max(max - intercept, intercept - min);
  // 32766.5 leaves room for rounding to the nearest stored value.
  const slopeDS = formatDSAtLeast(halfRange / 32766.5);
  const slope = Number(slopeDS);
  return {
    slope,
    intercept,
    slopeDS,
    interceptDS,
    minStored: Math.round((min - intercept) / slope),
    maxStored: Math.round((max - intercept) / slope),
  };
}

/** Stored int16 values of `data` under `r` (throws if any would clip: that would be a bug in chooseRescale). */
export function quantize(data: Float32Array, r: Rescale, out = new Int16Array(data.length)): Int16Array {
  for (let n = 0; n < data.length; n++) {
    const s = Math.round((data[n] - r.intercept) / r.slope);
    if (s < -32768 || s > 32767)
      throw new DicomError('invalid-input', `value ${data[n]} does not fit the chosen rescale`);
    out[n] = s;
  }
  return out;
}
