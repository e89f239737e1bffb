/**
 * VolumeMemory for the viewer page (prefaultedVolumeMemory.ts): the helper that faults in a
 * volume's pages is a Web Worker made from a Blob. Shared memory needs a cross-origin-isolated
 * page (the product's server and nginx configuration send COOP/COEP for wasm threads anyway);
 * elsewhere, or where a policy forbids the worker, volumes are plain Float32Arrays.
 */
import {
  createPrefaultedVolumeMemory,
  PREFAULT_MIN_VOXELS,
  toucherWorkerSource,
  type PrefaultedVolumeMemory,
} from './prefaultedVolumeMemory';
import { plainVolumeMemory, type VolumeMemory } from './volumeMemory';

interface PageScope {
  readonly crossOriginIsolated?: boolean;
  readonly SharedArrayBuffer?: unknown;
  readonly Worker?: unknown;
  readonly Blob?: unknown;
  readonly URL?: { createObjectURL?: unknown };
}

/** Can this page share memory with a worker? */
export function canPrefault(scope: PageScope = globalThis as PageScope): boolean {
  return (
    scope.crossOriginIsolated === true &&
    typeof scope.SharedArrayBuffer === 'function' &&
    typeof scope.Worker === 'function' &&
    typeof scope.Blob === 'function' &&
    typeof scope.URL?.createObjectURL === 'function'
  );
}

export function createBrowserVolumeMemory(minVoxels = PREFAULT_MIN_VOXELS): PrefaultedVolumeMemory | null {
  if (!canPrefault()) return null;
  let url: string | null = null; // one Blob URL per memory, kept: a worker may be started again
  return createPrefaultedVolumeMemory((events) => {
    url ??= URL.createObjectURL(new Blob([toucherWorkerSource('web')], { type: 'text/javascript' }));
    const w = new Worker(url, { name: 'geometry-ldm-volume-pages' });
    w.onmessage = () => events.done();
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      events.lost();
    };
    return { post: (job) => w.postMessage(job), terminate: () => w.terminate() };
  }, minVoxels);
}

let pageMemory: VolumeMemory | null = null;

/** The page's volume memory: one helper for every read of the page; plain where it cannot. */
export function pageVolumeMemory(): VolumeMemory {
  return (pageMemory ??= createBrowserVolumeMemory() ?? plainVolumeMemory);
}
