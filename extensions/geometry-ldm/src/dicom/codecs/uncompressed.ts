/** Native (uncompressed) frames: implicit/explicit little endian and explicit big endian. */
import { DicomError } from '../errors';
import {
  samplesFromLittleEndianBytes,
  TRANSFER_SYNTAX,
  type FrameCodec,
  type FrameInfo,
} from '../decodeFrame';

function expectedBytes(info: FrameInfo): number {
  return info.rows * info.columns * info.samplesPerPixel * (info.bitsAllocated / 8);
}

export const littleEndianCodec: FrameCodec = {
  name: 'uncompressed little endian',
  decode(encoded: Uint8Array, info: FrameInfo) {
    const n = expectedBytes(info);
    // A frame may carry one pad byte (odd length); fewer bytes is a truncated frame.
    if (encoded.length !== n && encoded.length !== n + 1) {
      throw new DicomError('decode-failed', `uncompressed frame has ${encoded.length} bytes, expected ${n}`);
    }
    return samplesFromLittleEndianBytes(encoded, info);
  },
};

export const bigEndianCodec: FrameCodec = {
  name: 'uncompressed big endian',
  decode(encoded: Uint8Array, info: FrameInfo) {
    const n = expectedBytes(info);
    if (encoded.length !== n && encoded.length !== n + 1) {
      throw new DicomError('decode-failed', `uncompressed frame has ${encoded.length} bytes, expected ${n}`);
    }
    const swapped = encoded.slice(0, n);
    if (info.bitsAllocated === 16) {
      for (let k = 0; k < n; k += 2) {
        const t = swapped[k];
        swapped[k] = swapped[k + 1];
        swapped[k + 1] = t;
      }
    }
    return samplesFromLittleEndianBytes(swapped, info);
  },
};

export const UNCOMPRESSED_CODECS = {
  [TRANSFER_SYNTAX.implicitLittle]: littleEndianCodec,
  [TRANSFER_SYNTAX.explicitLittle]: littleEndianCodec,
  [TRANSFER_SYNTAX.deflatedExplicitLittle]: littleEndianCodec,
  [TRANSFER_SYNTAX.explicitBig]: bigEndianCodec,
} as const;
