import { reslice } from '../../scripts/bench/sr-quality-entry';
import { applyPoint, type Affine } from '../../extensions/geometry-ldm/src/geometry/affine';
import { makeVolume } from '../../extensions/geometry-ldm/src/volume/volume';

describe('reslice (sr-quality: the truth as a sagittal or coronal reformat)', () => {
  // 3 x 4 x 5 voxels, distinct values; 0.7 x 0.8 mm pixels, 2.5 mm slices, an oblique-free axial scan
  const affine: Affine = [0.7, 0, 0, -50, 0, 0.8, 0, 20, 0, 0, 2.5, 100, 0, 0, 0, 1];
  const v = makeVolume(
    [3, 4, 5],
    affine,
    Float32Array.from({ length: 60 }, (_, n) => n * 7 - 100),
    'HU',
  );
  const at = (dims: readonly number[], i: number, j: number, k: number) => (k * dims[1] + j) * dims[0] + i;

  it.each([
    ['sagittal', [4, 5, 3], 0],
    ['coronal', [3, 5, 4], 1],
  ] as const)(
    '%s: every voxel keeps its value and patient position; k runs along old axis %#',
    (o, dims, _) => {
      const r = reslice(v, o);
      expect(r.dims).toEqual(dims);
      let n = 0;
      for (let k = 0; k < r.dims[2]; k++)
        for (let j = 0; j < r.dims[1]; j++)
          for (let i = 0; i < r.dims[0]; i++) {
            const p = applyPoint(r.affine, [i, j, k]);
            // the old index of that patient point (the axial affine is diagonal)
            const old = [(p[0] + 50) / 0.7, (p[1] - 20) / 0.8, (p[2] - 100) / 2.5].map((x) => Math.round(x));
            expect(r.data[at(r.dims, i, j, k)]).toBe(v.data[at(v.dims, old[0], old[1], old[2])]);
            n++;
          }
      expect(n).toBe(60);
      // the slice axis is the old i (sagittal: left-right, 0.7 mm) or j (coronal: front-back, 0.8 mm)
      const slice = [r.affine[2], r.affine[6], r.affine[10]];
      expect(slice).toEqual(o === 'sagittal' ? [0.7, 0, 0] : [0, 0.8, 0]);
    },
  );

  it('axial is the volume itself', () => {
    expect(reslice(v, 'axial')).toBe(v);
  });
});
