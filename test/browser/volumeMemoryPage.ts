// Page side of volumeMemory.test.ts: the page's volume memory and a writer shaped like readSeries.
import {
  canPrefault,
  createBrowserVolumeMemory,
  pageVolumeMemory,
} from '../../extensions/geometry-ldm/src/dicom/browserVolumeMemory';
import type { VolumeMemory } from '../../extensions/geometry-ldm/src/dicom/volumeMemory';

export { canPrefault, createBrowserVolumeMemory, pageVolumeMemory };

const kind = (b: ArrayBufferLike) => Object.prototype.toString.call(b).slice(8, -1);

/** The value the writer puts at voxel i (zeros and negative zeros included). */
const expected = (i: number) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : (i % 4093) - 2000.5);

/**
 * Writes `voxels` values slice by slice in a shuffled order (frames finish out of order),
 * yielding to the event loop now and then so the helper runs meanwhile; then checks them all.
 */
export async function writeAndCheck(
  memory: VolumeMemory,
  voxels: number,
  slice: number,
): Promise<{ buffer: string; wrong: number; ms: number }> {
  const t0 = performance.now();
  const buf = memory.allocate(voxels);
  const order = Array.from({ length: Math.ceil(voxels / slice) }, (_, k) => k);
  for (let i = order.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  let reached = 0;
  for (const k of order) {
    const end = Math.min(voxels, (k + 1) * slice);
    for (let i = k * slice; i < end; i++) buf.data[i] = expected(i);
    reached = Math.max(reached, end);
    buf.written(reached);
    if (k % 8 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  buf.release();
  const ms = performance.now() - t0;
  const idle = (memory as { idle?: () => Promise<void> }).idle;
  if (idle) await idle.call(memory);
  let wrong = 0;
  for (let i = 0; i < voxels; i++) if (!Object.is(buf.data[i], Math.fround(expected(i)))) wrong++;
  return { buffer: kind(buf.data.buffer), wrong, ms };
}
