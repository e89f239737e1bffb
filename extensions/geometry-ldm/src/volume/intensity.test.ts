import { scaling } from '../geometry/affine';
import {
  huToModel,
  huToModelValue,
  IntensityError,
  modelStdToHuStd,
  modelToHu,
  modelToHuValue,
  validateIntensityParams,
  type IntensityParams,
} from './intensity';
import { makeVolume, type IntensityUnit, type Volume } from './volume';

const CT: IntensityParams = { huMin: -1000, huMax: 2000, modelMin: -1, modelMax: 1, clip: true };
const AFFINE = scaling([0.5, 0.5, 2]);

function vol(values: number[], unit: IntensityUnit = 'HU'): Volume {
  return makeVolume([values.length, 1, 1], AFFINE, Float32Array.from(values), unit);
}

function errorCode(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IntensityError);
    return (e as IntensityError).code;
  }
  return undefined;
}

describe('HU -> model', () => {
  it('maps the window ends and interior points (hand-computed)', () => {
    // model = (HU + 1000) / 3000 * 2 - 1
    const m = huToModel(vol([-1000, 2000, 500, 0, -400]), CT);
    expect(m.unit).toBe('model');
    expect(m.dims).toEqual([5, 1, 1]);
    expect(m.affine).toEqual(AFFINE);
    const want = [-1, 1, 0, -1 / 3, -0.6];
    want.forEach((w, n) => expect(m.data[n]).toBeCloseTo(w, 6));
  });

  it('clips outside the window when clip is true, extrapolates when false', () => {
    const v = vol([-3000, 5000, -1024]);
    const clipped = huToModel(v, CT);
    expect(clipped.data[0]).toBeCloseTo(-1, 7);
    expect(clipped.data[1]).toBeCloseTo(1, 7);
    expect(clipped.data[2]).toBeCloseTo(-1, 7);
    const free = huToModel(v, { ...CT, clip: false });
    expect(free.data[0]).toBeCloseTo(-2000 / 1500 - 1, 6); // -2.3333
    expect(free.data[1]).toBeCloseTo(3, 6);
    expect(free.data[2]).toBeCloseTo(-24 / 1500 - 1, 6);
  });

  it('works with other model ranges (e.g. [0, 1]) and keeps NaN', () => {
    const p: IntensityParams = { huMin: -200, huMax: 300, modelMin: 0, modelMax: 1, clip: true };
    const m = huToModel(vol([-200, 50, 300, NaN]), p);
    expect(m.data[0]).toBeCloseTo(0, 7);
    expect(m.data[1]).toBeCloseTo(0.5, 7);
    expect(m.data[2]).toBeCloseTo(1, 7);
    expect(m.data[3]).toBeNaN();
    expect(huToModelValue(-450, p)).toBe(0);
    expect(huToModelValue(175, p)).toBeCloseTo(0.75, 12);
  });

  it('does not modify its input', () => {
    const v = vol([-3000, 100]);
    huToModel(v, CT);
    expect(Array.from(v.data)).toEqual([-3000, 100]);
    expect(v.unit).toBe('HU');
  });
});

describe('model -> HU', () => {
  it('inverts without clipping (hand-computed)', () => {
    // HU = (model + 1) / 2 * 3000 - 1000
    const h = modelToHu(vol([-1, 0, 1, 1.5, -1.2], 'model'), CT);
    expect(h.unit).toBe('HU');
    const want = [-1000, 500, 2000, 2750, -1300];
    want.forEach((w, n) => expect(h.data[n]).toBeCloseTo(w, 3));
    expect(modelToHuValue(1.5, CT)).toBeCloseTo(2750, 9);
  });

  it('round trip inside the window', () => {
    const values: number[] = [];
    for (let n = 0; n <= 3000; n += 7) values.push(-1000 + n + 0.25);
    const v = vol(values);
    const back = modelToHu(huToModel(v, CT), CT);
    let worst = 0;
    values.forEach((x, n) => (worst = Math.max(worst, Math.abs(back.data[n] - Math.fround(x)))));
    // float32 model values (~6e-8 relative) times the 1500 HU per model unit.
    expect(worst).toBeLessThan(1e-3);
  });

  it('a std map scales without offset', () => {
    const s = modelStdToHuStd(vol([0, 0.1, 0.02], 'model'), CT);
    expect(s.unit).toBe('HU-std');
    expect(s.data[0]).toBe(0);
    expect(s.data[1]).toBeCloseTo(150, 4);
    expect(s.data[2]).toBeCloseTo(30, 4);
  });
});

describe('in place', () => {
  it.each([
    ['HU -> model', huToModel, [-3000, -1000, 0, 100, 2500], 'HU', 'model'],
    ['model -> HU', modelToHu, [-1, 0, 1, 1.5, -1.2], 'model', 'HU'],
  ] as const)(
    "%s converts in place when given the volume's own array (same values as a new array)",
    (_name, convert, values, from, to) => {
      const v = vol([...values], from);
      const fresh = convert(v, CT);
      const own = v.data;
      const out = convert(v, CT, own);
      expect(out.data).toBe(own);
      expect(out.unit).toBe(to);
      expect(Array.from(out.data)).toEqual(Array.from(fresh.data));
      expect(() => convert(vol([0, 1], from), CT, new Float32Array(3))).toThrow(/3 values, need 2/);
    },
  );
});

describe('errors', () => {
  it('rejects invalid parameters with a typed error', () => {
    const bad: Partial<Record<keyof IntensityParams, unknown>>[] = [
      { huMax: -1000 },
      { huMax: -2000 },
      { modelMax: -1 },
      { modelMin: 2 },
      { huMin: NaN },
      { huMax: Infinity },
      { modelMin: '0' },
      { clip: 'yes' },
      { clip: undefined },
    ];
    for (const change of bad) {
      const p = { ...CT, ...change } as unknown as IntensityParams;
      expect(errorCode(() => validateIntensityParams(p))).toBe('invalid-params');
      expect(errorCode(() => huToModel(vol([0]), p))).toBe('invalid-params');
      expect(errorCode(() => modelToHu(vol([0], 'model'), p))).toBe('invalid-params');
      expect(errorCode(() => huToModelValue(0, p))).toBe('invalid-params');
    }
    expect(errorCode(() => validateIntensityParams(null as unknown as IntensityParams))).toBe(
      'invalid-params',
    );
    expect(errorCode(() => validateIntensityParams(CT))).toBeUndefined();
  });

  it('rejects a volume in the wrong unit', () => {
    expect(errorCode(() => huToModel(vol([0], 'model'), CT))).toBe('unit-mismatch');
    expect(errorCode(() => modelToHu(vol([0], 'HU'), CT))).toBe('unit-mismatch');
    expect(errorCode(() => modelStdToHuStd(vol([0], 'HU-std'), CT))).toBe('unit-mismatch');
  });
});
