/**
 * Web Worker entry of the browser decode pool (browserDecodePool.ts), built as its own bundle
 * (decode-worker.js, beside the codecs' wasm). Its first message names where the wasm files are;
 * every later one is a DecodeRequest.
 */
import { defaultCodecs } from './codecs';
import type { FrameCodecs } from './decodeFrame';
import { serveFrameDecode, type DecodeRequest } from './decodePool';

interface Scope {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
}
const scope = self as unknown as Scope;
let codecs: FrameCodecs | null = null;
scope.onmessage = (ev) => {
  const msg = ev.data as { type?: string; codecWasmUrl?: string } & DecodeRequest;
  if (msg.type === 'init') {
    const base = msg.codecWasmUrl!;
    codecs = defaultCodecs({
      openjpeg: { wasmUrl: `${base}openjpegwasm_decode.wasm` },
      charls: { wasmUrl: `${base}charlswasm_decode.wasm` },
    });
    return;
  }
  void serveFrameDecode(codecs ?? defaultCodecs(), msg).then(({ reply, transfer }) =>
    scope.postMessage(reply, transfer),
  );
};
