/**
 * Seeded randomness that gives the bit-identical stream in Node and in every
 * browser, so that a seed recorded with a derived series reproduces it
 * anywhere. Only 32-bit integer operations (Math.imul, >>>, ^, |, <<), IEEE
 * float64 + - * /, Math.sqrt (correctly rounded by the spec) and bit access
 * through a DataView are used; in particular NOT Math.log, whose last bit the
 * ECMAScript spec leaves to the engine. `fdlibmLog` below is a port of fdlibm's
 * __ieee754_log (the algorithm Java's StrictMath.log uses), which is
 * deterministic given IEEE double arithmetic (JS has no fused multiply-add).
 *
 * The stream, exactly (all integer arithmetic mod 2^32, values unsigned):
 *
 * 1. Seed. A number seed must be an integer in [0, 2^32 - 1] and is used as
 *    is. A string seed is hashed: seed32 = FNV-1a-32 of its UTF-8 bytes
 *    (h = 0x811C9DC5; per byte b: h = (h XOR b) * 0x01000193).
 * 2. State. splitmix32 with counter a = seed32; each output is
 *      a = a + 0x9E3779B9; z = a;
 *      z = (z XOR (z >>> 16)) * 0x21F0AAAD;
 *      z = (z XOR (z >>> 15)) * 0x735A2D97;
 *      output z XOR (z >>> 15)
 *    and the xoshiro state is its first four outputs, s0, s1, s2, s3. (The
 *    output function is a bijection of the counter, so the four words differ
 *    and the state is never all zero.)
 * 3. nextUint32 (xoshiro128**, Blackman & Vigna):
 *      result = rotl(s1 * 5, 7) * 9
 *      tmp = s1 << 9
 *      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= tmp; s3 = rotl(s3, 11)
 * 4. nextFloat64: a = nextUint32(), then b = nextUint32();
 *      ((a >>> 5) * 2^26 + (b >>> 6)) / 2^53, a multiple of 2^-53 in [0, 1).
 * 5. nextGaussian (Marsaglia's polar method): repeat
 *      u = 2 * nextFloat64() - 1; v = 2 * nextFloat64() - 1; s = u*u + v*v
 *    until 0 < s < 1; factor = sqrt(-2 * log(s) / s) (evaluated in that
 *    order, log = fdlibmLog). Returns u * factor, and v * factor on the next
 *    call (the spare is kept; nextUint32 / nextFloat64 do not touch it).
 * 6. fillGaussian(out): out[i] = nextGaussian() for i = 0, 1, ... (rounded to
 *    float32), continuing the same stream (spare included).
 *
 * deriveSeed(base, ...path) makes per-sample / per-item seeds:
 *    FNV-1a-32 of the UTF-8 bytes of JSON.stringify([base, ...path]),
 *    e.g. deriveSeed(42, 'sample', 3) hashes '[42,"sample",3]'. Numbers must
 *    be integers (the base a uint32, path elements safe integers), so the
 *    canonical text has no float formatting ambiguity.
 */
import { DiffusionError } from './errors';

// ---------------------------------------------------------------------------
// Bit access to float64 (big-endian DataView: offset 0 = high word).

const bits = new DataView(new ArrayBuffer(8));

function fromWords(hi: number, lo: number): number {
  bits.setUint32(0, hi);
  bits.setUint32(4, lo);
  return bits.getFloat64(0);
}

// fdlibm e_log.c constants, bit-exact.
const LN2_HI = fromWords(0x3fe62e42, 0xfee00000); // 6.93147180369123816490e-01
const LN2_LO = fromWords(0x3dea39ef, 0x35793c76); // 1.90821492927058770002e-10
const TWO54 = fromWords(0x43500000, 0x00000000); // 1.80143985094819840000e+16
const LG1 = fromWords(0x3fe55555, 0x55555593); // 6.666666666666735130e-01
const LG2 = fromWords(0x3fd99999, 0x9997fa04); // 3.999999999940941908e-01
const LG3 = fromWords(0x3fd24924, 0x94229359); // 2.857142874366239149e-01
const LG4 = fromWords(0x3fcc71c5, 0x1d8e78af); // 2.222219843214978396e-01
const LG5 = fromWords(0x3fc74664, 0x96cb03de); // 1.818357216161805012e-01
const LG6 = fromWords(0x3fc39a09, 0xd078c69f); // 1.531383769920937332e-01
const LG7 = fromWords(0x3fc2f112, 0xdf3e5244); // 1.479819860511658591e-01

/**
 * Natural logarithm, a line-by-line port of fdlibm 5.3's __ieee754_log
 * (error < 1 ulp). Reproducible on every JS engine, unlike Math.log.
 */
