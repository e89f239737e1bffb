/**
 * ChunkedBytes against the same operations on the joined bytes (Buffer's own indexOf and
 * subarray as the reference), for many ways of cutting the same bytes into chunks.
 */
import { ChunkedBytes } from './chunkedBytes';

/** A small deterministic generator (the cuts and bytes must be the same on every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function cut(bytes: Uint8Array, sizes: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < bytes.length;) {
    const n = Math.min(bytes.length - o, sizes());
    chunks.push(bytes.slice(o, o + n));
    o += n;
  }
  return chunks;
}

test('at, subarray, view and contiguous equal the joined bytes for any cutting', () => {
  const r = rng(1);
  // few distinct values, so needles recur and straddle chunk borders
  const bytes = Uint8Array.from({ length: 3000 }, () => Math.floor(r() * 4));
  const joined = Buffer.from(bytes);
  for (const sizes of [() => 1, () => 7, () => 1 + Math.floor(r() * 300), () => 3000]) {
    const chunks = cut(bytes, sizes);
    chunks.splice(1, 0, new Uint8Array(0)); // an empty chunk changes nothing
    const c = ChunkedBytes.of(chunks);
    expect(c.length).toBe(3000);
    for (let t = 0; t < 200; t++) {
      const a = Math.floor(r() * 3000);
      const b = a + Math.floor(r() * (3000 - a + 1));
      const sub = c.subarray(a, b);
      expect(sub.length).toBe(b - a);
      expect(Buffer.from(sub.contiguous()).equals(joined.subarray(a, b))).toBe(true);
      const v = sub.view();
      if (v) expect(Buffer.from(v).equals(joined.subarray(a, b))).toBe(true);
      expect(sub.at(0)).toBe(b > a ? joined[a] : undefined);
      expect(sub.at(b - a)).toBeUndefined();
      // a gather into a reused buffer writes only its start; one too short is not used
      const into = new Uint8Array(3000).fill(9);
      const got = sub.contiguous(into);
      expect(Buffer.from(got).equals(joined.subarray(a, b))).toBe(true);
      if (!v) expect(got.buffer).toBe(into.buffer);
      if (!v && b - a > 1) expect(sub.contiguous(new Uint8Array(1)).length).toBe(b - a);
    }
  }
});

test('indexOf finds what Buffer.indexOf finds, across chunk borders and inside subarrays', () => {
  const r = rng(2);
  const bytes = Uint8Array.from({ length: 2000 }, () => Math.floor(r() * 3));
  const joined = Buffer.from(bytes);
  for (const sizes of [() => 1, () => 5, () => 1 + Math.floor(r() * 100)]) {
    const c = ChunkedBytes.of(cut(bytes, sizes));
    for (let t = 0; t < 300; t++) {
      const needle = Uint8Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * 3));
      const from = Math.floor(r() * 2100);
      const want = from > 2000 ? -1 : joined.indexOf(needle, from);
      expect(c.indexOf(needle, from)).toBe(want);
      const a = Math.floor(r() * 2000);
      const b = a + Math.floor(r() * (2000 - a + 1));
      expect(c.subarray(a, b).indexOf(needle, 0)).toBe(joined.subarray(a, b).indexOf(needle, 0));
      expect(c.indexOfByte(needle[0], from)).toBe(from > 2000 ? -1 : joined.indexOf(needle[0], from));
    }
  }
  expect(ChunkedBytes.of([]).indexOf(Uint8Array.of(1))).toBe(-1);
});
