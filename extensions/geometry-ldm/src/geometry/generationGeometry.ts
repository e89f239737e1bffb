/**
 * A requested geometry for generation (or any target grid), expressed with
 * friendly controls and turned into the one thing the model conditions on:
 * the index -> group affine (plus the grid size).
 *
 * Conventions (see conventions.ts and groupSpace.ts):
 * - FOV ranges are in group units and refer to voxel CENTRES: with fov u in
 *   [a, b] the first voxel centre along i has u = a and the last u = b.
 * - Rotation is a physical rotation in patient space (mm, so anisotropic group
 *   extents do not shear it) about the FOV centre: R = Rz * Ry * Rx, angles in
 *   degrees about the patient axes x (L), y (P), z (S). See affine.rotationEulerDeg.
 */
import {
  compose,
  invert,
  rotationEulerDeg,
  scaling,
  translation,
  type Affine,
  applyPoint,
  isAffine,
} from './affine';
import type { Dims3, Vec3 } from './conventions';
import { GeometryError } from './errors';
import { groupToPatient, indexToPatientFromGroup, patientToGroup, type GroupSpace } from './groupSpace';

export type Range = readonly [lo: number, hi: number];
export type FovRanges = readonly [u: Range, v: Range, w: Range];

export const FULL_FOV: FovRanges = [
  [0, 1],
  [0, 1],
  [0, 1],
];

export type GenerationGeometrySpec =
  | {
      /** Grid size and FOV: spacing follows as (hi - lo) * extent / (n - 1). */
      readonly kind: 'fov';
      readonly dims: Dims3;
      readonly fov?: FovRanges;
      readonly rotationDeg?: Vec3;
    }
  | {
      /** Grid size and spacing (mm): the FOV follows, centred on `fovCentre` (group units). */
      readonly kind: 'spacing';
      readonly dims: Dims3;
      readonly spacingMm: Vec3;
      readonly fovCentre?: Vec3;
      readonly rotationDeg?: Vec3;
    }
  | {
      /** Any index -> group affine (rotation, shear, anything invertible). */
      readonly kind: 'affine';
      readonly dims: Dims3;
      readonly indexToGroup: Affine;
    };

export interface ResolvedGeometry {
  readonly dims: Dims3;
  /** index -> group ([0,1]^3): the conditioning. */
  readonly indexToGroup: Affine;
  /** index -> patient (LPS mm): where the result lives. */
  readonly indexToPatient: Affine;
  /** Voxel spacing along i, j, k in mm. */
  readonly spacingMm: Vec3;
  /** Group coordinate of the grid centre. */
  readonly centreGroup: Vec3;
}

function checkDims(dims: Dims3): void {
  if (dims.length !== 3 || !dims.every((n) => Number.isInteger(n) && n > 0)) {
    throw new GeometryError(
      'invalid-spec',
      `grid size must be three positive integers, got [${dims.join(', ')}]`,
    );
  }
}

function checkVec(v: Vec3 | undefined, what: string): void {
  if (v !== undefined && (v.length !== 3 || !v.every((x) => Number.isFinite(x)))) {
    throw new GeometryError('invalid-spec', `${what} must be three finite numbers`);
  }
}

/** index -> patient for a grid of given spacing, rotated by R about its centre placed at centreMm. */
function centredGrid(dims: Dims3, spacingMm: Vec3, centreMm: Vec3, rotationDeg: Vec3): Affine {
  return compose(
    translation(centreMm),
    rotationEulerDeg(rotationDeg[0], rotationDeg[1], rotationDeg[2]),
    scaling(spacingMm),
    translation([-(dims[0] - 1) / 2, -(dims[1] - 1) / 2, -(dims[2] - 1) / 2]),
  );
}

