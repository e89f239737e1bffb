import { chooseRescale, formatDS, quantize } from './rescale';

test('formatDS: at most 16 characters, close to the value', () => {
  for (const x of [
    0,
    1,
    -1024,
    0.1,
    1 / 3,
    -166.12345678912345,
    1e-7,
    123456789012.345,
    -0.000123456789,
    2.5e20,
  ]) {
    const s = formatDS(x);
    expect(s.length).toBeLessThanOrEqual(16);
    expect(Math.abs(Number(s) - x)).toBeLessThanOrEqual(Math.abs(x) * 1e-9 + 1e-12);
  }
});

test('integer mode: slope 1 for CT HU', () => {
  const r = chooseRescale(new Float32Array([-1024, 0, 3071.4]));
  expect([r.slope, r.intercept]).toEqual([1, 0]);
});

test('wide or fine ranges are spread over int16 without clipping', () => {
  for (const [lo, hi] of [
    [-50000, 90000],
    [0, 0.37],
    [3.2, 3.2000001],
    [-7, -7],
  ]) {
    const data = new Float32Array(1001).map((_, n) => lo + ((hi - lo) * n) / 1000);
    const r = chooseRescale(data, 'full-range');
    const q = quantize(data, r);
    let worst = 0;
    for (let n = 0; n < data.length; n++)
      worst = Math.max(worst, Math.abs(q[n] * r.slope + r.intercept - data[n]));
    expect(worst).toBeLessThanOrEqual(r.slope / 2 + Math.abs(hi) * 1e-7);
    expect(r.slopeDS.length).toBeLessThanOrEqual(16);
  }
});

test('non-finite values are refused', () => {
  expect(() => chooseRescale(new Float32Array([0, NaN]))).toThrow(
    expect.objectContaining({ code: 'invalid-input' }),
  );
});
