/**
 * Uploads the real series of ../shared/data into a PACS over STOW-RS, with the
 * import repair a user's import tool would do (totalseg-abdomen has empty
 * UIDs: deterministic ones are assigned, so reruns never duplicate).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareImport } from '../../extensions/geometry-ldm/src/dicom/importFiles';
import {
  stowInstances,
  type StowInstance,
  type StowReport,
} from '../../extensions/geometry-ldm/src/dicom/stow';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';

/** ../shared/data next to the repository (from this file under jest; from the working directory when bundled). */
export const SHARED_DATA =
  process.env.SHARED_DATA ??
  (typeof __dirname !== 'undefined'
    ? path.resolve(__dirname, '..', '..', '..', 'shared', 'data')
    : path.resolve(process.cwd(), '..', 'shared', 'data'));

export const REAL_SERIES_DIRS = {
  'lidc-idri-0001': 'lidc-idri-0001',
  'lung-pet-ct-dx-a0001': 'lung-pet-ct-dx-a0001',
  'lung-pet-ct-dx-a0002': 'lung-pet-ct-dx-a0002',
  'ge-head-gantry-tilt': 'ge-head-gantry-tilt',
  'totalseg-abdomen': path.join('totalseg-abdomen', 'dicom'),
} as const;
export type RealSeries = keyof typeof REAL_SERIES_DIRS;
export const ALL_REAL_SERIES = Object.keys(REAL_SERIES_DIRS) as RealSeries[];

export interface SeededSeries {
  readonly name: RealSeries;
  readonly dir: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** SOP Instance UID per file (sorted file names). */
  readonly files: readonly { file: string; sopInstanceUid: string }[];
  readonly repaired: boolean;
  readonly bytes: number;
  readonly report: StowReport;
}

export function seriesDir(name: RealSeries): string {
  return path.join(SHARED_DATA, REAL_SERIES_DIRS[name]);
}

export function seriesFiles(name: RealSeries): string[] {
  const dir = seriesDir(name);
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The instances of a real series ready for STOW (UIDs repaired where missing). */
export function importInstances(name: RealSeries): {
  instances: StowInstance[];
  files: string[];
  repaired: boolean;
} {
  const files = seriesFiles(name);
  const prepared = prepareImport(
    files.map((file) => ({ name: path.basename(file), bytes: new Uint8Array(fs.readFileSync(file)) })),
    'shared-data',
  );
  return { instances: prepared.instances, files, repaired: prepared.repaired.length > 0 };
}

export async function seedSeries(transport: DicomwebTransport, name: RealSeries): Promise<SeededSeries> {
  const { instances, files, repaired } = importInstances(name);
  const report = await stowInstances(transport, instances);
  return {
    name,
    dir: seriesDir(name),
    studyInstanceUid: instances[0].studyInstanceUid,
    seriesInstanceUid: instances[0].seriesInstanceUid,
    files: files.map((file, n) => ({ file, sopInstanceUid: instances[n].sopInstanceUid })),
    repaired,
    bytes: instances.reduce((s, i) => s + i.bytes.length, 0),
    report,
  };
}

export async function seedAll(
  transport: DicomwebTransport,
  names: readonly RealSeries[] = ALL_REAL_SERIES,
): Promise<Record<string, SeededSeries>> {
  const out: Record<string, SeededSeries> = {};
  for (const n of names) out[n] = await seedSeries(transport, n);
  return out;
}
