import { DicomError } from './errors';
import { checkPlausibleHu, newHuTally, tallyHu } from './huPlausibility';

/** A 100-voxel "slice": `air` voxels at -1000 HU, `fill` at -3024, `hot` at +5000, the rest +40. */
function slice(air: number, fill: number, hot: number): Float32Array {
  const v = new Float32Array(100).fill(40);
  let n = 0;
  for (let i = 0; i < air; i++) v[n++] = -1000;
  for (let i = 0; i < fill; i++) v[n++] = -3024;
  for (let i = 0; i < hot; i++) v[n++] = 5000;
  return v;
}

function verdict(hu: Float32Array, stored: ArrayLike<number> = hu, padding: number | null = null): string {
  const t = newHuTally();
  tallyHu(t, stored, hu, padding);
  try {
    checkPlausibleHu(t, 'series X');
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(DicomError);
    expect((e as DicomError).code).toBe('implausible-values');
    return (e as DicomError).message;
  }
}

test('real-looking CT passes: air, out-of-field fill up to half, 1 % metal', () => {
  expect(verdict(slice(30, 21, 1))).toBe('ok');
  expect(verdict(slice(0, 50, 0))).toBe('ok');
});

test('more than 1 % above +4000 HU is refused with the fraction and the max', () => {
  expect(verdict(slice(30, 0, 2))).toMatch(
    /series X is not plausible CT: 2\.0 % of voxels are above \+4000 HU \(max 5000 HU/,
  );
});

test('more than half below -1100 HU is refused with the min', () => {
  expect(verdict(slice(0, 51, 0))).toMatch(/51\.0 % of voxels are below -1100 HU \(min -3024 HU/);
});

test('NaN counts as implausible', () => {
  const v = slice(0, 0, 0);
  v[3] = NaN;
  v[4] = NaN;
  expect(verdict(v)).toMatch(/above/);
});

test('voxels whose stored value is PixelPaddingValue are not counted', () => {
  const hu = slice(0, 60, 0);
  const stored = Array.from(hu, (x) => (x === -3024 ? -2000 : x));
  expect(verdict(hu, stored, null)).toMatch(/below/);
  expect(verdict(hu, stored, -2000)).toBe('ok');
  expect(verdict(new Float32Array(4).fill(-3024), [7, 7, 7, 7], 7)).toMatch(/only padding/);
});
