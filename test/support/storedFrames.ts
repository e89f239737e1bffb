/** The first frame of each file of a shared-data series as stored, with what a codec needs (tests, benchmarks). */
import { readFileSync } from 'node:fs';
import type { FrameInfo } from '../../extensions/geometry-ldm/src/dicom/decodeFrame';
import { readPart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { seriesFiles, type RealSeries } from './seed';

export interface StoredFrameFile {
  readonly ts: string;
  readonly info: FrameInfo;
  readonly bytes: Uint8Array;
}

export function storedFrames(name: RealSeries): StoredFrameFile[] {
  return seriesFiles(name).map((file) => {
    const { dict, transferSyntaxUid: ts } = readPart10Raw(new Uint8Array(readFileSync(file)));
    const v = (tag: string) => dict[tag].Value![0] as number;
    return {
      ts,
      info: {
        rows: v('00280010'),
        columns: v('00280011'),
        bitsAllocated: v('00280100'),
        bitsStored: v('00280101'),
        pixelRepresentation: v('00280103'),
        samplesPerPixel: 1,
      },
      bytes: new Uint8Array((dict['7FE00010'].Value as ArrayBuffer[])[0]),
    };
  });
}
