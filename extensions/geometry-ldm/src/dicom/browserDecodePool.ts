/**
 * The decode pool (decodePool.ts) on Web Workers: `workerUrl` is the decode-worker.js bundle
 * (decodeWorker.ts), `codecWasmUrl` the directory of the codecs' wasm. One worker per core
 * (navigator.hardwareConcurrency) by default.
 */
import { createDecodePool, type DecodePool, type DecodeReply, type DecodeWorkerPort } from './decodePool';

export function browserCores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Number.isInteger(n) && n! >= 1 ? n! : 1;
}

export function createBrowserDecodePool(
  workerUrl: string,
  codecWasmUrl: string,
  size = browserCores(),
): DecodePool {
  return createDecodePool((): DecodeWorkerPort => {
    const worker = new Worker(workerUrl, { type: 'module', name: 'geometry-ldm-decode' });
    worker.postMessage({ type: 'init', codecWasmUrl });
    return {
      post: (request, transfer) => worker.postMessage(request, transfer),
      listen(onReply, onFailure) {
        worker.onmessage = (ev: MessageEvent<DecodeReply>) => onReply(ev.data);
        worker.onerror = (ev: ErrorEvent) => {
          ev.preventDefault();
          onFailure(new Error(ev.message || `the decode worker ${workerUrl} failed to start`));
        };
      },
      terminate: () => worker.terminate(),
    };
  }, size);
}
