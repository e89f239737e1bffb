import { applyPoint, compose, rotationEulerDeg, translation, type Affine } from './affine';
import {
  avgPool,
  coordinateChannels,
  latentAffine,
  latentConditioning,
  pooledDims,
} from './coordinateChannels';
import type { Dims3 } from './conventions';
import { resolveGeometry } from './generationGeometry';
import type { GroupSpace } from './groupSpace';

const cube: GroupSpace = { kind: 'scan-extent', originMm: [-100, -100, -100], extentMm: [200, 200, 200] };
const body: GroupSpace = { kind: 'anatomical', originMm: [-250, -200, -900], extentMm: [500, 400, 900] };

function at(ch: Float32Array, dims: Dims3, c: number, i: number, j: number, k: number): number {
  return ch[c * dims[0] * dims[1] * dims[2] + (k * dims[1] + j) * dims[0] + i];
}

describe('coordinate channels', () => {
  it('hold A * (i, j, k, 1) for every voxel, channel-major [3][nz][ny][nx]', () => {
    const a: Affine = [0.1, 0.02, -0.03, 0.2, 0.0, 0.05, 0.01, -0.1, 0.004, 0, 0.07, 0.3, 0, 0, 0, 1];
    const dims: Dims3 = [5, 4, 3];
    const ch = coordinateChannels(dims, a);
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 5; i++) {
          const p = applyPoint(a, [i, j, k]);
          for (let c = 0; c < 3; c++) expect(at(ch, dims, c, i, j, k)).toBeCloseTo(p[c], 6);
        }
  });

  it.each([[[96, 96, 104]], [[16, 24, 40]], [[8, 8, 8]], [[272, 16, 288]]] as Dims3[][])(
    'axis-aligned whole-body channels run 0..1 on grid %j',
    (dims) => {
      const g = resolveGeometry({ kind: 'fov', dims }, body);
      const ch = coordinateChannels(dims, g.indexToGroup);
      const [nx, ny, nz] = dims;
      // Independent truth: linspace(0, 1, n) along the channel's own axis, constant along the others.
      for (const [i, j, k] of [
        [0, 0, 0],
        [nx - 1, ny - 1, nz - 1],
        [Math.floor(nx / 3), Math.floor(ny / 2), Math.floor(nz / 5)],
      ]) {
        expect(at(ch, dims, 0, i, j, k)).toBeCloseTo(i / (nx - 1), 6);
        expect(at(ch, dims, 1, i, j, k)).toBeCloseTo(j / (ny - 1), 6);
        expect(at(ch, dims, 2, i, j, k)).toBeCloseTo(k / (nz - 1), 6);
      }
      for (let c = 0; c < 3; c++) {
        const part = ch.subarray(c * nx * ny * nz, (c + 1) * nx * ny * nz);
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of part) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(lo).toBeCloseTo(0, 6);
        expect(hi).toBeCloseTo(1, 6);
      }
    },
  );

  it('pooled channels of any affine field equal the direct latent-centre channels', () => {
    const specs: Array<{ dims: Dims3; a: Affine }> = [
      { dims: [32, 24, 40], a: resolveGeometry({ kind: 'fov', dims: [32, 24, 40] }, body).indexToGroup },
      {
        dims: [24, 16, 32],
        a: resolveGeometry(
          {
            kind: 'fov',
            dims: [24, 16, 32],
            fov: [
              [0.2, 0.7],
              [0.1, 0.9],
              [0.5, 1],
            ],
            rotationDeg: [10, -25, 40],
          },
          body,
        ).indexToGroup,
      },
      // shear + odd sizes (remainders are dropped like AvgPool3d)
      {
        dims: [19, 17, 26],
        a: [0.03, 0.01, 0.002, -0.1, -0.004, 0.05, 0.01, 0.2, 0.001, 0.003, 0.04, 0.05, 0, 0, 0, 1],
      },
    ];
    for (const { dims, a } of specs) {
      const pooled = avgPool(coordinateChannels(dims, a), dims, 3);
      const direct = latentConditioning(dims, a);
      expect(direct.length).toBe(pooled.length);
      let maxErr = 0;
      for (let n = 0; n < pooled.length; n++) maxErr = Math.max(maxErr, Math.abs(pooled[n] - direct[n]));
      expect(maxErr).toBeLessThan(2e-6);
    }
  });

  it('avgPool matches a naive definition of AvgPool3d(8, 8)', () => {
    const dims: Dims3 = [17, 9, 16];
    const n = 17 * 9 * 16;
    const data = new Float32Array(2 * n).map((_, q) => Math.sin(q * 0.37) * 10);
    const pooled = avgPool(data, dims, 2);
    const pd = pooledDims(dims);
    expect(pd).toEqual([2, 1, 2]);
    for (let c = 0; c < 2; c++)
      for (let K = 0; K < pd[2]; K++)
        for (let J = 0; J < pd[1]; J++)
          for (let I = 0; I < pd[0]; I++) {
            let s = 0;
            for (let k = 8 * K; k < 8 * K + 8; k++)
              for (let j = 8 * J; j < 8 * J + 8; j++)
                for (let i = 8 * I; i < 8 * I + 8; i++) s += data[c * n + (k * 9 + j) * 17 + i];
            expect(pooled[c * 4 + (K * pd[1] + J) * pd[0] + I]).toBeCloseTo(s / 512, 5);
          }
  });

  it('latent voxel centres sit at image index 8I + 3.5', () => {
    const a = translation([0, 0, 0]);
    expect(applyPoint(latentAffine(a), [0, 0, 0])).toEqual([3.5, 3.5, 3.5]);
    expect(applyPoint(latentAffine(a), [2, 1, 0])).toEqual([19.5, 11.5, 3.5]);
  });

  it('a 90 degree rotation about z permutes the channels', () => {
    // Cube group space and cube grid: rotating the FOV by +90 deg about z maps index axis i onto
    // patient +y and j onto patient -x, so u_rot(i,j,k) = 1 - j/(n-1), v_rot = i/(n-1), w_rot = k/(n-1).
    const dims: Dims3 = [9, 9, 9];
    const rot = resolveGeometry({ kind: 'fov', dims, rotationDeg: [0, 0, 90] }, cube);
    const ch = coordinateChannels(dims, rot.indexToGroup);
    for (let k = 0; k < 9; k += 2)
      for (let j = 0; j < 9; j += 3)
        for (let i = 0; i < 9; i++) {
          expect(at(ch, dims, 0, i, j, k)).toBeCloseTo(1 - j / 8, 6);
          expect(at(ch, dims, 1, i, j, k)).toBeCloseTo(i / 8, 6);
          expect(at(ch, dims, 2, i, j, k)).toBeCloseTo(k / 8, 6);
        }
    // And about x: j -> +z, k -> -y.
    const rx = resolveGeometry({ kind: 'fov', dims, rotationDeg: [90, 0, 0] }, cube);
    const chx = coordinateChannels(dims, rx.indexToGroup);
    expect(at(chx, dims, 0, 3, 2, 7)).toBeCloseTo(3 / 8, 6);
    expect(at(chx, dims, 1, 3, 2, 7)).toBeCloseTo(1 - 7 / 8, 6);
    expect(at(chx, dims, 2, 3, 2, 7)).toBeCloseTo(2 / 8, 6);
  });

  it('is resolution invariant: the same patient point gets the same coordinates at any grid', () => {
    const coarse = resolveGeometry({ kind: 'fov', dims: [13, 13, 13] }, body);
    const fine = resolveGeometry({ kind: 'fov', dims: [25, 25, 25] }, body);
    // coarse voxel 6 == fine voxel 12 (both at the FOV centre), coarse 3 == fine 6.
    expect(applyPoint(coarse.indexToGroup, [3, 6, 12])).toEqual(
      applyPoint(fine.indexToGroup, [6, 12, 24]).map((v) => expect.closeTo(v, 12)),
    );
    const shifted = compose(coarse.indexToGroup, translation([0.5, 0, 0]));
    expect(applyPoint(shifted, [0, 0, 0])[0]).toBeCloseTo(1 / 24, 12);
    expect(rotationEulerDeg(0, 0, 0)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  });
});
