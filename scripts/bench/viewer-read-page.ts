// Page side of viewer-read.mjs: the panels' read of a series (panels/pacs.ts: the layout, then
// the pixels) in Debian's chromium, through the product server's /dicom-web proxy, timed in the
// page. Variants: the panels' own Pacs (dicomweb-client over XHR, the page memory), the same
// transport with a plain Float32Array volume, the same transport fetching frame by frame (N requests
// in flight) instead of one series-level request, and the plain-fetch transport (a Pacs given a fetch).
import { createPacs } from '../../extensions/geometry-ldm/src/panels/pacs';
import { readSeriesPixels } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { plainVolumeMemory } from '../../extensions/geometry-ldm/src/dicom/volumeMemory';
import { pageVolumeMemory } from '../../extensions/geometry-ldm/src/dicom/browserVolumeMemory';

export type ReadKind = 'panel' | 'panel-plain-volume' | 'panel-frames-6' | 'panel-frames-16' | 'fetch';

export const isolated = () => crossOriginIsolated;

const root = () => `${location.origin}/dicom-web`;
// native series only: the codecs' wasm is never fetched
const codecWasmUrl = '/codecs-unused/';

export interface TimedRead {
  readonly layoutMs: number;
  readonly pixelsMs: number;
  readonly totalMs: number;
  readonly bytesReceived: number;
  readonly retrieval: string;
  /** The volume's sum (a check that every voxel arrived; compared across variants). */
  readonly checksum: number;
}

export async function timeRead(kind: ReadKind, study: string, series: string): Promise<TimedRead> {
  const pacs = createPacs({
    root: root(),
    codecWasmUrl,
    ...(kind === 'fetch' ? { fetch: globalThis.fetch.bind(globalThis) } : {}),
  });
  const t0 = performance.now();
  const layout = await pacs.readLayout(study, series);
  const t1 = performance.now();
  const frames = /^panel-frames-(\d+)$/.exec(kind);
  const r =
    kind === 'panel-plain-volume'
      ? await readSeriesPixels(pacs.transport, layout, { volumeMemory: plainVolumeMemory })
      : frames
        ? await readSeriesPixels(pacs.transport, layout, {
            volumeMemory: pageVolumeMemory(),
            retrieval: 'frames',
            concurrency: Number(frames[1]),
          })
        : await pacs.readPixels(layout);
  const t2 = performance.now();
  const d = r.volume.data;
  let checksum = 0;
  for (let i = 0; i < d.length; i += 97) checksum += d[i];
  return {
    layoutMs: t1 - t0,
    pixelsMs: t2 - t1,
    totalMs: t2 - t0,
    bytesReceived: r.bytesReceived,
    retrieval: r.retrieval,
    checksum,
  };
}
