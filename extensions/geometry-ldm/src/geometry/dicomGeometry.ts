/**
 * Exact index -> patient geometry of a DICOM slice series, from the header
 * values only (no DICOM parsing here: callers hand in numbers).
 *
 * DICOM facts used (PS3.3 C.7.6.2):
 * - ImageOrientationPatient = [Xx, Xy, Xz, Yx, Yy, Yz]: X is the direction of
 *   increasing column index i (along a row), Y of increasing row index j.
 * - PixelSpacing = [row spacing, column spacing] = [mm between rows (along Y),
 *   mm between columns (along X)]. Note the order: the first value is for j.
 * - ImagePositionPatient = centre of the first transmitted voxel (i=0, j=0).
 * Slices are ordered by their position along the normal N = X x Y, so k grows
 * along +N (for a standard axial series: towards the head).
 */
import { column, cross, dot, fromColumns, norm, scale, sub, type Affine } from './affine';
import type { Dims3, Vec3 } from './conventions';
import { GeometryError } from './errors';

/** Geometry tags of one slice, as parsed numbers (null/undefined when absent). */
export interface SliceGeometryInput {
  readonly imagePositionPatient?: readonly number[] | null;
  readonly imageOrientationPatient?: readonly number[] | null;
  /** [row spacing, column spacing] in mm, DICOM order. */
  readonly pixelSpacing?: readonly number[] | null;
  readonly rows?: number | null;
  readonly columns?: number | null;
  readonly sliceThickness?: number | null;
  /** Anything that names the slice in messages (SOPInstanceUID, file name). */
  readonly id?: string;
}

export interface GeometryTolerances {
  /** Allowed deviation of any slice gap from the mean gap: max(absMm, relative * mean). */
  readonly spacingAbsMm: number;
  readonly spacingRelative: number;
  /** Angle (degrees) between the slice step and the normal above which the stack is tilted. */
  readonly tiltDeg: number;
  /**
   * Absolute in-plane position tolerance (mm), two uses: (1) every slice's
   * ImagePositionPatient must lie within this distance (measured in its own
   * plane) of the stack line through the first and last slice, else
   * 'misaligned-slice'; (2) a stack whose first -> last in-plane drift exceeds
   * it counts as tilted even when its angle is under `tiltDeg`, so a long,
   * slightly tilted stack is never snapped onto the normal with an error that
   * grows with its length. 0.05 mm is about a tenth of a typical CT pixel.
   */
  readonly positionAbsMm: number;
  /** Allowed |X.Y| and ||X|-1|, ||Y|-1| for ImageOrientationPatient. */
  readonly orientation: number;
  /** Allowed difference between slices' orientations / in-plane spacings. */
  readonly consistency: number;
}

export const DEFAULT_TOLERANCES: GeometryTolerances = {
  spacingAbsMm: 0.02,
  spacingRelative: 0.01,
  tiltDeg: 0.1,
  positionAbsMm: 0.05,
  orientation: 1e-3,
  consistency: 1e-4,
};

/** A sorted stack of parallel slices: exact, whether or not it is regular. */
export interface SliceStack {
  /** Indices into the input array, in k order (ascending along the normal). */
  readonly order: readonly number[];
  /** ImagePositionPatient of each slice in k order (mm). */
  readonly positions: readonly Vec3[];
  /** Unit direction of increasing column index i. */
  readonly rowDirection: Vec3;
  /** Unit direction of increasing row index j. */
  readonly columnDirection: Vec3;
  /** Unit normal X x Y. */
  readonly normal: Vec3;
  /** [mm between columns (along i), mm between rows (along j)]: index order, NOT DICOM order. */
  readonly inPlaneSpacingMm: readonly [number, number];
  /** Grid [nx, ny, nz] = [Columns, Rows, number of slices]. */
  readonly dims: Dims3;
  /** Position of each slice along the normal (mm), ascending. */
  readonly distancesMm: readonly number[];
  /** Gaps between consecutive slices along the normal (mm). */
  readonly gapsMm: readonly number[];
  readonly sliceThicknessMm: number | null;
}

export interface StackReport {
  readonly meanGapMm: number;
  readonly maxGapDeviationMm: number;
  readonly nonUniform: boolean;
  /** Angle between the mean slice step and the normal (gantry tilt), degrees. */
  readonly tiltDeg: number;
  /** In-plane length (mm) of the first -> last slice step: what snapping onto the normal would misplace. */
  readonly inPlaneDriftMm: number;
  /** tiltDeg > tolerances.tiltDeg, or inPlaneDriftMm > tolerances.positionAbsMm. */
  readonly tilted: boolean;
  /**
   * In-plane distance (mm) of each slice's position (k order) from the stack
   * line through the first and last slice, taken in that slice's own plane.
   */
  readonly lineDeviationsMm: readonly number[];
  readonly maxLineDeviationMm: number;
  /** k indices of the slices farther than tolerances.positionAbsMm from the stack line. */
  readonly misalignedSlices: readonly number[];
}

