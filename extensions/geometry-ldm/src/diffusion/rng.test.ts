import { createRng, deriveSeed, fdlibmLog, fnv1a32, seedToUint32, utf8Bytes } from './rng';
import { expectClose, expectDiffusionError, loadGolden, ulpDistance } from './__fixtures__/golden';

const golden = loadGolden();

describe('RNG stream against the independent Python implementation', () => {
  test.each(golden.rng.streams.map((s) => [JSON.stringify(s.seed), s] as const))('seed %s', (_name, ref) => {
    expect(createRng(ref.seed).seed).toBe(ref.seed32);
    expect(seedToUint32(ref.seed)).toBe(ref.seed32);

    const u = createRng(ref.seed);
    expect(Array.from({ length: ref.uint32.length }, () => u.nextUint32())).toEqual(ref.uint32);

    const f = createRng(ref.seed);
    expect(Array.from({ length: ref.float64.length }, () => f.nextFloat64())).toEqual(ref.float64);

    // Python's libm log and the fdlibm port may differ by an ulp: 1e-12 relative.
    const g = createRng(ref.seed);
    expectClose(
      Array.from({ length: ref.gaussians.length }, () => g.nextGaussian()),
      ref.gaussians,
      1e-12,
      0,
    );

    // fillGaussian: the same stream, rounded to float32, and it continues where it stopped.
    const h = createRng(ref.seed);
    const first = h.fillGaussian(new Float32Array(5));
    const rest = h.fillGaussian(new Float32Array(ref.gaussians.length - 5));
    const both = Float64Array.from([...first, ...rest]);
    expectClose(both, ref.gaussians.map(Math.fround), 1.2e-7, 0);
  });

  test.each(golden.rng.deriveSeed.map((d) => [JSON.stringify([d.base, ...d.path]), d] as const))(
    'deriveSeed %s',
    (_name, ref) => {
      expect(deriveSeed(ref.base, ...ref.path)).toBe(ref.seed);
    },
  );

  test('fdlibmLog is within 1 ulp of Python math.log', () => {
    for (const { x, log } of golden.rng.log) {
      const d = ulpDistance(fdlibmLog(x), log);
      if (d > 1) throw new Error(`log(${x}) = ${fdlibmLog(x)}, Python ${log}: ${d} ulp`);
    }
    expect(golden.rng.log.length).toBeGreaterThan(60);
  });
});

describe('RNG properties (no fixture)', () => {
  test('fdlibmLog special values', () => {
    expect(fdlibmLog(1)).toBe(0);
    expect(Object.is(fdlibmLog(1), 0)).toBe(true);
    expect(fdlibmLog(0)).toBe(-Infinity);
    expect(fdlibmLog(-0)).toBe(-Infinity);
    expect(fdlibmLog(Infinity)).toBe(Infinity);
    expect(fdlibmLog(-1)).toBeNaN();
    expect(fdlibmLog(-Infinity)).toBeNaN();
    expect(fdlibmLog(NaN)).toBeNaN();
    expect(fdlibmLog(Math.E)).toBeCloseTo(1, 15);
    expect(fdlibmLog(2)).toBe(Math.LN2);
    expect(fdlibmLog(5e-324)).toBeCloseTo(-744.4400719213812, 12);
  });

  test('fdlibmLog is within 1 ulp of Math.log over many doubles', () => {
    const r = createRng(2024);
    let worst = 0;
    for (let i = 0; i < 100000; i++) {
      // (0, 1) as used by the polar method, and wide exponents.
      const x =
        i % 2 === 0
          ? r.nextFloat64() || 0.5
          : (r.nextFloat64() + 0.5) * 2 ** ((r.nextUint32() % 2000) - 1000);
      worst = Math.max(worst, ulpDistance(fdlibmLog(x), Math.log(x)));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  test('gaussians have mean ~0 and variance ~1 (5 sigma bounds over 1e5 draws)', () => {
    const n = 100000;
    const out = createRng('stats').fillGaussian(new Float32Array(n));
    let sum = 0;
    let sq = 0;
    for (const v of out) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  test('uniforms are in [0, 1) with mean ~1/2', () => {
    const r = createRng(9);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100000; i++) {
      const u = r.nextFloat64();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / 100000 - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / 100000));
  });

  test('a seed gives the same stream twice; different seeds differ', () => {
    const draw = (seed: number | string): number[] => {
      const r = createRng(seed);
      return [
        ...Array.from({ length: 16 }, () => r.nextUint32()),
        ...Array.from({ length: 16 }, () => r.nextGaussian()),
      ];
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw('study-1')).toEqual(draw('study-1'));
    const streams = [draw(0), draw(1), draw(42), draw(0xffffffff), draw('study-1'), draw('study-2')];
    for (let i = 0; i < streams.length; i++) {
      for (let j = i + 1; j < streams.length; j++) expect(streams[i]).not.toEqual(streams[j]);
    }
    expect(deriveSeed(42, 'sample', 1)).not.toBe(deriveSeed(42, 'sample', 2));
    expect(deriveSeed(42, 'sample', 1)).not.toBe(deriveSeed(42, 'sample', '1'));
    expect(deriveSeed(42, 'sample', 1)).toBe(deriveSeed(42, 'sample', 1));
  });

  test('FNV-1a 32 published test vectors and UTF-8 encoding', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    for (const s of ['', 'abc', 'é', '€', 'naïve ✓', '\u{1F600}x', 'a\ud800b', '\udc00']) {
      expect(Array.from(utf8Bytes(s))).toEqual(Array.from(Buffer.from(s, 'utf8')));
    }
  });

  test('invalid seeds throw', () => {
    for (const seed of [-1, 2 ** 32, 1.5, NaN, Infinity]) {
      expectDiffusionError(() => createRng(seed), 'invalid-seed');
      expectDiffusionError(() => deriveSeed(seed, 'x'), 'invalid-seed');
    }
    expectDiffusionError(() => deriveSeed(1, 0.5), 'invalid-seed');
    expectDiffusionError(() => deriveSeed(1, 2 ** 60), 'invalid-seed');
    expectDiffusionError(() => createRng({} as never), 'invalid-seed');
  });
});
