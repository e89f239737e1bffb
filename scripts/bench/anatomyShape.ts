/**
 * Shape measures for generated chest CT (the generation-quality bench): do the lungs and the
 * skeleton hold together? The HU-histogram distance cannot tell two lungs from the same air
 * scattered in patches, nor a spine from the same bone scattered in specks; these can.
 *
 * Lung = air (< airHu) enclosed by the body in its axial plane: per slice k, air that a 4-connected
 * flood from the slice's border cannot reach. Air open to the border is outside the body (in the
 * plane, so a crop that cuts through the lungs along k still counts them). The lung voxels are then
 * split into 3D 6-connected components.
 *
 * - lungFraction: lung voxels / all voxels of the grid.
 * - fragmentation: the share of lung voxels outside the two largest components (real lungs: near 0,
 *   two lungs or one joined through the airways; lungs broken into patches: large); 0 without lungs,
 *   so read it beside lungFraction.
 * - meanHu, outsideMeanHu: how dark the lungs and the air around the body are (a sample whose lungs
 *   are as large as the real ones can still be 100 HU too bright inside).
 *
 * Bone (boneShape): voxels at or above boneHu (bone, and contrast-filled vessels), split into 3D
 * 6-connected components; largestShare = the share of them in the largest component (a spine with
 * the ribs and sternum it touches: large; specks: small; 0 without bone).
 *
 * Index order and memory layout: geometry/conventions.ts (offset = (k * ny + j) * nx + i).
 */
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';

export interface LungShape {
  readonly lungFraction: number;
  readonly fragmentation: number;
  /** Number of 6-connected lung components. */
  readonly components: number;
  /** Mean HU of the lung voxels (NaN without lungs): real lung parenchyma at a few mm is near -850. */
  readonly meanHu: number;
  /** Mean HU of the air open to the plane's border (the air around the body; NaN without any). */
  readonly outsideMeanHu: number;
}

/** 1 where a voxel is air enclosed in its axial plane (k fixed), else 0. */
export function enclosedAirMask(data: Float32Array, dims: Dims3, airHu = -400): Uint8Array {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz)
    throw new Error(`lungShape: ${data.length} values for grid ${dims.join('x')}`);
  const mask = new Uint8Array(data.length);
  const outside = new Uint8Array(nx * ny);
  const stack: number[] = [];
  for (let k = 0; k < nz; k++) {
    const base = k * nx * ny;
    outside.fill(0);
    const seed = (i: number, j: number) => {
      const p = j * nx + i;
      if (!outside[p] && data[base + p] < airHu) {
        outside[p] = 1;
        stack.push(p);
      }
    };
    for (let i = 0; i < nx; i++) {
      seed(i, 0);
      seed(i, ny - 1);
    }
    for (let j = 0; j < ny; j++) {
      seed(0, j);
      seed(nx - 1, j);
    }
    while (stack.length > 0) {
      const p = stack.pop()!;
      const i = p % nx;
      const j = (p - i) / nx;
      if (i > 0) seed(i - 1, j);
      if (i < nx - 1) seed(i + 1, j);
      if (j > 0) seed(i, j - 1);
      if (j < ny - 1) seed(i, j + 1);
    }
    for (let p = 0; p < nx * ny; p++) {
      if (data[base + p] < airHu && !outside[p]) mask[base + p] = 1;
    }
  }
  return mask;
}

/** Sizes (voxels) of the 6-connected components of a 0/1 mask, largest first. */
export function componentSizes(mask: Uint8Array, dims: Dims3): number[] {
  const [nx, ny, nz] = dims;
  const seen = new Uint8Array(mask.length);
  const sizes: number[] = [];
  const stack: number[] = [];
  const plane = nx * ny;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    let size = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      size++;
      const i = p % nx;
      const j = ((p - i) / nx) % ny;
      const k = (p - i - j * nx) / plane;
      const visit = (q: number) => {
        if (mask[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      };
      if (i > 0) visit(p - 1);
      if (i < nx - 1) visit(p + 1);
      if (j > 0) visit(p - nx);
      if (j < ny - 1) visit(p + nx);
      if (k > 0) visit(p - plane);
      if (k < nz - 1) visit(p + plane);
    }
    sizes.push(size);
  }
  return sizes.sort((a, b) => b - a);
}

export function lungShape(data: Float32Array, dims: Dims3, airHu = -400): LungShape {
  const mask = enclosedAirMask(data, dims, airHu);
  const sizes = componentSizes(mask, dims);
  const lung = sizes.reduce((a, b) => a + b, 0);
  const inTwo = (sizes[0] ?? 0) + (sizes[1] ?? 0);
  let lungSum = 0;
  let outsideSum = 0;
  let outside = 0;
  for (let p = 0; p < data.length; p++) {
    if (mask[p]) lungSum += data[p];
    else if (data[p] < airHu) {
      outsideSum += data[p];
      outside++;
    }
  }
  return {
    lungFraction: lung / data.length,
    fragmentation: lung > 0 ? 1 - inTwo / lung : 0,
    components: sizes.length,
    meanHu: lung > 0 ? lungSum / lung : NaN,
    outsideMeanHu: outside > 0 ? outsideSum / outside : NaN,
  };
}

export interface BoneShape {
  /** Voxels at or above boneHu / all voxels of the grid (the bench's boneFraction: / body voxels). */
  readonly gridShare: number;
  readonly largestShare: number;
  readonly components: number;
}

export function boneShape(data: Float32Array, dims: Dims3, boneHu = 200): BoneShape {
  if (data.length !== dims[0] * dims[1] * dims[2])
    throw new Error(`boneShape: ${data.length} values for grid ${dims.join('x')}`);
  const mask = Uint8Array.from(data, (x) => (x >= boneHu ? 1 : 0));
  const sizes = componentSizes(mask, dims);
  const bone = sizes.reduce((a, b) => a + b, 0);
  return {
    gridShare: bone / data.length,
    largestShare: bone > 0 ? sizes[0] / bone : 0,
    components: sizes.length,
  };
}
