/**
 * A small axial CT source series for writer tests, as a PACS returns it in
 * WADO-RS metadata: slice z of 4 x 4 pixels at 1 mm, slices 2 mm apart along +z.
 */
import type { DicomJsonDataset, DicomJsonElement } from '../dicomJson';
import { parseInstanceMetadata, type InstanceHeader } from '../instanceMetadata';

/** Slice z; `changes` adds or replaces elements, and removes those given as undefined. */
export function sourceSliceJson(
  z: number,
  changes: Readonly<Record<string, DicomJsonElement | undefined>> = {},
): DicomJsonDataset {
  const slice: Record<string, DicomJsonElement | undefined> = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [`1.2.826.0.1.3.${z + 1}`] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '0008103E': { vr: 'LO', Value: ['THORAX 1.0 B31f'] },
    '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.1'] },
    '0020000E': { vr: 'UI', Value: ['1.2.826.0.1.2'] },
    '00200052': { vr: 'UI', Value: ['1.2.826.0.1.9'] },
    '00200011': { vr: 'IS', Value: [3] },
    '00200032': { vr: 'DS', Value: [0, 0, 2 * z] },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00280030': { vr: 'DS', Value: [1, 1] },
    '00280010': { vr: 'US', Value: [4] },
    '00280011': { vr: 'US', Value: [4] },
    '00280100': { vr: 'US', Value: [16] },
    ...changes,
  };
  return Object.fromEntries(
    Object.entries(slice).filter((e): e is [string, DicomJsonElement] => e[1] !== undefined),
  );
}

/** Parsed metadata of slices 0..count-1 (default 3). */
export function sourceSeries(
  count = 3,
  changes: Readonly<Record<string, DicomJsonElement | undefined>> = {},
): InstanceHeader[] {
  return Array.from({ length: count }, (_, z) => parseInstanceMetadata(sourceSliceJson(z, changes)));
}
