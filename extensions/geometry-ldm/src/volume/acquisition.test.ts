import fixture from './__fixtures__/acquisition.json';
import {
  Acquisition,
  denseOperator,
  downOperator,
  identityAxis,
  upOperator,
  type AxisAcquisition,
} from './acquisition';
import { autoSliceModel, seriesAcquisition } from './seriesAcquisition';
import { planSuperResolutionTarget } from '../inference/superResolutionTarget';
import { compose, rotationEulerDeg, scaling, translation } from '../geometry/affine';
import type { Dims3 } from '../geometry/conventions';
import { VolumeError } from './volume';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let q = 0; q < a.length; q++) m = Math.max(m, Math.abs(a[q] - b[q]));
  return m;
};

/** Brute force: the profile integrated over each fine voxel by 4000 midpoints, rows normalised. */
function bruteDown(n: number, ax: AxisAcquisition): number[][] {
  const K = 4000;
  const sigma = ax.width / (2 * Math.sqrt(2 * Math.log(2)));
  return Array.from({ length: ax.count }, (_, s) => {
    const c = ax.first + s * ax.spacing;
    const row = Array.from({ length: n }, (_, t) => {
      if (ax.profile === 'gaussian' && Math.abs(t - c) > 4 * sigma + 1) return 0;
      let acc = 0;
      for (let q = 0; q < K; q++) {
        const z = t - 0.5 + (q + 0.5) / K;
        acc +=
          ax.profile === 'box'
            ? Math.abs(z - c) <= ax.width / 2
              ? 1
              : 0
            : Math.exp(-0.5 * ((z - c) / sigma) ** 2);
      }
      return acc / K;
    });
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => v / total);
  });
}

describe('acquisition operators agree with the Python twin (shared fixture)', () => {
  test.each(fixture.axisCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const ax = c.axis as AxisAcquisition;
    expect(maxDiff(denseOperator(downOperator(c.n, ax)).flat(), c.down.flat())).toBeLessThan(1e-7);
    expect(maxDiff(denseOperator(upOperator(c.n, ax)).flat(), c.up.flat())).toBeLessThan(1e-7);
  });

  test('3D forward, back-projection and projection of a volume', () => {
    const v = fixture.volume;
    const acq = new Acquisition(
      v.dims as unknown as Dims3,
      v.axes as unknown as [AxisAcquisition, AxisAcquisition, AxisAcquisition],
    );
    const x = Float32Array.from(v.x);
    const y = acq.forward(x);
    expect(acq.acquiredDims).toEqual([6, 8, 4]);
    expect(maxDiff(y, v.acquired)).toBeLessThan(2e-3);
    expect(maxDiff(acq.backProject(Float32Array.from(v.acquired), 10), v.backProjection10)).toBeLessThan(
      5e-3,
    );
    const start = new Float32Array(x.length).fill(-200);
    expect(
      maxDiff(acq.project(start, Float32Array.from(v.acquired), 3), v.projectFromMinus200Iter3),
    ).toBeLessThan(5e-3);
  });
});