export interface RegularGeometry {
  readonly dims: Dims3;
  /** index (i, j, k) -> patient LPS mm. For an accepted tilt this is sheared (exact). */
  readonly affine: Affine;
  readonly stack: SliceStack;
  readonly report: StackReport;
}

export interface RegularOptions {
  readonly tolerances?: Partial<GeometryTolerances>;
  /** Accept a uniformly spaced tilted stack: the affine is then sheared but exact. */
  readonly allowTilt?: boolean;
  /** Accept one slice; its k step is the normal times SliceThickness (required). */
  readonly allowSingleSlice?: boolean;
}

function requireVector(
  value: readonly number[] | null | undefined,
  length: number,
  tag: string,
  id: string,
): number[] {
  if (value == null)
    throw new GeometryError('missing-tag', `${tag} is missing (slice ${id})`, { tag, slice: id });
  if (value.length !== length || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new GeometryError('contradictory-tags', `${tag} must be ${length} finite numbers (slice ${id})`, {
      tag,
      slice: id,
      value,
    });
  }
  return value.slice();
}

function requirePositiveInteger(value: number | null | undefined, tag: string, id: string): number {
  if (value == null)
    throw new GeometryError('missing-tag', `${tag} is missing (slice ${id})`, { tag, slice: id });
  if (!Number.isInteger(value) || value <= 0) {
    throw new GeometryError('contradictory-tags', `${tag} must be a positive integer (slice ${id})`, {
      tag,
      slice: id,
      value,
    });
  }
  return value;
}

/**
 * Sorts slices along the normal and checks that they form one stack of parallel
 * planes with the same grid. Does not judge spacing or tilt (see `regularGeometry`).
 */
export function sliceStack(
  slices: readonly SliceGeometryInput[],
  tolerances: Partial<GeometryTolerances> = {},
): SliceStack {
  const tol = { ...DEFAULT_TOLERANCES, ...tolerances };
  if (slices.length === 0) throw new GeometryError('missing-tag', 'no slices given');
  const ids = slices.map((s, n) => s.id ?? `#${n}`);
  const first = slices[0];
  const iop = requireVector(first.imageOrientationPatient, 6, 'ImageOrientationPatient', ids[0]);
  const ps = requireVector(first.pixelSpacing, 2, 'PixelSpacing', ids[0]);
  const rows = requirePositiveInteger(first.rows, 'Rows', ids[0]);
  const cols = requirePositiveInteger(first.columns, 'Columns', ids[0]);
  const x: Vec3 = [iop[0], iop[1], iop[2]];
  const y: Vec3 = [iop[3], iop[4], iop[5]];
  if (
    Math.abs(norm(x) - 1) > tol.orientation ||
    Math.abs(norm(y) - 1) > tol.orientation ||
    Math.abs(dot(x, y)) > tol.orientation
  ) {
    throw new GeometryError(
      'contradictory-tags',
      `ImageOrientationPatient is not two orthonormal directions (slice ${ids[0]})`,
      { value: iop },
    );
  }
  if (!(ps[0] > 0 && ps[1] > 0)) {
    throw new GeometryError('contradictory-tags', `PixelSpacing must be positive (slice ${ids[0]})`, {
      value: ps,
    });
  }
  // Re-orthonormalise the directions: header values carry ~6 decimals.
  const xn = scale(x, 1 / norm(x));
  const yRaw = sub(y, scale(xn, dot(y, xn)));
  const yn = scale(yRaw, 1 / norm(yRaw));
  const normal = cross(xn, yn);

  const positions: Vec3[] = [];
  slices.forEach((s, n) => {
    const id = ids[n];
    const o = requireVector(s.imageOrientationPatient, 6, 'ImageOrientationPatient', id);
    if (o.some((v, c) => Math.abs(v - iop[c]) > tol.consistency)) {
      throw new GeometryError('mixed-orientation', `slice ${id} has a different ImageOrientationPatient`, {
        slice: id,
        expected: iop,
        value: o,
      });
    }
    const p = requireVector(s.pixelSpacing, 2, 'PixelSpacing', id);
    if (p.some((v, c) => Math.abs(v - ps[c]) > tol.consistency * Math.max(1, ps[c]))) {
      throw new GeometryError('contradictory-tags', `slice ${id} has a different PixelSpacing`, {
        slice: id,
        expected: ps,
        value: p,
      });
    }
    if (
      requirePositiveInteger(s.rows, 'Rows', id) !== rows ||
      requirePositiveInteger(s.columns, 'Columns', id) !== cols
    ) {
      throw new GeometryError('contradictory-tags', `slice ${id} has a different Rows/Columns`, {
        slice: id,
        expected: [rows, cols],
        value: [s.rows, s.columns],
      });
    }
    const ipp = requireVector(s.imagePositionPatient, 3, 'ImagePositionPatient', id);
    positions.push([ipp[0], ipp[1], ipp[2]]);
  });

  const distances = positions.map((p) => dot(p, normal));
  const order = distances.map((_, n) => n).sort((a, b) => distances[a] - distances[b]);
  const sortedPositions = order.map((n) => positions[n]);
  const sortedDistances = order.map((n) => distances[n]);
  const gaps = sortedDistances.slice(1).map((d, n) => d - sortedDistances[n]);
  const minGap = Math.max(tol.spacingAbsMm * 0.01, 1e-4);
  gaps.forEach((g, n) => {
    if (g < minGap) {
      throw new GeometryError(
        'duplicate-position',
        `slices ${ids[order[n]]} and ${ids[order[n + 1]]} lie at the same position along the normal`,
        { slices: [ids[order[n]], ids[order[n + 1]]], gapMm: g },
      );
    }
  });
  const thickness = first.sliceThickness != null && first.sliceThickness > 0 ? first.sliceThickness : null;
  return {
    order,
    positions: sortedPositions,
    rowDirection: xn,
    columnDirection: yn,
    normal,
    inPlaneSpacingMm: [ps[1], ps[0]],
    dims: [cols, rows, slices.length],
    distancesMm: sortedDistances,
    gapsMm: gaps,
    sliceThicknessMm: thickness,
  };
}

