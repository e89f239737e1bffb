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
  /**
   * SliceThickness (mm) and ImageType of the first image, which choose the 'auto' slice model
   * as the job will (volume/seriesAcquisition.ts sliceModelFor); absent: not known yet.
   */
  readonly header?: {
    readonly sliceThicknessMm: number | null;
    readonly imageType: readonly string[] | null;
  };
}
