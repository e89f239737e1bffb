/**
 * Group space: what [0,1]^3 means in patient space for a model
 * (docs/method.md sections 1 and 7). Axes (u, v, w) follow LPS (+x, +y, +z).
 *
 * A GroupSpace is an axis-aligned box in patient space:
 *   group = (patient - originMm) / extentMm   (per axis)
 * so (0,0,0) is the box corner at originMm (right, anterior, inferior) and
 * (1,1,1) the opposite corner (left, posterior, superior).
 *
 * Two kinds (from the model manifest):
 * - 'scan-extent': the box is the bounding box of a scan's voxel CENTRES in
 *   patient space; for an axis-aligned scan the first voxel centre on each axis
 *   is at 0 and the last at 1 (rotated and tilted scans get the enclosing box).
 * - 'anatomical': the box is a named body range with a reference extent in mm,
 *   placed by the user (body-range control) over the study.
 */
import { applyPoint, compose, fromColumns, invert, scaling, translation, type Affine } from './affine';
import type { Dims3, Vec3 } from './conventions';
import { GeometryError } from './errors';

export type GroupSpaceKind = 'scan-extent' | 'anatomical';

export interface GroupSpace {
  readonly kind: GroupSpaceKind;
  /** Patient point (LPS mm) that maps to group (0, 0, 0). */
  readonly originMm: Vec3;
  /** Patient length (mm) of one group unit along x, y, z. Positive. */
  readonly extentMm: Vec3;
  /** Human-readable name of the range on each axis (e.g. "upper leg to neck"). */
  readonly label?: string;
}

function checkExtent(extent: Vec3): void {
  if (!extent.every((e) => Number.isFinite(e) && e > 0)) {
    throw new GeometryError(
      'invalid-spec',
      `group space extent must be positive mm, got [${extent.join(', ')}]`,
    );
  }
}

/** Patient (LPS mm) -> group ([0,1]^3) affine. */
export function patientToGroup(g: GroupSpace): Affine {
  checkExtent(g.extentMm);
  return compose(
    scaling([1 / g.extentMm[0], 1 / g.extentMm[1], 1 / g.extentMm[2]]),
    translation([-g.originMm[0], -g.originMm[1], -g.originMm[2]]),
  );
}

/** Group -> patient affine. */
export function groupToPatient(g: GroupSpace): Affine {
  checkExtent(g.extentMm);
  return fromColumns([g.extentMm[0], 0, 0], [0, g.extentMm[1], 0], [0, 0, g.extentMm[2]], g.originMm);
}

/** Bounding box (min, max) of the voxel centres of a grid in patient space. */
export function centreBoundingBox(dims: Dims3, indexToPatient: Affine): { min: Vec3; max: Vec3 } {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (const i of [0, dims[0] - 1]) {
    for (const j of [0, dims[1] - 1]) {
      for (const k of [0, dims[2] - 1]) {
        const p = applyPoint(indexToPatient, [i, j, k]);
        for (let a = 0; a < 3; a++) {
          min[a] = Math.min(min[a], p[a]);
          max[a] = Math.max(max[a], p[a]);
        }
      }
    }
  }
  return { min, max };
}

/**
 * 'scan-extent' group space of a scan: its voxel-centre bounding box is [0,1]^3.
 * An axis with one voxel (no extent) gets `fallbackExtentMm` centred on it.
 */
export function scanExtentGroupSpace(dims: Dims3, indexToPatient: Affine, fallbackExtentMm = 1): GroupSpace {
  const { min, max } = centreBoundingBox(dims, indexToPatient);
  const extent = [0, 1, 2].map((a) => max[a] - min[a]) as [number, number, number];
  const origin: [number, number, number] = [min[0], min[1], min[2]];
  for (let a = 0; a < 3; a++) {
    if (extent[a] < 1e-9) {
      extent[a] = fallbackExtentMm;
      origin[a] = min[a] - fallbackExtentMm / 2;
    }
  }
  return { kind: 'scan-extent', originMm: origin, extentMm: extent };
}

/**
 * 'anatomical' group space: the reference extent (mm, from the manifest) placed
 * so that group point `anchorGroup` lies at patient point `anchorPatientMm`.
 */
export function anatomicalGroupSpace(
  referenceExtentMm: Vec3,
  anchorGroup: Vec3,
  anchorPatientMm: Vec3,
  label?: string,
): GroupSpace {
  checkExtent(referenceExtentMm);
  const origin: Vec3 = [0, 1, 2].map(
    (a) => anchorPatientMm[a] - anchorGroup[a] * referenceExtentMm[a],
  ) as unknown as Vec3;
  return { kind: 'anatomical', originMm: origin, extentMm: referenceExtentMm, label };
}

/** index -> group affine of a grid placed in patient space. */
export function indexToGroup(indexToPatient: Affine, group: GroupSpace): Affine {
  return compose(patientToGroup(group), indexToPatient);
}

/** index -> patient affine of a grid whose index -> group affine is known. */
export function indexToPatientFromGroup(indexToGroupAffine: Affine, group: GroupSpace): Affine {
  return compose(groupToPatient(group), indexToGroupAffine);
}

/** Group -> patient for a point (convenience). */
export function groupPointToPatient(group: GroupSpace, p: Vec3): Vec3 {
  return applyPoint(groupToPatient(group), p);
}

/** Patient -> group for a point (convenience). */
export function patientPointToGroup(group: GroupSpace, p: Vec3): Vec3 {
  return applyPoint(invert(groupToPatient(group)), p);
}