/** Spacing, tilt and alignment facts of a stack (nothing thrown). */
export function stackReport(stack: SliceStack, tolerances: Partial<GeometryTolerances> = {}): StackReport {
  const tol = { ...DEFAULT_TOLERANCES, ...tolerances };
  const n = stack.positions.length;
  if (n < 2) {
    return {
      meanGapMm: 0,
      maxGapDeviationMm: 0,
      nonUniform: false,
      tiltDeg: 0,
      inPlaneDriftMm: 0,
      tilted: false,
      lineDeviationsMm: stack.positions.map(() => 0),
      maxLineDeviationMm: 0,
      misalignedSlices: [],
    };
  }
  const extent = stack.distancesMm[n - 1] - stack.distancesMm[0];
  const meanGap = extent / (n - 1);
  const maxDev = Math.max(...stack.gapsMm.map((g) => Math.abs(g - meanGap)));
  const p0 = stack.positions[0];
  const step = sub(stack.positions[n - 1], p0);
  const cosAngle = Math.min(1, Math.abs(dot(step, stack.normal)) / norm(step));
  const tiltDeg = (Math.acos(cosAngle) * 180) / Math.PI;
  const inPlane = (v: Vec3): number => Math.hypot(dot(v, stack.rowDirection), dot(v, stack.columnDirection));
  const inPlaneDriftMm = inPlane(step);
  // The stack line meets slice k's plane at p0 + t * step, t from the slice's distance along the normal.
  const lineDeviationsMm = stack.positions.map((p, k) => {
    const t = (stack.distancesMm[k] - stack.distancesMm[0]) / extent;
    return inPlane(sub(sub(p, p0), scale(step, t)));
  });
  const misalignedSlices = lineDeviationsMm.flatMap((d, k) => (d > tol.positionAbsMm ? [k] : []));
  return {
    meanGapMm: meanGap,
    maxGapDeviationMm: maxDev,
    nonUniform: maxDev > Math.max(tol.spacingAbsMm, tol.spacingRelative * meanGap),
    tiltDeg,
    inPlaneDriftMm,
    tilted: tiltDeg > tol.tiltDeg || inPlaneDriftMm > tol.positionAbsMm,
    lineDeviationsMm,
    maxLineDeviationMm: Math.max(...lineDeviationsMm),
    misalignedSlices,
  };
}

/**
 * The whole stack report, flattened, for the details of every error that
 * regularGeometry throws: a caller learns every problem, whichever was named.
 */
function stackDetails(stack: SliceStack, report: StackReport): Record<string, unknown> {
  return {
    report,
    tiltDeg: report.tiltDeg,
    inPlaneDriftMm: report.inPlaneDriftMm,
    tilted: report.tilted,
    nonUniform: report.nonUniform,
    gapsMm: stack.gapsMm,
    meanGapMm: report.meanGapMm,
    maxLineDeviationMm: report.maxLineDeviationMm,
  };
}