describe('acquisition operators against an independent computation', () => {
  const profiled = fixture.axisCases.filter((c) => c.axis.profile !== 'point');
  test.each(profiled.map((c) => [c.name, c] as const))(
    'D of %s = numerically integrated profile',
    (_n, c) => {
      const ax = c.axis as AxisAcquisition;
      expect(maxDiff(denseOperator(downOperator(c.n, ax)).flat(), bruteDown(c.n, ax).flat())).toBeLessThan(
        2e-4,
      );
    },
  );

  test('point sampling and U reproduce a linear function exactly inside the samples', () => {
    const ax: AxisAcquisition = { count: 5, first: 0.3, spacing: 2.2, profile: 'point', width: 0 };
    const n = 11;
    const f = (z: number) => 3 * z - 7;
    const D = denseOperator(downOperator(n, ax));
    D.forEach((row, s) => {
      const got = row.reduce((a, w, t) => a + w * f(t), 0);
      expect(got).toBeCloseTo(f(ax.first + s * ax.spacing), 9);
    });
    const U = denseOperator(upOperator(n, ax));
    const samples = Array.from({ length: ax.count }, (_, s) => f(ax.first + s * ax.spacing));
    U.forEach((row, t) => {
      const got = row.reduce((a, w, s) => a + w * samples[s], 0);
      const clamped = Math.min(Math.max(t, ax.first), ax.first + (ax.count - 1) * ax.spacing);
      expect(got).toBeCloseTo(f(clamped), 9);
    });
  });

  test.each([
    ['box 4', { count: 6, first: 1.5, spacing: 4, profile: 'box', width: 4 }],
    ['Gaussian 2.5 over 2.5', { count: 9, first: 0.75, spacing: 2.5, profile: 'gaussian', width: 2.5 }],
    ['Gaussian, overlapping', { count: 12, first: 0.5, spacing: 2, profile: 'gaussian', width: 3 }],
  ] as const)('the projection converges onto the acquired samples (%s)', (_n, kAxis) => {
    const dims: Dims3 = [5, 4, 24];
    const id = { count: 0, first: 0, spacing: 1, profile: 'box', width: 1 } as const;
    const acq = new Acquisition(dims, [{ ...id, count: 5 }, { ...id, count: 4 }, kAxis as AxisAcquisition]);
    const truth = Float32Array.from(
      { length: 5 * 4 * 24 },
      (_, q) => 400 * Math.sin(q * 0.37) + ((q * 7919) % 13) * 20,
    );
    const y = acq.forward(truth);
    const bp1 = acq.fidelity(acq.backProject(y, 1), y);
    const bp = acq.fidelity(acq.backProject(y, 300), y);
    expect(bp.maxAbs).toBeLessThan(Math.max(0.05, bp1.maxAbs / 20));
    // an image that already reproduces y is a fixed point
    const fixed = acq.backProject(y, 300);
    expect(maxDiff(acq.project(fixed, y, 5), fixed)).toBeLessThan(0.05);
  });

  test('the projection equals its steps on the fine grid, never touches its input, and is y when D = U = I', () => {
    const box2 = (count: number): AxisAcquisition => ({
      count,
      first: 0.5,
      spacing: 2,
      profile: 'box',
      width: 2,
    });
    // a Gaussian and a thick box on two axes; every axis at 2x (D U with three taps along each,
    // D with two); only the contiguous axis degraded (U and its addend along it)
    const cases: [Dims3, [AxisAcquisition, AxisAcquisition, AxisAcquisition]][] = [
      [
        [6, 5, 20],
        [
          { count: 3, first: 0.5, spacing: 2, profile: 'gaussian', width: 3 },
          identityAxis(5),
          { count: 5, first: 1.5, spacing: 4, profile: 'box', width: 4 },
        ],
      ],
      [
        [10, 8, 6],
        [box2(5), box2(4), box2(3)],
      ],
      [
        [12, 3, 4],
        [box2(6), identityAxis(3), identityAxis(4)],
      ],
    ];
    for (const [dims, axes] of cases) {
      const acq = new Acquisition(dims, axes);
      const x = Float32Array.from(
        { length: dims[0] * dims[1] * dims[2] },
        (_, q) => 300 * Math.cos(q * 0.21),
      );
      const a = acq.acquiredDims;
      const y = Float32Array.from({ length: a[0] * a[1] * a[2] }, (_, q) => 100 * Math.sin(q));
      const before = x.slice();
      // the definition, step by step on the fine grid from the public operators: x + U (y - D x)
      const step = (v: Float32Array) => {
        const r = acq.forward(v).map((d, q) => y[q] - d);
        return acq.upsample(r).map((u, q) => u + v[q]);
      };
      let stepwise: Float32Array = x;
      for (let it = 1; it <= 12; it++) {
        stepwise = step(stepwise);
        if (it === 1 || it === 4 || it === 12) {
          // float32 rounding apart (values of a few hundred)
          expect(maxDiff(acq.project(x, y, it), stepwise)).toBeLessThan(1e-3);
        }
      }
      expect(maxDiff(acq.project(x, y, 12), acq.project(x, y, 4))).toBeGreaterThan(0.1);
      // in place: the same numbers, in x's own array
      const own = x.slice();
      expect(acq.project(own, y, 12, own)).toBe(own);
      expect(maxDiff(own, acq.project(x, y, 12))).toBe(0);
      // the back-projection: the same steps from the trilinear upsampling U y
      let bp = acq.upsample(y);
      for (let it = 1; it <= 5; it++) {
        bp = step(bp);
        expect(maxDiff(acq.backProject(y, it), bp)).toBeLessThan(1e-3);
      }
      expect(maxDiff(acq.backProject(y, 0), acq.upsample(y))).toBe(0);
      expect(maxDiff(x, before)).toBe(0);
      expect(acq.project(x, y, 0)).not.toBe(x);
    }
    const identity = new Acquisition([4, 3, 2], [identityAxis(4), identityAxis(3), identityAxis(2)]);
    const xi = Float32Array.from({ length: 24 }, (_, q) => q - 7);
    const yi = Float32Array.from({ length: 24 }, (_, q) => 2 * q + 1);
    expect(Array.from(identity.project(xi, yi, 3))).toEqual(Array.from(yi));
    expect(Array.from(xi)).toEqual(Array.from({ length: 24 }, (_, q) => q - 7));
  });

  test('D keeps no zero weights at the ends of a row (the projection would multiply through them)', () => {
    for (const ax of [
      { count: 136, first: 0.5, spacing: 2, profile: 'box', width: 2 },
      { count: 9, first: 0.75, spacing: 2.5, profile: 'gaussian', width: 2.5 },
      { count: 6, first: 1.5, spacing: 4, profile: 'box', width: 4 },
    ] as const) {
      const n = Math.ceil(ax.first + (ax.count - 1) * ax.spacing + 1);
      const d = downOperator(n, ax);
      for (const w of d.weights) {
        expect(w[0]).toBeGreaterThan(0);
        expect(w[w.length - 1]).toBeGreaterThan(0);
      }
    }
    // a box 2 fine voxels wide centred between two voxels: exactly those two, half each
    const d = downOperator(272, { count: 136, first: 0.5, spacing: 2, profile: 'box', width: 2 });
    expect(Array.from(d.weights[3])).toEqual([0.5, 0.5]);
    expect(d.start[3]).toBe(6);
  });

  test('bad axes are refused with a typed error', () => {
    expect(() => downOperator(10, { count: 3, first: 0, spacing: 2, profile: 'box', width: 0 })).toThrow(
      VolumeError,
    );
    expect(() => downOperator(10, { count: 3, first: 0, spacing: 5, profile: 'box', width: 5 })).toThrow(
      /outside the fine grid/,
    );
    expect(() =>
      downOperator(10, { count: 3, first: 0, spacing: 2, profile: 'cubic' as never, width: 2 }),
    ).toThrow(/unknown slice profile/);
  });
});

