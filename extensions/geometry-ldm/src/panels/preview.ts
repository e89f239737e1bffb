/**
 * Slices of a volume as RGBA pixels for the panels' previews (pure; the
 * components put them on a canvas). Index-space views: axial = a k plane
 * (i to the right, j down), coronal = a j plane and sagittal = an i plane
 * (k up, head at the top for a standard axial series).
 */
import type { Vec3 } from '../geometry/conventions';
import { spacingOf } from '../geometry/dicomGeometry';
import type { Volume } from '../volume/volume';
import type { ModelManifest } from '../model/manifest';
import { modelToHuValue } from '../volume/intensity';

export type ViewAxis = 'axial' | 'coronal' | 'sagittal';

export interface Slice {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  /** Physical size of one pixel (mm) along x and y of the slice, for the aspect ratio. */
  readonly pixelMm: readonly [number, number];
}

export interface Window {
  readonly center: number;
  readonly width: number;
}

/** Soft-tissue window (HU). */
export const SOFT_TISSUE: Window = { center: 40, width: 400 };

export function sliceCount(dims: Vec3 | readonly number[], axis: ViewAxis): number {
  return axis === 'axial' ? dims[2] : axis === 'coronal' ? dims[1] : dims[0];
}

export function extractSlice(volume: Volume, axis: ViewAxis, index: number): Slice {
  const [nx, ny, nz] = volume.dims;
  const n = sliceCount(volume.dims, axis);
  const s = Math.min(n - 1, Math.max(0, Math.round(index)));
  const sp = spacingOf(volume.affine);
  const v = volume.data;
  if (axis === 'axial') {
    return {
      width: nx,
      height: ny,
      data: v.slice(s * nx * ny, (s + 1) * nx * ny),
      pixelMm: [sp[0], sp[1]],
    };
  }
  if (axis === 'coronal') {
    const out = new Float32Array(nx * nz);
    for (let k = 0; k < nz; k++) {
      const row = nz - 1 - k;
      const from = (k * ny + s) * nx;
      out.set(v.subarray(from, from + nx), row * nx);
    }
    return { width: nx, height: nz, data: out, pixelMm: [sp[0], sp[2]] };
  }
  const out = new Float32Array(ny * nz);
  for (let k = 0; k < nz; k++) {
    const row = nz - 1 - k;
    for (let j = 0; j < ny; j++) out[row * ny + j] = v[(k * ny + j) * nx + s];
  }
  return { width: ny, height: nz, data: out, pixelMm: [sp[1], sp[2]] };
}

/** A colour map: value in [0, 1] -> [r, g, b]. */
export type ColourMap = (t: number) => readonly [number, number, number];

export const GREY: ColourMap = (t) => {
  const g = Math.round(255 * t);
  return [g, g, g];
};

/** Black -> red -> yellow -> white, for uncertainty. */
export const HOT: ColourMap = (t) => [
  Math.round(255 * Math.min(1, 3 * t)),
  Math.round(255 * Math.min(1, Math.max(0, 3 * t - 1))),
  Math.round(255 * Math.min(1, Math.max(0, 3 * t - 2))),
];

/** Windowed RGBA bytes (row-major, opaque). NaN shows as black. */
export function toRgba(data: Float32Array, window: Window, colour: ColourMap = GREY): Uint8ClampedArray {
  const out = new Uint8ClampedArray(data.length * 4);
  const lo = window.center - window.width / 2;
  const w = window.width > 0 ? window.width : 1;
  for (let p = 0; p < data.length; p++) {
    const x = data[p];
    const t = Number.isFinite(x) ? Math.min(1, Math.max(0, (x - lo) / w)) : 0;
    const [r, g, b] = colour(t);
    out[4 * p] = r;
    out[4 * p + 1] = g;
    out[4 * p + 2] = b;
    out[4 * p + 3] = 255;
  }
  return out;
}

/** A window covering [0, p-th percentile] of the values (for std maps); width at least `minWidth`. */
export function percentileWindow(data: Float32Array, p = 0.99, minWidth = 1): Window {
  const finite: number[] = [];
  const stride = Math.max(1, Math.floor(data.length / 200000));
  for (let q = 0; q < data.length; q += stride) if (Number.isFinite(data[q])) finite.push(data[q]);
  if (finite.length === 0) return { center: minWidth / 2, width: minWidth };
  finite.sort((a, b) => a - b);
  const hi = Math.max(minWidth, finite[Math.min(finite.length - 1, Math.floor(p * (finite.length - 1)))]);
  return { center: hi / 2, width: hi };
}

/** Progress previews are in the model's intensity: map to HU, then a soft-tissue window. */
export function previewToRgba(manifest: ModelManifest | null): (data: Float32Array) => Uint8ClampedArray {
  return (data) => {
    if (!manifest) return toRgba(data, { center: 0.5, width: 1 });
    const p = manifest.intensity;
    const hu = new Float32Array(data.length);
    for (let q = 0; q < data.length; q++) hu[q] = modelToHuValue(data[q], p);
    return toRgba(hu, SOFT_TISSUE);
  };
}
