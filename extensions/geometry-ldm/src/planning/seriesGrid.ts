/** A source series' voxel grid as the planners see it (from its geometry tags or its read volume). */
import type { Affine } from '../geometry/affine';
import type { Dims3, Vec3 } from '../geometry/conventions';

export interface SeriesGrid {
  readonly dims: Dims3;
  /** index -> patient (LPS mm). */
  readonly affine: Affine;
  readonly spacingMm: Vec3;
  /** Set when the stack is irregular: what is wrong, and that it will be resampled on read. */
  readonly irregular?: string;
  /** Set when slices are missing (geometry/sliceHoles.ts): where; the read refuses unless gaps are bridged. */
  readonly holes?: string;
}
