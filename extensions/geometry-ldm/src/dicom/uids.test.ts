import { deterministicUid, isValidUid, newUid, sha1 } from './uids';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

test('sha1 matches FIPS 180 vectors', () => {
  expect(hex(sha1(new TextEncoder().encode('abc')))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  expect(hex(sha1(new Uint8Array(0)))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  expect(
    hex(sha1(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
  ).toBe('84983e441c3bd26ebaae4aa1f95129e5e54670f1');
});

test('new UIDs: 2.25 form, valid, never repeated', () => {
  const seen = new Set<string>();
  for (let n = 0; n < 1000; n++) {
    const u = newUid();
    expect(u).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(isValidUid(u)).toBe(true);
    expect(seen.has(u)).toBe(false);
    seen.add(u);
  }
});

test('deterministic UIDs depend only on the name', () => {
  expect(deterministicUid('a')).toBe(deterministicUid('a'));
  expect(deterministicUid('a')).not.toBe(deterministicUid('b'));
  expect(isValidUid(deterministicUid('x'))).toBe(true);
  // UUID v5 version bits
  const n = BigInt(deterministicUid('x').slice(5));
  expect(Number((n >> 76n) & 0xfn)).toBe(5);
});

test('isValidUid', () => {
  expect(isValidUid('1.2.840.10008.1.2')).toBe(true);
  for (const bad of ['', '1..2', '1.02', 'a.b', '1.2.', `1.${'1'.repeat(70)}`, null])
    expect(isValidUid(bad)).toBe(false);
});
