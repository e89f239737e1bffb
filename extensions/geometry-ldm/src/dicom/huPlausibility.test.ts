import { DicomError } from './errors';
import { checkPlausibleHu, HuConversion, newHuTally, type HuTally } from './huPlausibility';

/** A 100-voxel "slice" of stored values (slope 1, intercept 0: HU): `air` at -1000, `fill` at -3024, `hot` at +5000, the rest +40. */
function slice(air: number, fill: number, hot: number): Int16Array {
  const v = new Int16Array(100).fill(40);
  let n = 0;
  for (let i = 0; i < air; i++) v[n++] = -1000;
  for (let i = 0; i < fill; i++) v[n++] = -3024;
  for (let i = 0; i < hot; i++) v[n++] = 5000;
  return v;
}

function verdict(stored: Int16Array, padding: number | null = null, slope = 1, intercept = 0): string {
  const c = new HuConversion();
  c.convert(stored, slope, intercept, new Float32Array(stored.length), padding);
  try {
    checkPlausibleHu(c.tally(), 'series X');
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

test('NaN (a slope that is not a number) counts as implausible', () => {
  expect(verdict(slice(0, 0, 0), null, NaN)).toMatch(/above/);
});

test('voxels whose stored value is PixelPaddingValue are not counted', () => {
  const stored = Int16Array.from(slice(0, 60, 0), (x) => (x === -3024 ? -2000 : x));
  expect(verdict(stored, null)).toMatch(/below/);
  expect(verdict(stored, -2000)).toBe('ok');
  expect(verdict(new Int16Array(4).fill(7), 7)).toMatch(/only padding/);
});

/** The definition, voxel by voxel in the frame's own type: what storedToHu must equal. */
function naive(stored: ArrayLike<number>, slope: number, intercept: number, padding: number | null) {
  const out = new Float32Array(stored.length);
  const t: HuTally = newHuTally();
  for (let n = 0; n < stored.length; n++) {
    out[n] = stored[n] * slope + intercept;
    if (padding !== null && stored[n] === padding) {
      t.padding++;
      continue;
    }
    const v = out[n];
    t.counted++;
    if (!(v <= 4000)) t.above++;
    else if (v < -1100) t.below++;
    t.minHu = Math.min(t.minHu, v);
    t.maxHu = Math.max(t.maxHu, v);
  }
  return { out, t };
}

test.each([
  ['Int16Array', () => new Int16Array(5003), -32768, 65536, -2000],
  ['Uint16Array', () => new Uint16Array(5003), 0, 65536, 0],
  ['Int8Array', () => new Int8Array(5003), -128, 256, -100],
  ['Uint8Array', () => new Uint8Array(5003), 0, 256, 255],
] as const)(
  'HuConversion on %s equals the voxel-by-voxel definition (values, padding, tally)',
  (_, make, lo, span, pad) => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [slope, intercept, padding] of [
      [1, -1024, null],
      [0.48828125, -1000.25, pad],
      [2.5, 3.1, pad],
    ] as const) {
      const stored = make();
      for (let n = 0; n < stored.length; n++) stored[n] = Math.floor(lo + rand() * span);
      for (let n = 0; n < stored.length; n += 7) stored[n] = pad;
      const ref = naive(stored, slope, intercept, padding);
      const out = new Float32Array(stored.length);
      const c = new HuConversion();
      c.convert(stored, slope, intercept, out, padding);
      expect(out).toEqual(ref.out);
      expect(c.tally()).toEqual(ref.t);
    }
  },
);

test('one conversion over slices of different rescale, padding and signedness tallies each by its own', () => {
  // slices as a series brings them: runs sharing a rescale, then a change, then the first again
  const slices: [Int16Array | Uint16Array, number, number, number | null][] = [];
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const make = (signed: boolean) => {
    const v = signed ? new Int16Array(999) : new Uint16Array(999);
    for (let n = 0; n < v.length; n++) v[n] = Math.floor((signed ? -3000 : 0) + rand() * 6000);
    v[3] = signed ? -2000 : 0;
    return v;
  };
  for (const [signed, slope, intercept, padding] of [
    [true, 1, 0, -2000],
    [true, 1, 0, -2000],
    [true, 0.5, -1000, -2000],
    [true, 0.5, -1000, null],
    [false, 1, -1024, 0],
    [false, 1, -1024, 0],
    [true, 1, 0, -2000],
    [true, NaN, 0, null],
    [true, NaN, 0, null],
  ] as const)
    slices.push([make(signed), slope, intercept, padding]);
  const c = new HuConversion();
  const all: number[] = [];
  const ref: HuTally = newHuTally();
  for (const [stored, slope, intercept, padding] of slices) {
    const out = new Float32Array(stored.length);
    c.convert(stored, slope, intercept, out, padding);
    const r = naive(stored, slope, intercept, padding);
    expect(out).toEqual(r.out);
    all.push(...out);
    ref.counted += r.t.counted;
    ref.padding += r.t.padding;
    ref.above += r.t.above;
    ref.below += r.t.below;
    // min/max name the plausible extremes in messages: NaN never replaces a number
    if (r.t.minHu < ref.minHu) ref.minHu = r.t.minHu;
    if (r.t.maxHu > ref.maxHu) ref.maxHu = r.t.maxHu;
  }
  expect(c.tally()).toEqual(ref);
  expect(ref.above).toBeGreaterThan(999); // the NaN slices count as implausible
  expect(c.tally()).toEqual(ref); // reading the tally twice counts nothing twice
});
