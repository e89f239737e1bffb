import { applyPoint } from '../geometry/affine';
import type { Vec3 } from '../geometry/conventions';
import { sliceStack, stackVoxelPosition } from '../geometry/dicomGeometry';
import { resampleSliceStack } from './sliceStackResample';

/** A tilted (IOP 1,0,0 / 0,cos,-sin), irregularly spaced stack like ge-head-gantry-tilt. */
function tiltedStack(nx: number, ny: number, gapsMm: number[], tiltDeg: number) {
  const t = (tiltDeg * Math.PI) / 180;
  const Y: Vec3 = [0, Math.cos(t), -Math.sin(t)];
  const N: Vec3 = [0, Math.sin(t), Math.cos(t)];
  // slices move along world z (the table): offset in-plane along Y by z * tan(t) -> tilt
  const positions: Vec3[] = [];
  let d = 0;
  for (let k = 0; k <= gapsMm.length; k++) {
    const z = d / Math.cos(t); // table travel so that the distance along N is d
    positions.push([-30.25, -40.5 + 0, 12.75 + z]);
    if (k < gapsMm.length) d += gapsMm[k];
  }
  const slices = positions.map((p) => ({
    imagePositionPatient: p,
    imageOrientationPatient: [1, 0, 0, ...Y],
    pixelSpacing: [0.8, 0.6],
    rows: ny,
    columns: nx,
    id: `${p[2]}`,
  }));
  return { stack: sliceStack(slices.reverse()), N };
}

const field = (p: Vec3): number => 3.5 * p[0] - 2.25 * p[1] + 1.75 * p[2] + 100;

