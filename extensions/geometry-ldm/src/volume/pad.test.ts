import { applyPoint, compose, rotationEulerDeg, scaling, translation, type Affine } from '../geometry/affine';
import type { Dims3, Vec3 } from '../geometry/conventions';
import { crop, cropOrPadGrid, boxGrid, padToMultiple, paddedSize, type CropBox } from './pad';
import { makeVolume, VolumeError, type Volume } from './volume';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An oblique, anisotropic, far-from-origin geometry, so that round-off would show. */
const AFFINE: Affine = compose(
  translation([-251.37, 163.9, -1204.55]),
  rotationEulerDeg(13, -7, 29),
  scaling([0.703125, 0.703125, 2.5]),
);

function randomVolume(dims: Dims3, seed: number): Volume {
  const r = rng(seed);
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let n = 0; n < data.length; n++) data[n] = Math.fround(r() * 4000 - 1000);
  return makeVolume(dims, AFFINE, data, 'HU');
}

function at(v: Volume, i: number, j: number, k: number): number {
  return v.data[(k * v.dims[1] + j) * v.dims[0] + i];
}

function distance(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VolumeError);
    return (e as VolumeError).code;
  }
  return undefined;
}

/** Every voxel of `orig` sits at index p + box.start of `padded`, with the same value and patient position. */
function expectOriginalInside(orig: Volume, padded: Volume, box: CropBox): void {
  const [nx, ny, nz] = orig.dims;
  let worst = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const q: Vec3 = [i + box.start[0], j + box.start[1], k + box.start[2]];
        if (at(padded, q[0], q[1], q[2]) !== at(orig, i, j, k))
          throw new Error(`value moved at (${i}, ${j}, ${k})`);
        worst = Math.max(worst, distance(applyPoint(orig.affine, [i, j, k]), applyPoint(padded.affine, q)));
      }
  expect(worst).toBeLessThan(1e-9);
}

describe('paddedSize', () => {
  it('rounds up to a multiple', () => {
    expect([1, 7, 8, 9, 16, 17].map((n) => paddedSize(n, 8))).toEqual([8, 8, 8, 16, 16, 24]);
  });
});

describe('padToMultiple', () => {
  it('pads odd sizes centred with the extra voxel on the high side', () => {
    const v = randomVolume([5, 8, 13], 1);
    const { volume, box } = padToMultiple(v, 8, { fill: -1024 });
    expect(volume.dims).toEqual([8, 8, 16]);
    // x: 3 added = 1 low + 2 high; y: none; z: 3 added = 1 low + 2 high.
    expect(box).toEqual({ start: [1, 0, 1], dims: [5, 8, 13] });
    expect(volume.unit).toBe('HU');
    expectOriginalInside(v, volume, box);
    // Everything else is the fill.
    let filled = 0;
    for (let k = 0; k < 16; k++)
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const inside = i >= 1 && i < 6 && k >= 1 && k < 14;
          if (!inside) {
            expect(at(volume, i, j, k)).toBe(-1024);
            filled++;
          }
        }
    expect(filled).toBe(8 * 8 * 16 - 5 * 8 * 13);
  });

  it("'edge' repeats the nearest original voxel", () => {
    const v = randomVolume([3, 6, 2], 2);
    const { volume, box } = padToMultiple(v, 4, { fill: 'edge' });
    expect(volume.dims).toEqual([4, 8, 4]);
    expect(box.start).toEqual([0, 1, 1]);
    expectOriginalInside(v, volume, box);
    const clamp = (x: number, n: number) => Math.min(Math.max(x, 0), n - 1);
    for (let k = 0; k < 4; k++)
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 4; i++)
          expect(at(volume, i, j, k)).toBe(at(v, clamp(i - 0, 3), clamp(j - 1, 6), clamp(k - 1, 2)));
  });

  it('leaves sizes that already are multiples unchanged (a copy)', () => {
    const v = randomVolume([8, 16, 24], 3);
    const { volume, box } = padToMultiple(v, 8, { fill: 0 });
    expect(volume.dims).toEqual([8, 16, 24]);
    expect(box).toEqual({ start: [0, 0, 0], dims: [8, 16, 24] });
    expect(volume.affine).toEqual(AFFINE);
    expect(Array.from(volume.data)).toEqual(Array.from(v.data));
    expect(volume.data).not.toBe(v.data);
  });

  it('takes a multiple per axis', () => {
    const v = randomVolume([5, 5, 5], 4);
    const { volume, box } = padToMultiple(v, [1, 2, 8], { fill: 0 });
    expect(volume.dims).toEqual([5, 6, 8]);
    expect(box.start).toEqual([0, 0, 1]);
    expectOriginalInside(v, volume, box);
  });

  it('round trip pad -> crop restores values and geometry, for many sizes', () => {
    for (let seed = 10; seed < 30; seed++) {
      const r = rng(seed);
      const dims = [0, 1, 2].map(() => 1 + Math.floor(r() * 19)) as unknown as Dims3;
      const m = [2, 3, 8, 16][seed % 4];
      const v = randomVolume(dims, seed);
      const { volume, box } = padToMultiple(v, m, { fill: seed % 2 ? 'edge' : 7 });
      for (let a = 0; a < 3; a++) {
        expect(volume.dims[a] % m).toBe(0);
        expect(volume.dims[a]).toBeGreaterThanOrEqual(dims[a]);
        expect(volume.dims[a] - dims[a]).toBeLessThan(m);
        const added = volume.dims[a] - dims[a];
        expect(box.start[a]).toBe(Math.floor(added / 2));
      }
      expectOriginalInside(v, volume, box);
      const back = crop(volume, box);
      expect(back.dims).toEqual(dims);
      expect(Array.from(back.data)).toEqual(Array.from(v.data));
      for (let n = 0; n < 16; n++) expect(Math.abs(back.affine[n] - AFFINE[n])).toBeLessThan(1e-9);
    }
  });

  it('rejects bad multiples and fills', () => {
    const v = randomVolume([4, 4, 4], 5);
    expect(code(() => padToMultiple(v, 0, { fill: 0 }))).toBe('invalid-argument');
    expect(code(() => padToMultiple(v, 2.5, { fill: 0 }))).toBe('invalid-argument');
    expect(code(() => padToMultiple(v, [8, 8] as unknown as Dims3, { fill: 0 }))).toBe('invalid-argument');
    expect(code(() => padToMultiple(v, 8, { fill: 'zero' as unknown as number }))).toBe('invalid-argument');
  });
});

