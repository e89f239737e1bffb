import { decodeFrame, TRANSFER_SYNTAX } from '../decodeFrame';
import { rleCodec } from './rle';

/** PackBits-encodes one byte plane (literal runs only, plus one replicate run when bytes repeat). */
function packBits(bytes: number[]): number[] {
  const out: number[] = [];
  let n = 0;
  while (n < bytes.length) {
    let run = 1;
    while (n + run < bytes.length && bytes[n + run] === bytes[n] && run < 128) run++;
    if (run >= 3) {
      out.push(257 - run, bytes[n]);
      n += run;
    } else {
      const len = Math.min(128, bytes.length - n);
      out.push(len - 1, ...bytes.slice(n, n + len));
      n += len;
    }
  }
  return out;
}

function rleFrame(values: Int16Array): Uint8Array {
  const hi = Array.from(values, (v) => (v >> 8) & 0xff);
  const lo = Array.from(values, (v) => v & 0xff);
  const s0 = packBits(hi);
  const s1 = packBits(lo);
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + s0.length, true);
  return new Uint8Array([...header, ...s0, ...s1]);
}

const info = {
  rows: 3,
  columns: 4,
  bitsAllocated: 16,
  bitsStored: 16,
  pixelRepresentation: 1,
  samplesPerPixel: 1,
};
const codecs = { [TRANSFER_SYNTAX.rle]: rleCodec };

test('decodes signed 16-bit RLE', async () => {
  const values = new Int16Array([-1024, -1024, -1024, -1024, 5, 300, -2, 0, 32767, -32768, 1, 1]);
  const out = await decodeFrame(rleFrame(values), TRANSFER_SYNTAX.rle, info, codecs, 'f');
  expect(Array.from(out)).toEqual(Array.from(values));
});

test('a truncated RLE frame is decode-failed', async () => {
  const frame = rleFrame(new Int16Array(12).fill(7));
  await expect(
    decodeFrame(frame.subarray(0, frame.length - 3), TRANSFER_SYNTAX.rle, info, codecs, 'f'),
  ).rejects.toMatchObject({
    code: 'decode-failed',
  });
});

test('unknown transfer syntax', async () => {
  await expect(decodeFrame(new Uint8Array(24), '1.2.3', info, codecs, 'f')).rejects.toMatchObject({
    code: 'unsupported-transfer-syntax',
  });
});
