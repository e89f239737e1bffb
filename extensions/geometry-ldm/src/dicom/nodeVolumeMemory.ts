/**
 * VolumeMemory for Node (prefaultedVolumeMemory.ts): the helper that faults in a volume's
 * pages is a worker_threads Worker, unref'd so that it never keeps a process alive.
 */
import { Worker } from 'node:worker_threads';
import {
  createPrefaultedVolumeMemory,
  PREFAULT_MIN_VOXELS,
  toucherWorkerSource,
  type PrefaultedVolumeMemory,
} from './prefaultedVolumeMemory';

export type NodeVolumeMemory = PrefaultedVolumeMemory;

export function createNodeVolumeMemory(minVoxels = PREFAULT_MIN_VOXELS): NodeVolumeMemory {
  return createPrefaultedVolumeMemory((events) => {
    const w = new Worker(toucherWorkerSource('node'), { eval: true });
    w.unref();
    w.on('message', events.done);
    w.on('error', events.lost);
    w.on('exit', events.lost);
    return { post: (job) => w.postMessage(job), terminate: () => void w.terminate() };
  }, minVoxels);
}