describe('crop', () => {
  const v = randomVolume([6, 5, 4], 6);

  it('extracts a box inside the volume, keeping patient positions', () => {
    const box: CropBox = { start: [1, 2, 1], dims: [4, 2, 3] };
    const c = crop(v, box);
    expect(c.dims).toEqual([4, 2, 3]);
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 2; j++)
        for (let i = 0; i < 4; i++) {
          expect(at(c, i, j, k)).toBe(at(v, i + 1, j + 2, k + 1));
          const d = distance(applyPoint(c.affine, [i, j, k]), applyPoint(v.affine, [i + 1, j + 2, k + 1]));
          expect(d).toBeLessThan(1e-9);
        }
  });

  it('needs a fill for a box reaching outside the volume', () => {
    const box: CropBox = { start: [-1, 0, 2], dims: [3, 5, 3] };
    expect(code(() => crop(v, box))).toBe('invalid-argument');
    const c = crop(v, box, { fill: NaN });
    expect(c.dims).toEqual([3, 5, 3]);
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 5; j++)
        for (let i = 0; i < 3; i++) {
          const src: Vec3 = [i - 1, j, k + 2];
          const inside = src[0] >= 0 && src[2] < 4;
          if (inside) expect(at(c, i, j, k)).toBe(at(v, src[0], src[1], src[2]));
          else expect(at(c, i, j, k)).toBeNaN();
        }
  });

  it('a box entirely outside gets only fill / edge values', () => {
    const far = crop(v, { start: [10, 0, 0], dims: [2, 1, 1] }, { fill: 'edge' });
    expect(Array.from(far.data)).toEqual([at(v, 5, 0, 0), at(v, 5, 0, 0)]);
    const before = crop(v, { start: [-4, -2, 0], dims: [2, 1, 1] }, { fill: 'edge' });
    expect(Array.from(before.data)).toEqual([at(v, 0, 0, 0), at(v, 0, 0, 0)]);
    const filled = crop(v, { start: [0, 9, 0], dims: [2, 1, 1] }, { fill: 3 });
    expect(Array.from(filled.data)).toEqual([3, 3]);
  });

  it('rejects malformed boxes', () => {
    expect(code(() => crop(v, { start: [0.5, 0, 0], dims: [1, 1, 1] }))).toBe('invalid-argument');
    expect(code(() => crop(v, { start: [0, 0, 0], dims: [0, 1, 1] }))).toBe('invalid-argument');
    expect(code(() => crop(v, { start: [0, 0], dims: [1, 1, 1] } as unknown as CropBox))).toBe(
      'invalid-argument',
    );
  });
});