/**
 * The exact affine of a regular stack. Throws a typed GeometryError for a
 * single slice, a slice off the stack line ('misaligned-slice', always, also
 * with allowTilt), non-uniform spacing or gantry tilt unless explicitly
 * allowed (non-uniform stacks are never given an affine: resample them
 * instead). Every error's details carry the full stack report.
 */
export function regularGeometry(
  slices: readonly SliceGeometryInput[],
  options: RegularOptions = {},
): RegularGeometry {
  const stack = sliceStack(slices, options.tolerances);
  const report = stackReport(stack, options.tolerances);
  const details = stackDetails(stack, report);
  const tol = { ...DEFAULT_TOLERANCES, ...options.tolerances };
  const [dx, dy] = stack.inPlaneSpacingMm;
  const ex = scale(stack.rowDirection, dx);
  const ey = scale(stack.columnDirection, dy);
  const n = stack.positions.length;
  const sliceId = (k: number): string => slices[stack.order[k]].id ?? `#${stack.order[k]}`;
  let ez: Vec3;
  if (n === 1) {
    if (!options.allowSingleSlice) {
      throw new GeometryError(
        'single-slice',
        'a single slice has no volume geometry (slice spacing is unknown)',
        details,
      );
    }
    if (stack.sliceThicknessMm == null) {
      throw new GeometryError('missing-tag', 'a single slice needs SliceThickness to define its extent', {
        ...details,
        tag: 'SliceThickness',
      });
    }
    ez = scale(stack.normal, stack.sliceThicknessMm);
  } else {
    if (report.misalignedSlices.length > 0) {
      const worst = report.lineDeviationsMm.indexOf(report.maxLineDeviationMm);
      throw new GeometryError(
        'misaligned-slice',
        `slice ${sliceId(worst)} (k = ${worst}) lies ${report.maxLineDeviationMm.toFixed(3)} mm in-plane ` +
          `off the line through the first and last slice (tolerance ${tol.positionAbsMm} mm)` +
          (report.misalignedSlices.length > 1 ? `; ${report.misalignedSlices.length} slices are off it` : ''),
        {
          ...details,
          slice: sliceId(worst),
          k: worst,
          deviationMm: report.maxLineDeviationMm,
          slices: report.misalignedSlices.map(sliceId),
          toleranceMm: tol.positionAbsMm,
        },
      );
    }
    if (report.nonUniform) {
      throw new GeometryError(
        'non-uniform-spacing',
        `slice gaps vary from ${Math.min(...stack.gapsMm).toFixed(3)} to ${Math.max(...stack.gapsMm).toFixed(3)} mm` +
          (report.tilted ? `, and the stack is tilted by ${report.tiltDeg.toFixed(2)} degrees` : ''),
        details,
      );
    }
    if (report.tilted && !options.allowTilt) {
      throw new GeometryError(
        'gantry-tilt',
        `slices are offset along the plane: gantry tilt of ${report.tiltDeg.toFixed(2)} degrees ` +
          `(${report.inPlaneDriftMm.toFixed(3)} mm in-plane drift from the first to the last slice)`,
        details,
      );
    }
    const step = sub(stack.positions[n - 1], stack.positions[0]);
    ez = report.tilted ? scale(step, 1 / (n - 1)) : scale(stack.normal, report.meanGapMm);
  }
  // The origin is the first slice's IPP; for a non-tilted stack (angle and drift within tolerance),
  // snap the k axis onto the normal.
  const affine = fromColumns(ex, ey, ez, stack.positions[0]);
  return { dims: stack.dims, affine, stack, report };
}

/** Patient position (mm) of index (i, j, k) using the stack itself (exact for any stack). */
export function stackVoxelPosition(stack: SliceStack, i: number, j: number, k: number): Vec3 {
  const p = stack.positions[k];
  const [dx, dy] = stack.inPlaneSpacingMm;
  return [
    p[0] + i * dx * stack.rowDirection[0] + j * dy * stack.columnDirection[0],
    p[1] + i * dx * stack.rowDirection[1] + j * dy * stack.columnDirection[1],
    p[2] + i * dx * stack.rowDirection[2] + j * dy * stack.columnDirection[2],
  ];
}

/** Spacing of an affine's index axes in mm ([sx, sy, sz]). */
export function spacingOf(affine: Affine): Vec3 {
  return [norm(column(affine, 0)), norm(column(affine, 1)), norm(column(affine, 2))];
}
