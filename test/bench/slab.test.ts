import { slab } from '../../scripts/bench/generation-quality-entry';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';
import type { Affine } from '../../extensions/geometry-ldm/src/geometry/affine';

describe('slab of a reference scan', () => {
  // 2 x 2 x 5 voxels, value = slice index; 0.5 x 0.5 mm pixels, 3 mm slices along -z, origin (10, 20, 30)
  const affine: Affine = [0.5, 0, 0, 10, 0, 0.5, 0, 20, 0, 0, -3, 30, 0, 0, 0, 1];
  const v = makeVolume(
    [2, 2, 5],
    affine,
    Float32Array.from({ length: 20 }, (_, n) => Math.floor(n / 4)),
    'HU',
  );

  it('keeps slices [start, stop) where they were in patient space', () => {
    const s = slab(v, 1, 3);
    expect(s.dims).toEqual([2, 2, 2]);
    expect(Array.from(s.data)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    // its first voxel is the source's voxel (0, 0, 1): z = 30 - 3
    expect(s.affine[3]).toBeCloseTo(10, 12);
    expect(s.affine[7]).toBeCloseTo(20, 12);
    expect(s.affine[11]).toBeCloseTo(27, 12);
    expect(s.affine[10]).toBe(-3);
  });

  it('reads null as "to the end" and refuses slices outside the volume', () => {
    expect(slab(v, 3, null).dims).toEqual([2, 2, 2]);
    expect(() => slab(v, 4, 7)).toThrow(/slices \[4, 7\) outside the volume's 5 slices/);
    expect(() => slab(v, 2, 2)).toThrow(/outside/);
  });
});
