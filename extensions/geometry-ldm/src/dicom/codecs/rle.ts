/**
 * RLE Lossless (1.2.840.10008.1.2.5, PS3.5 G): a 64-byte header with the
 * segment count and offsets, one PackBits segment per byte plane, most
 * significant plane first. Pure TypeScript.
 */
import { DicomError } from '../errors';
import { samplesFromLittleEndianBytes, type FrameCodec, type FrameInfo } from '../decodeFrame';

function decodeSegment(
  src: Uint8Array,
  out: Uint8Array,
  planeOffset: number,
  stride: number,
  count: number,
): void {
  let p = 0;
  let o = 0;
  while (o < count && p < src.length) {
    const n = src[p++];
    if (n < 128) {
      const len = n + 1;
      if (p + len > src.length)
        throw new DicomError('decode-failed', 'RLE literal run past the end of its segment');
      for (let m = 0; m < len && o < count; m++) out[planeOffset + stride * o++] = src[p + m];
      p += len;
    } else if (n > 128) {
      const len = 257 - n;
      if (p >= src.length)
        throw new DicomError('decode-failed', 'RLE replicate run past the end of its segment');
      const v = src[p++];
      for (let m = 0; m < len && o < count; m++) out[planeOffset + stride * o++] = v;
    }
  }
  if (o < count)
    throw new DicomError('decode-failed', `RLE segment decoded to ${o} bytes, expected ${count}`);
}

export function decodeRle(encoded: Uint8Array, info: FrameInfo): Uint8Array {
  if (encoded.length < 64) throw new DicomError('decode-failed', 'RLE frame shorter than its 64-byte header');
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = info.bitsAllocated / 8;
  const expectedSegments = bytesPerSample * info.samplesPerPixel;
  if (segments !== expectedSegments) {
    throw new DicomError('decode-failed', `RLE frame has ${segments} segments, expected ${expectedSegments}`);
  }
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  const pixels = info.rows * info.columns;
  const out = new Uint8Array(pixels * expectedSegments);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s];
    const end = s + 1 < segments ? offsets[s + 1] : encoded.length;
    if (!(start >= 64 && end <= encoded.length && start < end)) {
      throw new DicomError('decode-failed', `RLE segment ${s} has invalid offsets`);
    }
    // Segment order: sample 0 MSB..LSB, sample 1 ...; output is little-endian interleaved (colour by pixel).
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    decodeSegment(
      encoded.subarray(start, end),
      out,
      sample * bytesPerSample + byteInSample,
      bytesPerSample * info.samplesPerPixel,
      pixels,
    );
  }
  return out;
}

export const rleCodec: FrameCodec = {
  name: 'RLE lossless',
  decode(encoded: Uint8Array, info: FrameInfo) {
    return samplesFromLittleEndianBytes(decodeRle(encoded, info), info);
  },
};
