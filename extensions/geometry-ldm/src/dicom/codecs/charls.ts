/**
 * JPEG-LS (1.2.840.10008.1.2.4.80 / .81) with @cornerstonejs/codec-charls.
 * `factory` defaults to the package's `decodewasmjs` entry; give `wasmUrl`
 * in a browser or worker.
 */
import { TRANSFER_SYNTAX, type FrameCodec } from '../decodeFrame';
import {
  emscriptenCodec,
  factoryOf,
  moduleOptions,
  type EmscriptenDecoder,
  type EmscriptenFactory,
  type WasmLocation,
} from './emscriptenCodec';

export interface CharlsModule {
  JpegLSDecoder: new () => EmscriptenDecoder;
}

export interface CharlsCodecOptions extends WasmLocation {
  readonly factory?: () => Promise<EmscriptenFactory<CharlsModule>>;
}

export function charlsCodec(options: CharlsCodecOptions = {}): FrameCodec {
  const getFactory =
    options.factory ??
    (async () => factoryOf<CharlsModule>(await import('@cornerstonejs/codec-charls/decodewasmjs')));
  return emscriptenCodec('JPEG-LS (CharLS)', async () => {
    const mod = await (await getFactory())(moduleOptions(options));
    return { createDecoder: () => new mod.JpegLSDecoder() };
  });
}

export function charlsCodecs(options: CharlsCodecOptions = {}): Record<string, FrameCodec> {
  const codec = charlsCodec(options);
  return { [TRANSFER_SYNTAX.jpegLsLossless]: codec, [TRANSFER_SYNTAX.jpegLsNearLossless]: codec };
}
