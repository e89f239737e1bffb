import { boneShape, componentSizes, enclosedAirMask, lungShape } from '../../scripts/bench/anatomyShape';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';

/** A phantom whose lung voxels are counted as it is built (the truth the measure must reproduce). */
function phantom() {
  const dims: Dims3 = [40, 30, 20];
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz).fill(-1000);
  const at = (i: number, j: number, k: number) => (k * ny + j) * nx + i;
  const box = (i0: number, i1: number, j0: number, j1: number, k0: number, k1: number, hu: number) => {
    let n = 0;
    for (let k = k0; k < k1; k++)
      for (let j = j0; j < j1; j++)
        for (let i = i0; i < i1; i++) {
          data[at(i, j, k)] = hu;
          n++;
        }
    return n;
  };
  box(2, 38, 2, 28, 0, nz, 40); // the body: soft tissue in every slice
  // two lungs running through the first and last slice (a crop cutting through them along k)
  const lungs = box(5, 15, 5, 25, 0, nz, -800) + box(25, 35, 5, 25, 0, nz, -800);
  // three isolated air pockets inside the body
  const pockets = [at(18, 10, 5), at(20, 20, 10), at(21, 6, 15)];
  for (const p of pockets) data[p] = -900;
  return { dims, data, at, box, lungs, pockets: pockets.length };
}

describe('lung shape measure', () => {
  it('counts enclosed air as lung, in components, largest first', () => {
    const p = phantom();
    const sizes = componentSizes(enclosedAirMask(p.data, p.dims), p.dims);
    expect(sizes).toEqual([p.lungs / 2, p.lungs / 2, 1, 1, 1]);
    const s = lungShape(p.data, p.dims);
    const lung = p.lungs + p.pockets;
    expect(s.components).toBe(5);
    expect(s.lungFraction).toBeCloseTo(lung / p.data.length, 12);
    expect(s.fragmentation).toBeCloseTo(p.pockets / lung, 12);
    // the phantom's lungs are -800 HU, its pockets -900, the air around the body -1000
    expect(s.meanHu).toBeCloseTo((-800 * p.lungs - 900 * p.pockets) / lung, 9);
    expect(s.outsideMeanHu).toBe(-1000);
  });

  it('does not count air open to the border of its axial plane', () => {
    const p = phantom();
    // a channel from the right lung to the slice border in slices 8-9: those slices' right lung is outside
    p.box(35, 40, 10, 12, 8, 10, -1000);
    p.box(38, 40, 0, 30, 8, 10, -1000);
    const s = lungShape(p.data, p.dims);
    const opened = 10 * 20 * 2; // the right lung in slices 8 and 9
    // the right lung's remainder is two pieces (slices 0-7 and 10-19)
    expect(componentSizes(enclosedAirMask(p.data, p.dims), p.dims)).toEqual([
      p.lungs / 2,
      10 * 20 * 10,
      10 * 20 * 8,
      1,
      1,
      1,
    ]);
    expect(s.lungFraction).toBeCloseTo((p.lungs - opened + p.pockets) / p.data.length, 12);
  });

  it('reads lungs broken into patches as fragmented, and no lungs as none', () => {
    const dims: Dims3 = [24, 24, 24];
    const data = new Float32Array(24 ** 3).fill(30);
    // 27 separate 2x2x2 air cubes on a lattice: the two largest hold 2 / 27 of the air
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++)
        for (let c = 0; c < 3; c++)
          for (let k = 0; k < 2; k++)
            for (let j = 0; j < 2; j++)
              for (let i = 0; i < 2; i++)
                data[((4 + 6 * c + k) * 24 + 4 + 6 * b + j) * 24 + 4 + 6 * a + i] = -700;
    const s = lungShape(data, dims);
    expect(s.components).toBe(27);
    expect(s.fragmentation).toBeCloseTo(25 / 27, 12);
    expect(lungShape(new Float32Array(24 ** 3).fill(30), dims)).toEqual({
      lungFraction: 0,
      fragmentation: 0,
      components: 0,
      meanHu: NaN,
      outsideMeanHu: NaN,
    });
    expect(() => lungShape(new Float32Array(10), dims)).toThrow(/10 values for grid 24x24x24/);
  });
});

describe('bone shape measure', () => {
  it('gives the share of bone in the largest component', () => {
    const dims: Dims3 = [20, 20, 30];
    const data = new Float32Array(20 * 20 * 30).fill(40);
    const at = (i: number, j: number, k: number) => (k * 20 + j) * 20 + i;
    // a 3x3 "spine" through every slice (270 voxels) and 10 separate specks (one voxel each)
    for (let k = 0; k < 30; k++)
      for (let j = 14; j < 17; j++) for (let i = 9; i < 12; i++) data[at(i, j, k)] = 500;
    for (let n = 0; n < 10; n++) data[at(2, 2 + (n % 5) * 3, 3 + Math.floor(n / 5) * 10)] = 300;
    const s = boneShape(data, dims);
    expect(s.components).toBe(11);
    expect(s.largestShare).toBeCloseTo(270 / 280, 12);
    expect(s.gridShare).toBeCloseTo(280 / data.length, 12);
    // just below the threshold is not bone
    data.fill(199.9);
    expect(boneShape(data, dims)).toEqual({ gridShare: 0, largestShare: 0, components: 0 });
  });
});