describe('the acquisition of a series on a finer grid', () => {
  const source = {
    dims: [4, 4, 5] as Dims3,
    affine: compose(translation([-10, 20, -30]), scaling([2, 2, 5])),
  };

  test('x2 in-plane and x5 along the slices: sample positions, spacing and widths in fine voxels', () => {
    const plan = planSuperResolutionTarget(source, { kind: 'spacing', spacingMm: [1, 1, 1] }, 1);
    expect(plan.output.dims).toEqual([8, 8, 25]);
    const acq = seriesAcquisition(source, plan.output, { profile: 'gaussian', widthMm: 6, reason: '' });
    const [ai, aj, ak] = acq.axes;
    expect(ai).toMatchObject({ count: 4, spacing: 2, profile: 'box' });
    expect(ai.first).toBeCloseTo(0.5, 12);
    expect(ai.width).toBeCloseTo(2, 12);
    expect(aj.first).toBeCloseTo(0.5, 12);
    expect(ak).toMatchObject({ count: 5, spacing: 5, profile: 'gaussian' });
    expect(ak.first).toBeCloseTo(2, 12);
    expect(ak.width).toBeCloseTo(6, 12);
    // the trilinear image and U y agree: both interpolate the samples linearly
    const y = Float32Array.from({ length: 80 }, (_, q) => q * 3 - 100);
    const up = acq.upsample(y);
    expect(up.length).toBe(8 * 8 * 25);
  });

  test('an output grid with other axes is refused', () => {
    const rotated = { dims: [8, 8, 25] as Dims3, affine: compose(source.affine, rotationEulerDeg(0, 0, 30)) };
    expect(() => seriesAcquisition(source, rotated, { profile: 'box', widthMm: 5, reason: '' })).toThrow(
      /same orientation/,
    );
  });

  test('the default slice model from the header', () => {
    expect(autoSliceModel(5, 5)).toMatchObject({ profile: 'box', widthMm: 5 });
    expect(autoSliceModel(2, 3)).toMatchObject({ profile: 'gaussian', widthMm: 3 });
    expect(autoSliceModel(5, 1)).toMatchObject({ profile: 'box', widthMm: 1 });
    expect(autoSliceModel(2.5, null)).toMatchObject({ profile: 'box', widthMm: 2.5 });
    expect(autoSliceModel(1, 1, ['DERIVED', 'SECONDARY', 'REFORMATTED'])).toMatchObject({ profile: 'point' });
  });
});

