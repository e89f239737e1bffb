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