describe('cropOrPadGrid', () => {
  const grid = { dims: [13, 16, 7] as Dims3, affine: AFFINE };

  it("'pad' (default) gives the padToMultiple geometry", () => {
    const { grid: g, box } = cropOrPadGrid(grid, 8);
    expect(g.dims).toEqual([16, 16, 8]);
    // 3 added on x: 1 low, 2 high; 1 added on z: 0 low, 1 high.
    expect(box).toEqual({ start: [1, 0, 0], dims: [13, 16, 7] });
    // Voxel 0 of the new grid sits one voxel before the old voxel 0 along i.
    expect(distance(applyPoint(g.affine, [0, 0, 0]), applyPoint(AFFINE, [-1, 0, 0]))).toBeLessThan(1e-9);
    expect(distance(applyPoint(g.affine, [5, 6, 7]), applyPoint(AFFINE, [4, 6, 7]))).toBeLessThan(1e-9);
    // Padding a volume on that grid gives the same (independently stated) geometry.
    const padded = padToMultiple(randomVolume(grid.dims, 7), 8, { fill: 0 });
    expect(padded.volume.dims).toEqual([16, 16, 8]);
    expect(padded.box).toEqual({ start: [1, 0, 0], dims: [13, 16, 7] });
    expect(
      distance(applyPoint(padded.volume.affine, [0, 0, 0]), applyPoint(AFFINE, [-1, 0, 0])),
    ).toBeLessThan(1e-9);
  });

  it("'crop' removes voxels, the extra one on the high side, and its box reaches outside", () => {
    const { grid: g, box } = cropOrPadGrid(grid, 8, 'crop');
    // x: 13 -> 8 removes 5 = 2 low + 3 high; y unchanged; z: 7 -> 8 (at least m) adds 1 on the high side.
    expect(g.dims).toEqual([8, 16, 8]);
    expect(box).toEqual({ start: [-2, 0, 0], dims: [13, 16, 7] });
    expect(distance(applyPoint(g.affine, [0, 0, 0]), applyPoint(AFFINE, [2, 0, 0]))).toBeLessThan(1e-9);
  });

  it("'nearest' picks the closer multiple (ties pad)", () => {
    const { grid: g } = cropOrPadGrid({ dims: [11, 13, 12], affine: AFFINE }, 8, 'nearest');
    expect(g.dims).toEqual([8, 16, 16]);
  });

  it('crop then pad back restores the original grid', () => {
    const v = randomVolume([13, 10, 9], 8);
    const { grid: g, box } = cropOrPadGrid(v, 4, 'crop');
    expect(g.dims).toEqual([12, 8, 8]);
    const cropped = crop(v, { start: [0 - box.start[0], 0 - box.start[1], 0 - box.start[2]], dims: g.dims });
    expect(cropped.dims).toEqual(g.dims);
    const restored = crop(cropped, box, { fill: -1 });
    expect(restored.dims).toEqual(v.dims);
    for (let n = 0; n < 16; n++) expect(Math.abs(restored.affine[n] - AFFINE[n])).toBeLessThan(1e-9);
    // Voxels that survived the crop are back in place; the rest are the fill.
    for (let k = 0; k < 9; k++)
      for (let j = 0; j < 10; j++)
        for (let i = 0; i < 13; i++) {
          const kept = i < 12 && j >= 1 && j < 9 && k < 8;
          expect(at(restored, i, j, k)).toBe(kept ? at(v, i, j, k) : -1);
        }
  });

  it('boxGrid places a box of a grid in patient space', () => {
    const g = boxGrid(grid, { start: [-3, 2, 5], dims: [2, 2, 2] });
    expect(g.dims).toEqual([2, 2, 2]);
    expect(distance(applyPoint(g.affine, [1, 1, 1]), applyPoint(AFFINE, [-2, 3, 6]))).toBeLessThan(1e-9);
  });

  it('rejects a bad mode', () => {
    expect(code(() => cropOrPadGrid(grid, 8, 'grow' as unknown as 'pad'))).toBe('invalid-argument');
  });
});
