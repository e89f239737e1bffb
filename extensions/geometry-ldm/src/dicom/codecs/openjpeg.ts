/**
 * JPEG 2000 (1.2.840.10008.1.2.4.90 / .91) with @cornerstonejs/codec-openjpeg.
 * `factory` defaults to the package's `decodewasmjs` entry; give `wasmUrl`
 * in a browser or worker (where the bundler put openjpegwasm_decode.wasm).
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

export interface OpenJpegModule {
  J2KDecoder: new () => EmscriptenDecoder;
}

export interface OpenJpegCodecOptions extends WasmLocation {
  readonly factory?: () => Promise<EmscriptenFactory<OpenJpegModule>>;
}

export function openJpegCodec(options: OpenJpegCodecOptions = {}): FrameCodec {
  const getFactory =
    options.factory ??
    (async () => factoryOf<OpenJpegModule>(await import('@cornerstonejs/codec-openjpeg/decodewasmjs')));
  return emscriptenCodec('JPEG 2000 (OpenJPEG)', async () => {
    const mod = await (await getFactory())(moduleOptions(options));
    return { createDecoder: () => new mod.J2KDecoder() };
  });
}

export function openJpegCodecs(options: OpenJpegCodecOptions = {}): Record<string, FrameCodec> {
  const codec = openJpegCodec(options);
  return { [TRANSFER_SYNTAX.jpeg2000Lossless]: codec, [TRANSFER_SYNTAX.jpeg2000]: codec };
}
