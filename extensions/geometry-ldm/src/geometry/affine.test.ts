import {
  IDENTITY,
  applyPoint,
  applyVector,
  compose,
  determinant3,
  fromColumns,
  invert,
  maxAbsDifference,
  rotationEulerDeg,
  scaling,
  translation,
  type Affine,
} from './affine';
import { GeometryError } from './errors';

/** Deterministic pseudo-random numbers for property tests (not the product RNG). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomAffine(rand: () => number): Affine {
  const m = Array.from({ length: 12 }, () => rand() * 4 - 2);
  return [...m, 0, 0, 0, 1];
}

describe('Affine', () => {
  it('inverse round-trips on random (sheared, non-orthogonal) affines', () => {
    const rand = lcg(7);
    for (let n = 0; n < 200; n++) {
      const a = randomAffine(rand);
      if (Math.abs(determinant3(a)) < 1e-2) continue;
      expect(maxAbsDifference(compose(invert(a), a), IDENTITY)).toBeLessThan(1e-9);
      expect(maxAbsDifference(compose(a, invert(a)), IDENTITY)).toBeLessThan(1e-9);
      const p: [number, number, number] = [rand() * 100, rand() * 100, rand() * 100];
      const back = applyPoint(invert(a), applyPoint(a, p));
      back.forEach((v, i) => expect(v).toBeCloseTo(p[i], 8));
    }
  });

  it('compose applies the last affine first', () => {
    const t = translation([1, 2, 3]);
    const s = scaling([2, 3, 4]);
    // s first: (1,1,1) -> (2,3,4), then t -> (3,5,7)
    expect(applyPoint(compose(t, s), [1, 1, 1])).toEqual([3, 5, 7]);
    // t first: (2,3,4), then s -> (4,9,16)
    expect(applyPoint(compose(s, t), [1, 1, 1])).toEqual([4, 9, 16]);
  });

  it('fromColumns puts the axis images in the columns', () => {
    const a = fromColumns([1, 2, 3], [4, 5, 6], [7, 8, 9.5], [10, 11, 12]);
    expect(applyVector(a, [1, 0, 0])).toEqual([1, 2, 3]);
    expect(applyVector(a, [0, 1, 0])).toEqual([4, 5, 6]);
    expect(applyVector(a, [0, 0, 1])).toEqual([7, 8, 9.5]);
    expect(applyPoint(a, [0, 0, 0])).toEqual([10, 11, 12]);
  });

  it('quarter-turn rotations are exact permutations with the right-hand rule', () => {
    // Right-handed: +90 about z takes +x to +y; about x takes +y to +z; about y takes +z to +x.
    expect(applyVector(rotationEulerDeg(0, 0, 90), [1, 0, 0])).toEqual([0, 1, 0]);
    expect(applyVector(rotationEulerDeg(90, 0, 0), [0, 1, 0])).toEqual([0, 0, 1]);
    expect(applyVector(rotationEulerDeg(0, 90, 0), [0, 0, 1])).toEqual([1, 0, 0]);
  });

  it('Euler order is Rz * Ry * Rx (x applied first)', () => {
    const r = rotationEulerDeg(90, 90, 0);
    // x first: +y -> +z; then y: +z -> +x.
    expect(applyVector(r, [0, 1, 0])).toEqual([1, 0, 0]);
    const angles = [17, -33, 71];
    const expected = compose(
      rotationEulerDeg(0, 0, 71),
      rotationEulerDeg(0, -33, 0),
      rotationEulerDeg(17, 0, 0),
    );
    expect(maxAbsDifference(rotationEulerDeg(angles[0], angles[1], angles[2]), expected)).toBeLessThan(1e-15);
    expect(determinant3(rotationEulerDeg(17, -33, 71))).toBeCloseTo(1, 12);
  });

  it('refuses to invert a singular affine with a typed error', () => {
    const flat = fromColumns([1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]);
    expect(() => invert(flat)).toThrow(GeometryError);
    try {
      invert(flat);
    } catch (e) {
      expect((e as GeometryError).code).toBe('singular-affine');
    }
  });
});
