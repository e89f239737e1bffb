/**
 * The decode pool (decodePool.ts) on Node's worker_threads: one worker per core by default,
 * each running nodeDecodeWorker.ts (bundled to a plain script: `workerFile`). Workers are
 * unref'd, so a pool left open never keeps a process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createDecodePool, type DecodePool, type DecodeReply, type DecodeWorkerPort } from './decodePool';

export function createNodeDecodePool(workerFile: string, size = availableParallelism()): DecodePool {
  return createDecodePool((): DecodeWorkerPort => {
    const worker = new Worker(workerFile);
    worker.unref();
    return {
      post: (request, transfer) => worker.postMessage(request, transfer),
      listen(onReply, onFailure) {
        worker.on('message', (reply: DecodeReply) => onReply(reply));
        worker.on('error', (e) => onFailure(e instanceof Error ? e : new Error(String(e))));
        worker.on('exit', (code) => onFailure(new Error(`exit code ${code}`)));
      },
      terminate: () => void worker.terminate(),
    };
  }, size);
}