test('exact for fields linear in patient space (tilted, irregular gaps)', () => {
  const nx = 20;
  const ny = 16;
  const { stack, N } = tiltedStack(nx, ny, [1.08, 7.0, 2.5, 3.25, 1.5], 18.5);
  const data = new Float32Array(nx * ny * stack.dims[2]);
  for (let k = 0; k < stack.dims[2]; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[(k * ny + j) * nx + i] = field(stackVoxelPosition(stack, i, j, k));
  const v = resampleSliceStack(stack, data, { sliceSpacingMm: 0.7, fill: -9999 });
  // orthogonal grid along X, Y, N
  const a = v.affine;
  expect(Math.abs(a[2] * N[0] + a[6] * N[1] + a[10] * N[2] - 0.7)).toBeLessThan(1e-12);
  let covered = 0;
  let worst = 0;
  for (let k = 0; k < v.dims[2]; k++) {
    for (let j = 0; j < v.dims[1]; j++) {
      for (let i = 0; i < v.dims[0]; i++) {
        const val = v.data[(k * v.dims[1] + j) * v.dims[0] + i];
        if (val === -9999) continue;
        covered++;
        const expected = field(applyPoint(a, [i, j, k]));
        worst = Math.max(worst, Math.abs(val - expected) / (Math.abs(expected) + 1));
      }
    }
  }
  expect(covered).toBeGreaterThan(0.3 * v.data.length);
  expect(worst).toBeLessThan(1e-6);
  // the whole extent along N is covered: first and last target planes are the first and last slices
  const first = applyPoint(a, [0, 0, 0]);
  const last = applyPoint(a, [0, 0, v.dims[2] - 1]);
  const along = (p: Vec3): number => p[0] * N[0] + p[1] * N[1] + p[2] * N[2];
  expect(along(first)).toBeCloseTo(stack.distancesMm[0], 9);
  expect(stack.distancesMm[stack.dims[2] - 1] - along(last)).toBeLessThan(0.7);
});

test('points outside the covered region get the fill value; default slice spacing keeps the count', () => {
  const { stack } = tiltedStack(8, 8, [2, 2, 2], 20);
  const data = new Float32Array(8 * 8 * 4).fill(5);
  const v = resampleSliceStack(stack, data);
  expect(v.dims[2]).toBe(4);
  expect(v.dims[1]).toBeGreaterThan(8); // union of the shifted slices
  const values = new Set(Array.from(v.data).map((x) => Math.round(x * 1e4) / 1e4));
  expect([...values].sort()).toEqual([5]); // fill defaults to the data minimum (5)
});

/** The definition, one target voxel at a time (module comment): what resampleSliceStack must equal. */
function definition(
  stack: ReturnType<typeof sliceStack>,
  data: Float32Array,
  v: { dims: readonly number[]; affine: Parameters<typeof applyPoint>[0] },
  fill: number,
): Float32Array {
  const [nx, ny, nz] = stack.dims;
  const [dx, dy] = stack.inPlaneSpacingMm;
  const dotv = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const d = stack.distancesMm;
  const sample = (s: number, p: Vec3): number | null => {
    const q = stack.positions[s];
    const r: Vec3 = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
    let u = dotv(r, stack.rowDirection) / dx;
    let w = dotv(r, stack.columnDirection) / dy;
    if (u < -1e-6 || u > nx - 1 + 1e-6 || w < -1e-6 || w > ny - 1 + 1e-6) return null;
    u = Math.min(Math.max(u, 0), nx - 1);
    w = Math.min(Math.max(w, 0), ny - 1);
    const i0 = Math.min(Math.floor(u), nx - 2);
    const j0 = Math.min(Math.floor(w), ny - 2);
    const at = (i: number, j: number) => data[(s * ny + j) * nx + i];
    const fx = u - i0;
    const fy = w - j0;
    const top = at(i0, j0) + fx * (at(i0 + 1, j0) - at(i0, j0));
    const bottom = at(i0, j0 + 1) + fx * (at(i0 + 1, j0 + 1) - at(i0, j0 + 1));
    return top + fy * (bottom - top);
  };
  const out = new Float32Array(v.dims[0] * v.dims[1] * v.dims[2]);
  let n = 0;
  for (let k = 0; k < v.dims[2]; k++)
    for (let j = 0; j < v.dims[1]; j++)
      for (let i = 0; i < v.dims[0]; i++, n++) {
        const p = applyPoint(v.affine, [i, j, k]);
        const dist = dotv(p, stack.normal);
        let s = 0;
        while (s < nz - 2 && d[s + 1] < dist - 1e-6) s++;
        const t = Math.min(Math.max((dist - d[s]) / (d[s + 1] - d[s]), 0), 1);
        const a = sample(s, p);
        const b = sample(s + 1, p);
        out[n] = a === null || b === null ? fill : (1 - t) * a + t * b;
      }
  return out;
}

test('random data on random tilted, irregular stacks: the per-voxel definition, fill where not covered', () => {
  let seed = 3;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 12; trial++) {
    const nx = 4 + Math.floor(rand() * 12);
    const ny = 4 + Math.floor(rand() * 12);
    const gaps = Array.from({ length: 2 + Math.floor(rand() * 4) }, () => 0.5 + rand() * 4);
    const { stack } = tiltedStack(nx, ny, gaps, rand() * 30 - 15);
    const data = new Float32Array(nx * ny * stack.dims[2]).map(() => rand() * 2000 - 1000);
    const v = resampleSliceStack(stack, data, { sliceSpacingMm: 0.4 + rand(), fill: -5000 });
    const ref = definition(stack, data, v, -5000);
    let covered = 0;
    let edge = 0;
    for (let n = 0; n < ref.length; n++) {
      // a point on the very edge of the cover may fall either side of it by rounding: counted
      if ((ref[n] === -5000) !== (v.data[n] === -5000)) edge++;
      else if (ref[n] !== -5000) {
        covered++;
        expect(Math.abs(v.data[n] - ref[n])).toBeLessThan(2e-3);
      }
    }
    expect(covered).toBeGreaterThan(0.3 * ref.length);
    expect(edge).toBeLessThanOrEqual(0.02 * covered);
  }
});
