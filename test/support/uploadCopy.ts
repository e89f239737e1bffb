/**
 * Crafted series for tests: real files re-identified into a new study/series (new UIDs),
 * each dataset optionally edited before upload (pixel data untouched unless the edit
 * changes it). The edits are what a misconfigured scanner, PACS or import tool produces.
 */
import * as fs from 'node:fs';
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';

export type RawDict = ReturnType<typeof readPart10Raw>['dict'];

export async function uploadCopy(
  transport: DicomwebTransport,
  files: readonly string[],
  edit: (dict: RawDict, n: number) => void = () => {},
  /** Byte-level edit of each written file (what the dataset model cannot express, e.g. a name in Latin-1). */
  editBytes: (bytes: Uint8Array) => Uint8Array = (b) => b,
): Promise<{ study: string; series: string; sops: string[] }> {
  const study = newUid();
  const series = newUid();
  const instances = files.map((f, n) => {
    const { dict, transferSyntaxUid } = readPart10Raw(new Uint8Array(fs.readFileSync(f)));
    const sop = newUid();
    dict['0020000D'] = { vr: 'UI', Value: [study] };
    dict['0020000E'] = { vr: 'UI', Value: [series] };
    dict['00080018'] = { vr: 'UI', Value: [sop] };
    edit(dict, n);
    return {
      bytes: editBytes(writePart10Raw(dict, transferSyntaxUid)),
      studyInstanceUid: study,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
    };
  });
  await stowInstances(transport, instances);
  return { study, series, sops: instances.map((i) => i.sopInstanceUid) };
}