describe('the projection work the time estimate scales', () => {
  it('counts taps and element writes of a point-sampled axis (worked by hand)', () => {
    // 3 x 5 x 8 fine voxels; k sampled at 0, 2, 4, 6 (on voxel centres: one tap each).
    // Up: t = 0, 6, 7 take one sample, t = 1..5 interpolate two: 13 taps.
    // Projection, once: forward 15 x (4 taps + 4 rows) = 120; residual and its sum 2 x 60; up
    // 15 x (13 + 8) = 315; adding x 120: 675.
    // D U has rows 0 and 3 of one tap, rows 1 and 2 of two (interpolation at a sample centre
    // keeps a zero weight): 15 x (6 + 4) = 150. Each further step: D U r, the next residual
    // and the sum: 150 + 2 x 60 = 270. Back-projection, once: D U y 150; residual, sum, + y
    // 3 x 60; up 315: 645.
    const point: AxisAcquisition = { count: 4, first: 0, spacing: 2, profile: 'point', width: 0 };
    const acq = new Acquisition([3, 5, 8], [identityAxis(3), identityAxis(5), point]);
    expect(acq.projectionWork()).toEqual({
      once: 675,
      backProjectionOnce: 645,
      perIteration: 270,
      upsample: 315,
    });
  });

  it('grows with the slice profile: a Gaussian reaches further than a box of the same width', () => {
    const axis = (profile: 'box' | 'gaussian'): AxisAcquisition => ({
      count: 8,
      first: 1.5,
      spacing: 4,
      profile,
      width: 4,
    });
    const box = new Acquisition([16, 16, 32], [identityAxis(16), identityAxis(16), axis('box')]);
    const gauss = new Acquisition([16, 16, 32], [identityAxis(16), identityAxis(16), axis('gaussian')]);
    expect(gauss.projectionWork().perIteration).toBeGreaterThan(box.projectionWork().perIteration);
    expect(gauss.projectionWork().upsample).toBe(box.projectionWork().upsample);
  });
});
