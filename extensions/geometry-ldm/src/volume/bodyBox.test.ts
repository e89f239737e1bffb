import type { Dims3 } from '../geometry/conventions';
import { bodyBox } from './bodyBox';

/** The box by brute force: every voxel's index against every axis' min and max. */
function bruteForce(data: Float32Array, dims: Dims3, above: number, margin: number) {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  data.forEach((v, q) => {
    if (!(v > above)) return;
    const ijk = [q % dims[0], Math.floor(q / dims[0]) % dims[1], Math.floor(q / (dims[0] * dims[1]))];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], ijk[a]);
      hi[a] = Math.max(hi[a], ijk[a]);
    }
  });
  if (lo[0] === Infinity) return null;
  const start = lo.map((l) => Math.max(0, l - margin));
  const end = hi.map((h, a) => Math.min(dims[a] - 1, h + margin));
  return { start, dims: end.map((e, a) => e - start[a] + 1) };
}

describe('bodyBox', () => {
  it('is the bounding box of the voxels above the threshold, grown and clipped (random volumes)', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let trial = 0; trial < 40; trial++) {
      const dims: Dims3 = [
        1 + Math.floor(rand() * 17),
        1 + Math.floor(rand() * 13),
        1 + Math.floor(rand() * 11),
      ];
      const data = new Float32Array(dims[0] * dims[1] * dims[2]).fill(-1000);
      // a few body voxels (none in some trials), some exactly at the threshold (not body)
      const n = Math.floor(rand() * 4);
      for (let b = 0; b < n; b++) data[Math.floor(rand() * data.length)] = rand() < 0.3 ? -500 : 40;
      const margin = Math.floor(rand() * 5);
      expect(bodyBox(data, dims, { aboveHu: -500, marginVoxels: margin })).toEqual(
        bruteForce(data, dims, -500, margin),
      );
    }
  });

  it('a body across the whole grid gives the whole grid; NaN is not body', () => {
    const dims: Dims3 = [4, 3, 2];
    const data = new Float32Array(24).fill(NaN);
    expect(bodyBox(data, dims, { aboveHu: -500, marginVoxels: 2 })).toBeNull();
    data[0] = 0;
    data[23] = 0;
    expect(bodyBox(data, dims, { aboveHu: -500, marginVoxels: 0 })).toEqual({
      start: [0, 0, 0],
      dims: [4, 3, 2],
    });
  });

  it('refuses data that does not fit the grid', () => {
    expect(() => bodyBox(new Float32Array(5), [2, 2, 2], { aboveHu: 0, marginVoxels: 0 })).toThrow(
      /5 values for a 2 x 2 x 2 grid/,
    );
  });
});