export function fdlibmLog(x: number): number {
  bits.setFloat64(0, x);
  let hx = bits.getInt32(0); // high word of x
  const lx = bits.getUint32(4); // low word of x
  let k = 0;
  if (hx < 0x00100000) {
    // x < 2**-1022
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity; // log(+-0) = -inf
    if (hx < 0) return NaN; // log(-#) = NaN
    k -= 54;
    x *= TWO54; // subnormal number, scale up x
    bits.setFloat64(0, x);
    hx = bits.getInt32(0);
  }
  if (hx >= 0x7ff00000) return x + x; // +inf, NaN
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  let i = (hx + 0x95f64) & 0x100000;
  bits.setFloat64(0, x);
  bits.setInt32(0, hx | (i ^ 0x3ff00000)); // normalize x or x/2
  x = bits.getFloat64(0);
  k += i >> 20;
  const f = x - 1.0;
  if ((0x000fffff & (2 + hx)) < 3) {
    // |f| < 2**-20
    if (f === 0) {
      if (k === 0) return 0;
      return k * LN2_HI + k * LN2_LO;
    }
    const R = f * f * (0.5 - 0.3333333333333333 * f); // fdlibm writes 0.33333333333333333: the same double
    if (k === 0) return f - R;
    return k * LN2_HI - (R - k * LN2_LO - f);
  }
  const s = f / (2.0 + f);
  const dk = k;
  const z = s * s;
  i = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  i |= j;
  const R = t2 + t1;
  if (i > 0) {
    const hfsq = 0.5 * f * f;
    if (k === 0) return f - (hfsq - s * (hfsq + R));
    return dk * LN2_HI - (hfsq - (s * (hfsq + R) + dk * LN2_LO) - f);
  }
  if (k === 0) return f - s * (f - R);
  return dk * LN2_HI - (s * (f - R) - dk * LN2_LO - f);
}

// ---------------------------------------------------------------------------
// Hashing and seeds.

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, like TextEncoder). */
export function utf8Bytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** FNV-1a, 32 bit, of the UTF-8 bytes of a string. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8Bytes(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** The uint32 a seed stands for: the number itself, or fnv1a32 of a string. */
export function seedToUint32(seed: number | string): number {
  if (typeof seed === 'string') return fnv1a32(seed);
  if (isUint32(seed)) return seed;
  throw new DiffusionError(
    'invalid-seed',
    `a seed must be a string or an integer in [0, 2^32 - 1], got ${String(seed)}`,
    {
      seed,
    },
  );
}

/**
 * A seed derived from a base seed and a path (e.g. deriveSeed(seed, 'sample', 3)):
 * fnv1a32(JSON.stringify([baseSeed, ...path])). Path numbers must be safe integers.
 */
export function deriveSeed(baseSeed: number | string, ...path: (string | number)[]): number {
  if (typeof baseSeed !== 'string' && !isUint32(baseSeed)) seedToUint32(baseSeed); // throws
  for (const p of path) {
    if (typeof p !== 'string' && !(typeof p === 'number' && Number.isSafeInteger(p))) {
      throw new DiffusionError(
        'invalid-seed',
        `seed path elements must be strings or safe integers, got ${String(p)}`,
        {
          element: p,
        },
      );
    }
  }
  return fnv1a32(JSON.stringify([baseSeed, ...path]));
}

// ---------------------------------------------------------------------------
// The generator.

export interface Rng {
  /** The uint32 the seed stands for (string seeds hashed). */
  readonly seed: number;
  /** Next xoshiro128** output, an integer in [0, 2^32 - 1]. */
  nextUint32(): number;
  /** Uniform in [0, 1), a multiple of 2^-53, from two uint32 draws. */
  nextFloat64(): number;
  /** Standard normal (Marsaglia polar method with fdlibmLog). */
  nextGaussian(): number;
  /** Fills `out` with standard normals from the same stream; returns it. */
  fillGaussian(out: Float32Array): Float32Array;
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

class Xoshiro128StarStar implements Rng {
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed32: number) {
    this.seed = seed32;
    let a = seed32 | 0;
    const splitmix32 = (): number => {
      a = (a + 0x9e3779b9) | 0;
      let z = a ^ (a >>> 16);
      z = Math.imul(z, 0x21f0aaad);
      z ^= z >>> 15;
      z = Math.imul(z, 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const tmp = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= tmp;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  nextFloat64(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * TWO_POW_26 + b) / TWO_POW_53;
  }

  nextGaussian(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.nextFloat64() - 1;
      v = 2 * this.nextFloat64() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const factor = Math.sqrt((-2 * fdlibmLog(s)) / s);
    this.spare = v * factor;
    this.hasSpare = true;
    return u * factor;
  }

  fillGaussian(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextGaussian();
    return out;
  }
}

/** A seeded generator (see the top of this file for the exact stream). */
export function createRng(seed: number | string): Rng {
  return new Xoshiro128StarStar(seedToUint32(seed));
}
