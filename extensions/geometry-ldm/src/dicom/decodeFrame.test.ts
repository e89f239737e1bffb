import { applyBitsStored, type FrameInfo } from './decodeFrame';

const info = (bitsAllocated: number, bitsStored: number, pixelRepresentation: number): FrameInfo => ({
  rows: 1,
  columns: 0,
  bitsAllocated,
  bitsStored,
  pixelRepresentation,
  samplesPerPixel: 1,
});

/** The stored value as PS3.5 C.7.6.3 defines it: the low BitsStored bits, two's complement when signed. */
function reference(raw: number, allocated: number, bits: number, signed: boolean): number {
  const low = ((raw % 2 ** allocated) + 2 ** allocated) % 2 ** bits;
  return signed && low >= 2 ** (bits - 1) ? low - 2 ** bits : low;
}

test.each([
  ['Int16Array', Int16Array, 16, 12, 1],
  ['Uint16Array', Uint16Array, 16, 12, 0],
  ['Int8Array', Int8Array, 8, 6, 1],
  ['Uint8Array', Uint8Array, 8, 6, 0],
] as const)('%s: high bits dropped, sign extended from BitsStored', (_, T, allocated, bits, signed) => {
  const raw = Array.from({ length: 2 ** allocated }, (_, i) => i - (signed ? 2 ** (allocated - 1) : 0));
  const frame = T.from(raw);
  const out = applyBitsStored(frame, info(allocated, bits, signed));
  expect(out).toBe(frame); // in place, same type
  expect(Array.from(out)).toEqual(raw.map((v) => reference(v, allocated, bits, signed === 1)));
});

test('BitsStored equal to BitsAllocated leaves the frame alone', () => {
  const frame = Int16Array.from([-32768, -1, 0, 32767]);
  expect(Array.from(applyBitsStored(frame, info(16, 16, 1)))).toEqual([-32768, -1, 0, 32767]);
});
