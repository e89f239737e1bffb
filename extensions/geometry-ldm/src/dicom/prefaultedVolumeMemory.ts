/**
 * VolumeMemory (volumeMemory.ts) whose pages a helper thread faults in while the reader
 * writes: the volume lives in a SharedArrayBuffer; the helper walks its pages from the end
 * while the reader writes from the start, so the two threads share the first-touch cost (two
 * threads faulted 140 MB in 0.56x the time of one on the 2-core machine of BENCHMARKS.md; a
 * page of chromium about as much). The helper never changes a value: it touches each page
 * with an atomic compare-exchange of 0 for 0 (a write access, so the page is mapped writable,
 * that leaves any value the reader already wrote), and it stops where the reader has arrived.
 *
 * The thread is injected (`SpawnToucher`): a Node worker_threads Worker
 * (nodeVolumeMemory.ts) or a Web Worker (browserVolumeMemory.ts) running `TOUCHER_SOURCE`.
 */
import { plainVolumeMemory, type VolumeBuffer, type VolumeMemory } from './volumeMemory';

const PAGE_WORDS = 1024; // 4 KiB pages of 4-byte words

/**
 * The helper's work as JavaScript source, one truth for both hosts: a function expression
 * `(sab, ctl) => void`. Control words of `ctl`: [0] the reader's progress in pages, [1] 1 = stop.
 */
export const TOUCHER_SOURCE = `(sab, ctl) => {
  const words = new Int32Array(sab);
  const c = new Int32Array(ctl);
  for (let p = Math.ceil(words.length / ${PAGE_WORDS}) - 1; p >= 0; p--) {
    if ((p & 15) === 0 && (Atomics.load(c, 1) !== 0 || Atomics.load(c, 0) > p)) break;
    Atomics.compareExchange(words, p * ${PAGE_WORDS}, 0, 0);
  }
}`;

/**
 * The helper's whole script for a host: a worker_threads Worker evaluated from source, or a Web
 * Worker from a Blob. Each job is one pass; the answer (any message) says it has ended.
 */
export function toucherWorkerSource(host: 'node' | 'web'): string {
  return host === 'node'
    ? `const { parentPort } = require('node:worker_threads');
const touch = ${TOUCHER_SOURCE};
parentPort.on('message', ({ sab, ctl }) => {
  touch(sab, ctl);
  parentPort.postMessage(0);
});`
    : `const touch = ${TOUCHER_SOURCE};
onmessage = (e) => {
  touch(e.data.sab, e.data.ctl);
  postMessage(0);
};`;
}

/** One pass of the helper: it answers with any message when the pass has ended. */
export interface ToucherJob {
  readonly sab: SharedArrayBuffer;
  readonly ctl: SharedArrayBuffer;
}

export interface ToucherThread {
  post(job: ToucherJob): void;
  terminate(): void;
}

/** Starts a helper thread; `done` after each pass, `lost` once if it fails or exits. */
export type SpawnToucher = (events: { done(): void; lost(): void }) => ToucherThread;

/** Volumes smaller than this are allocated plainly: a worker round trip would cost more. */
export const PREFAULT_MIN_VOXELS = 1 << 22;

export interface PrefaultedVolumeMemory extends VolumeMemory {
  /** Resolves when the helper has ended its pass over every volume allocated so far. */
  idle(): Promise<void>;
  /** Ends the helper (a later volume starts a new one). */
  close(): void;
  /** Passes the helper has ended, and helpers lost (failed or exited): for benches and tests. */
  stats(): { readonly passes: number; readonly lost: number };
}

export function createPrefaultedVolumeMemory(
  spawn: SpawnToucher,
  minVoxels = PREFAULT_MIN_VOXELS,
): PrefaultedVolumeMemory {
  let thread: ToucherThread | null = null;
  let pending = 0;
  let passes = 0;
  let lostThreads = 0;
  const waiters: (() => void)[] = [];
  const settle = (n: number) => {
    pending = n;
    if (pending === 0) for (const w of waiters.splice(0)) w();
  };
  const toucher = (): ToucherThread | null => {
    if (thread) return thread;
    let t: ToucherThread | null = null;
    try {
      t = spawn({
        done: () => {
          passes++;
          settle(pending - 1);
        },
        // a failed helper is replaced at the next volume; its volumes are written by the reader alone
        lost: () => {
          if (thread !== t) return; // closed (and perhaps replaced) already
          thread = null;
          lostThreads++;
          settle(0);
        },
      });
    } catch {
      return null; // no thread here (a policy forbids it): volumes are plain
    }
    thread = t;
    return t;
  };
  toucher(); // started now, so that it is ready when the first volume is allocated
  return {
    allocate(voxels: number): VolumeBuffer {
      if (voxels < minVoxels) return plainVolumeMemory.allocate(voxels);
      const t = toucher();
      if (!t) return plainVolumeMemory.allocate(voxels);
      const sab = new SharedArrayBuffer(voxels * 4);
      const ctl = new SharedArrayBuffer(8);
      const c = new Int32Array(ctl);
      try {
        t.post({ sab, ctl });
      } catch {
        return plainVolumeMemory.allocate(voxels); // shared memory cannot be posted here
      }
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
      const t = thread;
      thread = null;
      t?.terminate();
      settle(0);
    },
    stats: () => ({ passes, lost: lostThreads }),
  };
}
