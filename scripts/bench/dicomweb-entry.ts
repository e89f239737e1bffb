/**
 * Bundled by scripts/bench/dicomweb.mjs (esbuild): the DICOMweb pieces the
 * benchmark drives, against a private Orthanc on loopback.
 */
import { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
import type { EmscriptenFactory } from '../../extensions/geometry-ldm/src/dicom/codecs/emscriptenCodec';
import type { CharlsModule } from '../../extensions/geometry-ldm/src/dicom/codecs/charls';
import type { OpenJpegModule } from '../../extensions/geometry-ldm/src/dicom/codecs/openjpeg';
import { decodeFrame, type FrameCodecs } from '../../extensions/geometry-ldm/src/dicom/decodeFrame';
import { pooledCodecs } from '../../extensions/geometry-ldm/src/dicom/decodePool';
import { forEachLimit } from '../../extensions/geometry-ldm/src/dicom/forEachLimit';
import { createNodeDecodePool } from '../../extensions/geometry-ldm/src/dicom/nodeDecodePool';
import { buildMultipart } from '../../extensions/geometry-ldm/src/dicom/multipart';
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import {
  readSeries,
  readSeriesLayout,
  readSeriesPixels,
} from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { createNodeHttpTransport } from '../../extensions/geometry-ldm/src/dicom/nodeHttpTransport';
import { createNodeVolumeMemory } from '../../extensions/geometry-ldm/src/dicom/nodeVolumeMemory';
import { createFetchTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { stowInstances, type StowInstance } from '../../extensions/geometry-ldm/src/dicom/stow';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import { orthancTransport } from '../../test/support/dicomweb';
import { startOrthanc } from '../../test/support/orthanc';
import { ALL_REAL_SERIES, importInstances, type RealSeries } from '../../test/support/seed';
import { storedFrames, type StoredFrameFile } from '../../test/support/storedFrames';

export { readSeries, readSeriesLayout, readSeriesPixels, createNodeHttpTransport, createFetchTransport };
export { stowInstances, startOrthanc, orthancTransport, importInstances, ALL_REAL_SERIES };
export { pooledCodecs, createNodeDecodePool, buildMultipart, storedFrames, createNodeVolumeMemory };
export type { RealSeries, StowInstance };

export function codecs(openjpeg: EmscriptenFactory<OpenJpegModule>, charls: EmscriptenFactory<CharlsModule>) {
  return defaultCodecs({
    openjpeg: { factory: async () => openjpeg },
    charls: { factory: async () => charls },
  });
}

/** Decodes every frame with `codecs`, `concurrency` at a time (what readSeries does after the fetch). */
export async function decodeAll(
  frames: readonly StoredFrameFile[],
  codecs: FrameCodecs,
  concurrency: number,
): Promise<void> {
  await forEachLimit(frames.length, concurrency, async (i) => {
    const f = frames[i];
    await decodeFrame(f.bytes, f.ts, f.info, codecs);
  });
}

/** The same instances under new Study/Series/SOP UIDs (a fresh series for each timed store). */
export function withNewUids(instances: readonly StowInstance[]): StowInstance[] {
  const study = newUid();
  const series = newUid();
  return instances.map((i) => {
    const { dict, transferSyntaxUid } = readPart10Raw(i.bytes);
    const sop = newUid();
    dict['0020000D'] = { vr: 'UI', Value: [study] };
    dict['0020000E'] = { vr: 'UI', Value: [series] };
    dict['00080018'] = { vr: 'UI', Value: [sop] };
    return {
      bytes: writePart10Raw(dict, transferSyntaxUid),
      studyInstanceUid: study,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
    };
  });
}
