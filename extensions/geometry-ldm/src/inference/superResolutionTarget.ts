/**
 * The target grid of a super-resolution: the source's physical box (voxel
 * EDGES, so a 2x finer grid has exactly twice the voxels) at a finer spacing,
 * same orientation, then padded about the centre to the model's multiple of 8 and, where the
 * result is smaller than the model's minimum grid (a short series), up to that minimum.
 */
import { compose, scaling, translation, type Affine } from '../geometry/affine';
import type { Dims3, Vec3 } from '../geometry/conventions';
import { spacingOf } from '../geometry/dicomGeometry';
import type { Grid } from '../volume/volume';
import { InferenceError } from './errors';

/** Relative difference under which a target spacing counts as the source's own (kept). */
export const SAME_SPACING = 0.005;
/** The index axes in a user's words (i, j, k are internal names). */
const AXIS_WORDS = ['columns (x)', 'rows (y)', 'slices (z)'];

export type SuperResolutionTarget =
  | { readonly kind: 'spacing'; readonly spacingMm: Vec3 }
  | { readonly kind: 'scale'; readonly factor: number | Vec3 }
  | { readonly kind: 'grid'; readonly grid: Grid };

export interface PlannedTarget {
  /** The result grid the user asked for. */
  readonly output: Grid;
  /** The grid the model runs on: `output` padded to multiples of `multiple` and at least `min`, same voxel centres. */
  readonly padded: Grid;
  /** Offset of `output` inside `padded` (voxels). */
  readonly offset: Dims3;
}

/**
 * The grid-sizing rule, per axis (one truth: the planners use it too). `n` source voxels of
 * `sourceSpacingMm` cover n x sourceSpacing mm of voxel edges; the result keeps that box at
 * `spacingMm` (rounded, at least 1), and the model runs on it padded up to `multiple` and to at
 * least `min` voxels (rounded up to `multiple`).
 */
export function outputVoxels(n: number, sourceSpacingMm: number, spacingMm: number): number {
  return Math.max(1, Math.round((n * sourceSpacingMm) / spacingMm - 1e-9));
}

export function paddedVoxels(n: number, multiple: number, min = 0): number {
  return Math.ceil(Math.max(n, min) / multiple) * multiple;
}

/** Grid with the same centre as `grid`, the same axes, a new size (extra voxels split low/high, high gets the odd one). */
function recentre(grid: Grid, dims: Dims3): { grid: Grid; offset: Dims3 } {
  const offset = [0, 1, 2].map((a) => Math.floor((dims[a] - grid.dims[a]) / 2)) as unknown as Dims3;
  const affine: Affine = compose(grid.affine, translation([-offset[0], -offset[1], -offset[2]]));
  return { grid: { dims, affine }, offset };
}

export function planSuperResolutionTarget(
  source: Grid,
  target: SuperResolutionTarget,
  multiple = 8,
  /** The model's smallest grid per axis ([nx, ny, nz]); the model runs on no less. */
  min: readonly [number, number, number] = [0, 0, 0],
): PlannedTarget {
  let output: Grid;
  const srcSpacing = spacingOf(source.affine);
  if (target.kind === 'grid') {
    output = target.grid;
  } else {
    const spacing: [number, number, number] =
      target.kind === 'spacing'
        ? [...target.spacingMm]
        : (srcSpacing.map(
            (s, a) => s / (typeof target.factor === 'number' ? target.factor : target.factor[a]),
          ) as [number, number, number]);
    if (!spacing.every((s) => Number.isFinite(s) && s > 0)) {
      throw new InferenceError(
        'invalid-input',
        `target spacing must be positive mm, got [${spacing.join(', ')}]`,
      );
    }
    // A target within half a percent of the source's spacing keeps it (0.842 typed for
    // 0.841796875 mm, 1.3867 for 1.38671875 mm): "the same" is not "coarser".
    for (let a = 0; a < 3; a++)
      if (Math.abs(spacing[a] / srcSpacing[a] - 1) <= SAME_SPACING) spacing[a] = srcSpacing[a];
    const coarser = spacing.findIndex((s, a) => s > srcSpacing[a]);
    if (coarser >= 0) {
      throw new InferenceError(
        'invalid-input',
        `target spacing ${spacing[coarser].toFixed(3)} mm between ${AXIS_WORDS[coarser]} is coarser than the source's ${srcSpacing[coarser].toFixed(3)} mm: super-resolution only refines (give the source's spacing to keep that axis)`,
      );
    }
    const ratio = spacing.map((s, a) => s / srcSpacing[a]);
    const dims = source.dims.map((n, a) => outputVoxels(n, srcSpacing[a], spacing[a])) as unknown as Dims3;
    // Same box centre: target index (n'-1)/2 lands on source index (n-1)/2.
    const affine = compose(
      source.affine,
      translation([(source.dims[0] - 1) / 2, (source.dims[1] - 1) / 2, (source.dims[2] - 1) / 2]),
      scaling(ratio as unknown as Vec3),
      translation([-(dims[0] - 1) / 2, -(dims[1] - 1) / 2, -(dims[2] - 1) / 2]),
    );
    output = { dims, affine };
  }
  const paddedDims = output.dims.map((n, a) => paddedVoxels(n, multiple, min[a])) as unknown as Dims3;
  const { grid: padded, offset } = recentre(output, paddedDims);
  return { output, padded, offset };
}
