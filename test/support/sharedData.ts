/**
 * Locates ../shared/data (real CT for tests) and reads DICOM headers from it
 * with dcmjs, independently of the product's DICOMweb reader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import dcmjs from 'dcmjs';

// dcmjs logs harmless VR notes (e.g. 'Invalid vr type ox') for private tags.
dcmjs.log?.setLevel?.('silent');

/** ../shared/data next to the repository; SHARED_DATA overrides (a clone elsewhere). */
export const SHARED_DATA =
  process.env.SHARED_DATA ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data');

/** The real DICOM series folders of ../shared/data. */
export const REAL_SERIES = {
  'lidc-idri-0001': 'lidc-idri-0001',
  'lung-pet-ct-dx-a0001': 'lung-pet-ct-dx-a0001',
  'lung-pet-ct-dx-a0002': 'lung-pet-ct-dx-a0002',
  'ge-head-gantry-tilt': 'ge-head-gantry-tilt',
  'totalseg-abdomen': path.join('totalseg-abdomen', 'dicom'),
} as const;

export type RealSeriesName = keyof typeof REAL_SERIES;

export interface HeaderRecord {
  file: string;
  dataset: Record<string, unknown>;
  transferSyntaxUid: string;
}

export function seriesFiles(name: RealSeriesName): string[] {
  const dir = path.join(SHARED_DATA, REAL_SERIES[name]);
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Naturalized header (everything before PixelData) of one Part 10 file. */
export function readHeader(file: string): HeaderRecord {
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const parsed = dcmjs.data.DicomMessage.readFile(ab, { untilTag: '7FE00010', includeUntilTagValue: false });
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict) as Record<string, unknown>;
  const ts = (parsed.meta['00020010']?.Value?.[0] as string) ?? '';
  return { file, dataset, transferSyntaxUid: ts };
}

export function readSeriesHeaders(name: RealSeriesName): HeaderRecord[] {
  return seriesFiles(name).map(readHeader);
}
