/**
 * Bundled by scripts/bench/region-read.mjs: a long series made from a real one (lidc-idri-0001's
 * 133 slices repeated along the slice axis with positions continued), stored in a private Orthanc.
 */
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { stowInstances, type StowInstance } from '../../extensions/geometry-ldm/src/dicom/stow';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import { orthancTransport } from '../../test/support/dicomweb';
import { startOrthanc } from '../../test/support/orthanc';
import { importInstances } from '../../test/support/seed';

export { startOrthanc, orthancTransport, stowInstances };

/** `slices` slices of lidc-idri-0001 (repeated in order along the normal), one new series. */
export function longSeries(slices: number): StowInstance[] {
  const parsed = importInstances('lidc-idri-0001')
    .instances.map((i) => readPart10Raw(i.bytes))
    .sort((a, b) => (a.dict['00200032'].Value![2] as number) - (b.dict['00200032'].Value![2] as number));
  const z0 = parsed[0].dict['00200032'].Value![2] as number;
  const dz = ((parsed[1].dict['00200032'].Value![2] as number) - z0) as number;
  const study = newUid();
  const series = newUid();
  return Array.from({ length: slices }, (_, j) => {
    const { dict, transferSyntaxUid } = parsed[j % parsed.length];
    const ipp = dict['00200032'].Value as number[];
    const sop = newUid();
    const copy = { ...dict };
    copy['0020000D'] = { vr: 'UI', Value: [study] };
    copy['0020000E'] = { vr: 'UI', Value: [series] };
    copy['00080018'] = { vr: 'UI', Value: [sop] };
    copy['00200032'] = { vr: 'DS', Value: [ipp[0], ipp[1], z0 + j * dz] };
    copy['00200013'] = { vr: 'IS', Value: [j + 1] };
    delete copy['00201041']; // SliceLocation would contradict the new positions
    return {
      bytes: writePart10Raw(copy, transferSyntaxUid),
      studyInstanceUid: study,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
    };
  });
}
