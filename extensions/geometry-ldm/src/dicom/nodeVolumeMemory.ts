/**
 * VolumeMemory for Node (prefaultedVolumeMemory.ts): the helper that faults in a volume's
 * pages is a worker_threads Worker, unref'd so that it never keeps a process alive.
 */
import { Worker } from 'node:worker_threads';
import {
  createPrefaultedVolumeMemory,
  PREFAULT_MIN_VOXELS,
  TOUCHER_SOURCE,
  type PrefaultedVolumeMemory,
} from './prefaultedVolumeMemory';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const touch = ${TOUCHER_SOURCE};
parentPort.on('message', ({ sab, ctl }) => {
  touch(sab, ctl);
  parentPort.postMessage(0);
});`;

export type NodeVolumeMemory = PrefaultedVolumeMemory;

export function createNodeVolumeMemory(minVoxels = PREFAULT_MIN_VOXELS): NodeVolumeMemory {
  return createPrefaultedVolumeMemory((events) => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', events.done);
    w.on('error', events.lost);
    w.on('exit', events.lost);
    return { post: (job) => w.postMessage(job), terminate: () => void w.terminate() };
  }, minVoxels);
}
