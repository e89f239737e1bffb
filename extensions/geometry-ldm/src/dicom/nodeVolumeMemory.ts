/**
 * VolumeMemory (volumeMemory.ts) for Node: the volume lives in a SharedArrayBuffer whose
 * pages one worker thread faults in from the end while the reader writes from the start, so
 * the two threads share the first-touch cost (two threads faulted 140 MB in 0.56x the time
 * of one on the 2-core machine of BENCHMARKS.md). The worker never changes a value: it
 * touches each page with an atomic compare-exchange of 0 for 0 (a write access, so the page
 * is mapped writable, that leaves any value the reader already wrote), and it stops where
 * the reader has arrived. The worker is unref'd: it never keeps a process alive.
 */
import { Worker } from 'node:worker_threads';
import { plainVolumeMemory, type VolumeBuffer, type VolumeMemory } from './volumeMemory';

const PAGE_WORDS = 1024; // 4 KiB pages of 4-byte words
// control words: [0] the reader's progress in pages, [1] 1 = stop
const TOUCHER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ sab, ctl }) => {
  const words = new Int32Array(sab);
  const c = new Int32Array(ctl);
  for (let p = Math.ceil(words.length / ${PAGE_WORDS}) - 1; p >= 0; p--) {
    if ((p & 15) === 0 && (Atomics.load(c, 1) !== 0 || Atomics.load(c, 0) > p)) break;
    Atomics.compareExchange(words, p * ${PAGE_WORDS}, 0, 0);
  }
  parentPort.postMessage(0);
});`;

/** Volumes smaller than this are allocated plainly: a worker round trip would cost more. */
const MIN_VOXELS = 1 << 22;

export interface NodeVolumeMemory extends VolumeMemory {
  /** Resolves when the worker has ended its pass over every volume allocated so far. */
  idle(): Promise<void>;
  /** Ends the worker (it is unref'd, so this is optional). */
  close(): void;
}

export function createNodeVolumeMemory(minVoxels = MIN_VOXELS): NodeVolumeMemory {
  let worker: Worker | null = null;
  let pending = 0;
  const waiters: (() => void)[] = [];
  const settle = (n: number) => {
    pending = n;
    if (pending === 0) for (const w of waiters.splice(0)) w();
  };
  const toucher = () => {
    if (!worker) {
      const w = new Worker(TOUCHER, { eval: true });
      w.unref();
      w.on('message', () => settle(pending - 1));
      // a failed worker is replaced at the next volume; its volumes are written by the reader alone
      const lost = () => {
        if (worker !== w) return; // closed (and perhaps replaced) already
        worker = null;
        settle(0);
      };
      w.on('error', lost);
      w.on('exit', lost);
      worker = w;
    }
    return worker;
  };
  toucher(); // started now, so that it is ready when the first volume is allocated
  return {
    allocate(voxels: number): VolumeBuffer {
      if (voxels < minVoxels) return plainVolumeMemory.allocate(voxels);
      const sab = new SharedArrayBuffer(voxels * 4);
      const ctl = new SharedArrayBuffer(8);
      const c = new Int32Array(ctl);
      toucher().postMessage({ sab, ctl });
      pending++;
      return {
        data: new Float32Array(sab),
        written: (upTo) => {
          const page = Math.floor(upTo / PAGE_WORDS);
          if (page > Atomics.load(c, 0)) Atomics.store(c, 0, page);
        },
        release: () => void Atomics.store(c, 1, 1),
      };
    },
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    close: () => {
      const w = worker;
      worker = null;
      void w?.terminate();
      settle(0);
    },
  };
}
