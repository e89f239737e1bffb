/**
 * The codec set a reader uses by default: native, RLE, JPEG lossless and JPEG baseline/extended
 * built in; JPEG 2000 and JPEG-LS via Cornerstone wasm.
 */
import { TRANSFER_SYNTAX, type FrameCodec, type FrameCodecs } from '../decodeFrame';
import { charlsCodecs, type CharlsCodecOptions } from './charls';
import { jpegBaselineCodecs } from './jpegBaseline';
import { jpegLosslessCodecs } from './jpegLossless';
import { openJpegCodecs, type OpenJpegCodecOptions } from './openjpeg';
import { rleCodec } from './rle';
import { UNCOMPRESSED_CODECS } from './uncompressed';

export interface DefaultCodecOptions {
  readonly openjpeg?: OpenJpegCodecOptions;
  readonly charls?: CharlsCodecOptions;
  /** Extra or replacement codecs by transfer syntax UID (e.g. a different JPEG lossless decoder). */
  readonly extra?: Readonly<Record<string, FrameCodec>>;
}

export function defaultCodecs(options: DefaultCodecOptions = {}): FrameCodecs {
  return {
    ...UNCOMPRESSED_CODECS,
    [TRANSFER_SYNTAX.rle]: rleCodec,
    ...jpegLosslessCodecs(),
    ...jpegBaselineCodecs(),
    ...openJpegCodecs(options.openjpeg),
    ...charlsCodecs(options.charls),
    ...(options.extra ?? {}),
  };
}

export { rleCodec } from './rle';
export { littleEndianCodec, bigEndianCodec, UNCOMPRESSED_CODECS } from './uncompressed';
export { openJpegCodec, openJpegCodecs } from './openjpeg';
export { charlsCodec, charlsCodecs } from './charls';
export { jpegLosslessCodec, jpegLosslessCodecs } from './jpegLossless';
export { jpegBaselineCodec, jpegBaselineCodecs } from './jpegBaseline';
