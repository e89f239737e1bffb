// Page side of volume-memory.mjs: a HU volume allocated and written the way readSeries does it
// (slice by slice, stored int16 times slope plus intercept, progress reported), in the memory
// the panels use (dicom/browserVolumeMemory.ts) or a plain Float32Array.
import { createBrowserVolumeMemory } from '../../extensions/geometry-ldm/src/dicom/browserVolumeMemory';
import { plainVolumeMemory, type VolumeMemory } from '../../extensions/geometry-ldm/src/dicom/volumeMemory';

const pageMemory = createBrowserVolumeMemory();

export const isolated = () => crossOriginIsolated && pageMemory !== null;

/** Milliseconds to allocate and fill an nx x ny x nz volume from one stored frame. */
export function timeVolume(kind: 'plain' | 'page', nx: number, ny: number, nz: number): number {
  const memory: VolumeMemory = kind === 'page' ? pageMemory! : plainVolumeMemory;
  const frame = new Int16Array(nx * ny);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 2654435761) % 2400;
  const slice = nx * ny;
  const t0 = performance.now();
  const buf = memory.allocate(slice * nz);
  const data = buf.data;
  for (let k = 0; k < nz; k++) {
    const off = k * slice;
    for (let i = 0; i < slice; i++) data[off + i] = frame[i] * 1 - 1024;
    buf.written(off + slice);
  }
  buf.release();
  const ms = performance.now() - t0;
  if (data[slice * nz - 1] !== frame[slice - 1] - 1024)
    throw new Error('the volume does not hold what was written');
  return ms;
}

/** Resolves when the helper has ended every pass (so runs do not overlap). */
export const idle = () => pageMemory?.idle();
