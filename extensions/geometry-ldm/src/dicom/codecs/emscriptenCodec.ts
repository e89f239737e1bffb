/**
 * Shared wrapper for the Cornerstone emscripten codecs (@cornerstonejs/codec-openjpeg,
 * codec-charls): they all expose a decoder class with getEncodedBuffer / decode /
 * getDecodedBuffer / getFrameInfo / delete. The wasm module is created once by the
 * injected `load` function (which knows where the .wasm file lives).
 */
import { DicomError } from '../errors';
import {
  samplesFromLittleEndianBytes,
  type FrameCodec,
  type FrameInfo,
  type StoredFrame,
} from '../decodeFrame';

export interface EmscriptenFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

export interface EmscriptenDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): EmscriptenFrameInfo;
  delete?(): void;
}

/** Emscripten module factory options we use. */
export interface EmscriptenModuleOptions {
  locateFile?: (path: string, prefix: string) => string;
  print?: (s: string) => void;
  printErr?: (s: string) => void;
}

/** Emscripten module factory (the default export of the codec's `decodewasmjs` entry). */
export type EmscriptenFactory<M> = (options: EmscriptenModuleOptions) => Promise<M>;

/** Where the codec finds its .wasm: a URL (browser/worker) or nothing (Node: next to the script). */
export interface WasmLocation {
  readonly wasmUrl?: string;
  /** Print the codec's own log lines (default: silent). */
  readonly verbose?: boolean;
}

export function moduleOptions(loc: WasmLocation): EmscriptenModuleOptions {
  const quiet = (): void => {};
  return {
    ...(loc.wasmUrl
      ? {
          locateFile: (path: string, prefix: string) =>
            path.endsWith('.wasm') ? loc.wasmUrl! : prefix + path,
        }
      : {}),
    ...(loc.verbose ? {} : { print: quiet, printErr: quiet }),
  };
}

export function factoryOf<M>(mod: unknown): EmscriptenFactory<M> {
  const f = (mod as { default?: unknown }).default ?? mod;
  if (typeof f !== 'function') throw new Error('codec module has no factory');
  return f as EmscriptenFactory<M>;
}

export function emscriptenCodec(
  name: string,
  load: () => Promise<{ createDecoder(): EmscriptenDecoder }>,
): FrameCodec {
  let modulePromise: Promise<{ createDecoder(): EmscriptenDecoder }> | null = null;
  return {
    name,
    async decode(encoded: Uint8Array, info: FrameInfo): Promise<StoredFrame> {
      modulePromise ??= load();
      let mod;
      try {
        mod = await modulePromise;
      } catch (e) {
        modulePromise = null;
        throw new DicomError('decode-failed', `${name} could not be loaded: ${(e as Error).message ?? e}`);
      }
      const decoder = mod.createDecoder();
      try {
        decoder.getEncodedBuffer(encoded.length).set(encoded);
        decoder.decode();
        const fi = decoder.getFrameInfo();
        if (
          fi.width !== info.columns ||
          fi.height !== info.rows ||
          fi.componentCount !== info.samplesPerPixel
        ) {
          throw new DicomError(
            'decode-failed',
            `${name}: codestream is ${fi.width}x${fi.height}x${fi.componentCount}, header says ${info.columns}x${info.rows}x${info.samplesPerPixel}`,
          );
        }
        const bytesPerSample = fi.bitsPerSample > 8 ? 2 : 1;
        if (bytesPerSample * 8 !== info.bitsAllocated) {
          throw new DicomError(
            'decode-failed',
            `${name}: ${fi.bitsPerSample}-bit codestream for BitsAllocated ${info.bitsAllocated}`,
          );
        }
        // Copy out of wasm memory before the decoder is freed.
        return samplesFromLittleEndianBytes(decoder.getDecodedBuffer().slice(), info);
      } catch (e) {
        // An emscripten abort leaves the module unusable: load a fresh one next time.
        if (!(e instanceof DicomError)) modulePromise = null;
        throw e;
      } finally {
        try {
          decoder.delete?.();
        } catch {
          // the module aborted; nothing to free
        }
      }
    },
  };
}
