import { defaultCodecs } from './codecs';
import { applyBitsStored, decodeFrame, TRANSFER_SYNTAX, type FrameInfo } from './decodeFrame';

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

test.each([
  ['Int16Array', Int16Array, 16, 12, 1],
  ['Uint16Array', Uint16Array, 16, 12, 0],
  ['Int8Array', Int8Array, 8, 6, 1],
  ['Uint8Array', Uint8Array, 8, 6, 0],
] as const)(
  '%s: values already within BitsStored are returned untouched',
  (_, T, allocated, bits, signed) => {
    // every value BitsStored can hold, as the full-width type holds it
    const raw = Array.from({ length: 2 ** bits }, (_, i) => i - (signed ? 2 ** (bits - 1) : 0));
    const frame = T.from(raw);
    const out = applyBitsStored(frame, info(allocated, bits, signed), true);
    expect(out).toBe(frame); // no copy was needed
    expect(Array.from(out)).toEqual(raw);
  },
);

test.each([
  ['Int16Array, 12 bits stored', Int16Array, 16, 12, 1],
  ['Int16Array, 15 bits stored', Int16Array, 16, 15, 1],
  ['Uint16Array, 12 bits stored', Uint16Array, 16, 12, 0],
  ['Int8Array, 6 bits stored', Int8Array, 8, 6, 1],
  ['Uint8Array, 7 bits stored', Uint8Array, 8, 7, 0],
] as const)(
  '%s: one value out of range anywhere is found (every bit pattern)',
  (_, T, allocated, bits, signed) => {
    const wrong: number[] = [];
    for (let v = 0; v < 2 ** allocated; v++) {
      const value = signed && v >= 2 ** (allocated - 1) ? v - 2 ** allocated : v;
      const frame = T.from([0, 1, value]);
      const out = applyBitsStored(frame, info(allocated, bits, signed), true);
      const want = reference(value, allocated, bits, signed === 1);
      // untouched (the same array) exactly when no value needs masking; else a masked copy
      if ((out === frame) !== (want === value) || out[2] !== want) wrong.push(value);
    }
    expect(wrong).toEqual([]);
  },
);

describe('native frames: a view of the received bytes, never written', () => {
  const codecs = defaultCodecs();
  const frameInfo = (bitsStored: number, pixelRepresentation: number): FrameInfo => ({
    rows: 2,
    columns: 3,
    bitsAllocated: 16,
    bitsStored,
    pixelRepresentation,
    samplesPerPixel: 1,
  });
  const bytesOf = (values: number[], offset: number) => {
    const buf = new Uint8Array(offset + 2 * values.length + 3);
    const dv = new DataView(buf.buffer);
    values.forEach((v, n) => dv.setInt16(offset + 2 * n, v, true));
    return buf.subarray(offset, offset + 2 * values.length);
  };

  test('aligned and within BitsStored: the frame shares the bytes (no copy)', async () => {
    const bytes = bytesOf([-2048, -1, 0, 1, 2047, 5], 4);
    const out = await decodeFrame(bytes, TRANSFER_SYNTAX.explicitLittle, frameInfo(12, 1), codecs);
    expect(Array.from(out)).toEqual([-2048, -1, 0, 1, 2047, 5]);
    expect(out.buffer).toBe(bytes.buffer);
  });

  test('bits above BitsStored: masked on a copy, the received bytes unchanged', async () => {
    // 0x7000 | 5 in 12 bits is 5; -1 (0xffff) sign-extended from bit 11 stays -1; 0x0800 is -2048
    const bytes = bytesOf([0x7005, -1, 0x0800, 1, 2, 3], 4);
    const before = Array.from(bytes);
    const out = await decodeFrame(bytes, TRANSFER_SYNTAX.explicitLittle, frameInfo(12, 1), codecs);
    expect(Array.from(out)).toEqual([5, -1, -2048, 1, 2, 3]);
    expect(Array.from(bytes)).toEqual(before);
    expect(out.buffer).not.toBe(bytes.buffer);
  });

  test('an odd offset: an aligned copy, the same values', async () => {
    const bytes = bytesOf([100, -100, 7, 8, 9, 10], 5);
    const out = await decodeFrame(bytes, TRANSFER_SYNTAX.explicitLittle, frameInfo(16, 1), codecs);
    expect(Array.from(out)).toEqual([100, -100, 7, 8, 9, 10]);
    expect(out.byteOffset % 2).toBe(0);
  });
});