export function resolveGeometry(spec: GenerationGeometrySpec, group: GroupSpace): ResolvedGeometry {
  checkDims(spec.dims);
  const dims = spec.dims;
  let indexToPatient: Affine;
  if (spec.kind === 'affine') {
    if (!isAffine(spec.indexToGroup))
      throw new GeometryError(
        'invalid-spec',
        'indexToGroup must be a 4x4 affine of finite numbers with last row 0 0 0 1',
      );
    // A singular linear part has no inverse: no grid, no resampling. invert() throws 'singular-affine'.
    invert(spec.indexToGroup);
    indexToPatient = indexToPatientFromGroup(spec.indexToGroup, group);
  } else if (spec.kind === 'fov') {
    const fov = spec.fov ?? FULL_FOV;
    if (fov.length !== 3 || fov.some((r) => r.length !== 2 || !r.every(Number.isFinite) || r[1] < r[0])) {
      throw new GeometryError('invalid-spec', 'FOV must be three [lo, hi] ranges with lo <= hi');
    }
    checkVec(spec.rotationDeg, 'rotation');
    const spacing = [0, 1, 2].map((a) => {
      const [lo, hi] = fov[a];
      if (dims[a] === 1) return Math.max(hi - lo, 1e-6) * group.extentMm[a];
      if (hi === lo)
        throw new GeometryError(
          'invalid-spec',
          `FOV range on axis ${'uvw'[a]} is empty for ${dims[a]} voxels`,
        );
      return ((hi - lo) / (dims[a] - 1)) * group.extentMm[a];
    }) as unknown as Vec3;
    const centreGroup: Vec3 = [0, 1, 2].map((a) => (fov[a][0] + fov[a][1]) / 2) as unknown as Vec3;
    indexToPatient = centredGrid(
      dims,
      spacing,
      applyPoint(groupToPatient(group), centreGroup),
      spec.rotationDeg ?? [0, 0, 0],
    );
  } else if (spec.kind === 'spacing') {
    checkVec(spec.spacingMm, 'spacing');
    checkVec(spec.fovCentre, 'FOV centre');
    checkVec(spec.rotationDeg, 'rotation');
    if (!spec.spacingMm.every((s) => s > 0))
      throw new GeometryError('invalid-spec', 'spacing must be positive mm');
    const centreGroup = spec.fovCentre ?? [0.5, 0.5, 0.5];
    indexToPatient = centredGrid(
      dims,
      spec.spacingMm,
      applyPoint(groupToPatient(group), centreGroup),
      spec.rotationDeg ?? [0, 0, 0],
    );
  } else {
    throw new GeometryError('invalid-spec', `unknown geometry kind ${(spec as { kind: string }).kind}`);
  }
  const indexToGroup = compose(patientToGroup(group), indexToPatient);
  // Whatever the spec kind: finite numbers only (huge inputs overflow to Infinity / NaN).
  if (!isAffine(indexToPatient) || !isAffine(indexToGroup)) {
    throw new GeometryError('invalid-spec', 'the requested geometry is not finite (values overflow)');
  }
  const spacingMm = [0, 1, 2].map((c) =>
    Math.hypot(indexToPatient[c], indexToPatient[4 + c], indexToPatient[8 + c]),
  ) as unknown as Vec3;
  const centreGroup = applyPoint(indexToGroup, [(dims[0] - 1) / 2, (dims[1] - 1) / 2, (dims[2] - 1) / 2]);
  return { dims, indexToGroup, indexToPatient, spacingMm, centreGroup };
}

/** FOV range (group units) covered by the voxel centres of a resolved geometry, per axis. */
export function fovOf(resolved: { dims: Dims3; indexToGroup: Affine }): FovRanges {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  const d = resolved.dims;
  for (const i of [0, d[0] - 1]) {
    for (const j of [0, d[1] - 1]) {
      for (const k of [0, d[2] - 1]) {
        const p = applyPoint(resolved.indexToGroup, [i, j, k]);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], p[a]);
          hi[a] = Math.max(hi[a], p[a]);
        }
      }
    }
  }
  return [
    [lo[0], hi[0]],
    [lo[1], hi[1]],
    [lo[2], hi[2]],
  ];
}
