/**
 * 4x4 homogeneous affines (row-major, float64, last row 0 0 0 1).
 * Plain arrays so that they cross postMessage and JSON unchanged.
 */
import type { Vec3 } from './conventions';
import { GeometryError } from './errors';

/** Row-major 4x4 matrix as 16 numbers. */
export type Affine = readonly number[];

export const IDENTITY: Affine = Object.freeze([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);

export function isAffine(a: unknown): a is Affine {
  return (
    Array.isArray(a) &&
    a.length === 16 &&
    a.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
    a[12] === 0 &&
    a[13] === 0 &&
    a[14] === 0 &&
    a[15] === 1
  );
}

/** The affine whose columns are the images of the unit vectors and whose translation is `origin`. */
export function fromColumns(ex: Vec3, ey: Vec3, ez: Vec3, origin: Vec3): Affine {
  return [
    ex[0],
    ey[0],
    ez[0],
    origin[0],
    ex[1],
    ey[1],
    ez[1],
    origin[1],
    ex[2],
    ey[2],
    ez[2],
    origin[2],
    0,
    0,
    0,
    1,
  ];
}

/** Column c (0..2: linear part, 3: translation) as a 3-vector. */
export function column(a: Affine, c: number): Vec3 {
  return [a[c], a[4 + c], a[8 + c]];
}

export function translation(t: Vec3): Affine {
  return fromColumns([1, 0, 0], [0, 1, 0], [0, 0, 1], t);
}

export function scaling(s: Vec3): Affine {
  return fromColumns([s[0], 0, 0], [0, s[1], 0], [0, 0, s[2]], [0, 0, 0]);
}

/**
 * Rotation by Euler angles in degrees: R = Rz(rz) * Ry(ry) * Rx(rx), i.e. about
 * x first, then y, then z, each about the fixed (extrinsic) axes, right-handed.
 */
export function rotationEulerDeg(rxDeg: number, ryDeg: number, rzDeg: number): Affine {
  const [ax, ay, az] = [rxDeg, ryDeg, rzDeg].map((d) => (d * Math.PI) / 180);
  const rx: Affine = [
    1,
    0,
    0,
    0,
    0,
    cosExact(ax),
    -sinExact(ax),
    0,
    0,
    sinExact(ax),
    cosExact(ax),
    0,
    0,
    0,
    0,
    1,
  ];
  const ry: Affine = [
    cosExact(ay),
    0,
    sinExact(ay),
    0,
    0,
    1,
    0,
    0,
    -sinExact(ay),
    0,
    cosExact(ay),
    0,
    0,
    0,
    0,
    1,
  ];
  const rz: Affine = [
    cosExact(az),
    -sinExact(az),
    0,
    0,
    sinExact(az),
    cosExact(az),
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ];
  return compose(rz, ry, rx);
}

/** cos/sin that return exact 0/±1 at multiples of 90 degrees (so quarter turns permute exactly). */
function cosExact(r: number): number {
  return snapQuarter(r, Math.cos(r));
}
function sinExact(r: number): number {
  return snapQuarter(r, Math.sin(r));
}
function snapQuarter(r: number, v: number): number {
  const q = r / (Math.PI / 2);
  if (Math.abs(q - Math.round(q)) < 1e-12) return Math.round(v);
  return v;
}

/** compose(a, b, c) = a * b * c: apply c first, then b, then a. */
export function compose(...ms: Affine[]): Affine {
  if (ms.length === 0) return IDENTITY;
  let acc = ms[ms.length - 1];
  for (let n = ms.length - 2; n >= 0; n--) acc = multiply(ms[n], acc);
  return acc;
}

function multiply(a: Affine, b: Affine): Affine {
  const out = new Array<number>(16);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      out[r * 4 + c] =
        a[r * 4] * b[c] + a[r * 4 + 1] * b[4 + c] + a[r * 4 + 2] * b[8 + c] + a[r * 4 + 3] * b[12 + c];
    }
  }
  out[12] = 0;
  out[13] = 0;
  out[14] = 0;
  out[15] = 1;
  return out;
}

/** Determinant of the linear 3x3 part. */
export function determinant3(a: Affine): number {
  return (
    a[0] * (a[5] * a[10] - a[6] * a[9]) -
    a[1] * (a[4] * a[10] - a[6] * a[8]) +
    a[2] * (a[4] * a[9] - a[5] * a[8])
  );
}

/** Exact inverse of an affine (cofactor formula in float64). Throws on a singular linear part. */
export function invert(a: Affine): Affine {
  const det = determinant3(a);
  const scale = Math.max(
    Math.abs(a[0]),
    Math.abs(a[1]),
    Math.abs(a[2]),
    Math.abs(a[4]),
    Math.abs(a[5]),
    Math.abs(a[6]),
    Math.abs(a[8]),
    Math.abs(a[9]),
    Math.abs(a[10]),
  );
  if (!Number.isFinite(det) || Math.abs(det) <= 1e-12 * scale * scale * scale || scale === 0) {
    throw new GeometryError('singular-affine', 'affine is singular (its linear part has no inverse)', {
      det,
    });
  }
  const inv = 1 / det;
  const m00 = (a[5] * a[10] - a[6] * a[9]) * inv;
  const m01 = (a[2] * a[9] - a[1] * a[10]) * inv;
  const m02 = (a[1] * a[6] - a[2] * a[5]) * inv;
  const m10 = (a[6] * a[8] - a[4] * a[10]) * inv;
  const m11 = (a[0] * a[10] - a[2] * a[8]) * inv;
  const m12 = (a[2] * a[4] - a[0] * a[6]) * inv;
  const m20 = (a[4] * a[9] - a[5] * a[8]) * inv;
  const m21 = (a[1] * a[8] - a[0] * a[9]) * inv;
  const m22 = (a[0] * a[5] - a[1] * a[4]) * inv;
  const tx = a[3];
  const ty = a[7];
  const tz = a[11];
  return [
    m00,
    m01,
    m02,
    -(m00 * tx + m01 * ty + m02 * tz),
    m10,
    m11,
    m12,
    -(m10 * tx + m11 * ty + m12 * tz),
    m20,
    m21,
    m22,
    -(m20 * tx + m21 * ty + m22 * tz),
    0,
    0,
    0,
    1,
  ];
}

/** a applied to the point p (translation included). */
export function applyPoint(a: Affine, p: Vec3): Vec3 {
  return [
    a[0] * p[0] + a[1] * p[1] + a[2] * p[2] + a[3],
    a[4] * p[0] + a[5] * p[1] + a[6] * p[2] + a[7],
    a[8] * p[0] + a[9] * p[1] + a[10] * p[2] + a[11],
  ];
}

/** a applied to the direction v (no translation). */
export function applyVector(a: Affine, v: Vec3): Vec3 {
  return [
    a[0] * v[0] + a[1] * v[1] + a[2] * v[2],
    a[4] * v[0] + a[5] * v[1] + a[6] * v[2],
    a[8] * v[0] + a[9] * v[1] + a[10] * v[2],
  ];
}

/** Length of each index axis in the target space (e.g. voxel spacing in mm for index -> patient). */
export function axisLengths(a: Affine): Vec3 {
  return [0, 1, 2].map((c) => Math.hypot(a[c], a[4 + c], a[8 + c])) as unknown as Vec3;
}

export function maxAbsDifference(a: Affine, b: Affine): number {
  let m = 0;
  for (let n = 0; n < 16; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}

// Small vector helpers shared by the geometry modules.
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return [a[0] / n, a[1] / n, a[2] / n];
}
