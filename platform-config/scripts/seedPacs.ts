/**
 * Seeds the local PACS with the real CT series of a data directory (by default
 * ../shared/data): every folder whose files are all DICOM Part 10 is one
 * import, prepared like a user's import (missing UIDs repaired
 * deterministically, see dicom/importFiles.ts) and sent with STOW-RS. A
 * series already complete in the PACS is skipped, so restarts are cheap and
 * never duplicate anything.
 */
import dcmjs from 'dcmjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareImport } from '../../extensions/geometry-ldm/src/dicom/importFiles';
import {
  presentInstances,
  stowInstances,
  type StowInstance,
} from '../../extensions/geometry-ldm/src/dicom/stow';
import { createFetchTransport } from '../../extensions/geometry-ldm/src/dicom/transport';

// dcmjs logs a note per private tag with an odd VR ("Invalid vr type ox", on its child logger
// validation.dcmjs, which does not follow the root level): noise for an import.
type Logger = { setLevel?(level: string): void; getLogger?(name: string): Logger };
const dcmjsLog = (dcmjs as { log?: Logger }).log;
dcmjsLog?.setLevel?.('silent');
dcmjsLog?.getLogger?.('validation.dcmjs').setLevel?.('silent');

/** Same namespace as the tests' seeding: the repaired UIDs agree. */
export const IMPORT_NAMESPACE = 'shared-data';

export interface SeedOptions {
  readonly dataDir: string;
  /** DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
  readonly dicomWebRoot: string;
  readonly authorization: string;
  readonly log?: (line: string) => void;
}

export interface SeededFolder {
  readonly folder: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: number;
  readonly sent: number;
}

function isPart10(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(132);
    return fs.readSync(fd, head, 0, 132, 0) === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } finally {
    fs.closeSync(fd);
  }
}

/** Folders (sorted, depth-first, up to 4 levels) whose regular non-hidden files are all DICOM Part 10. */
export function findSeriesFolders(dataDir: string, depth = 4): string[] {
  const out: string[] = [];
  const walk = (dir: string, level: number) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
    const files = entries.filter((e) => e.isFile()).map((e) => path.join(dir, e.name));
    if (files.length > 0 && files.every(isPart10)) out.push(dir);
    if (level < depth) {
      for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
        walk(path.join(dir, e.name), level + 1);
      }
    }
  };
  walk(dataDir, 0);
  return out.sort();
}

export async function seedPacs(options: SeedOptions): Promise<SeededFolder[]> {
  const log = options.log ?? (() => {});
  if (!fs.existsSync(options.dataDir)) {
    throw new Error(`data directory ${options.dataDir} does not exist (set GEOMETRY_LDM_DATA_DIR)`);
  }
  const transport = createFetchTransport({
    root: options.dicomWebRoot,
    headers: { Authorization: options.authorization },
  });
  const result: SeededFolder[] = [];
  for (const folder of findSeriesFolders(options.dataDir)) {
    const files = fs
      .readdirSync(folder)
      .filter((f) => !f.startsWith('.'))
      .sort()
      .map((f) => path.join(folder, f));
    const prepared = prepareImport(
      files.map((file) => ({ name: path.basename(file), bytes: new Uint8Array(fs.readFileSync(file)) })),
      IMPORT_NAMESPACE,
    );
    const present = await presentInstances(transport, prepared.instances);
    const missing: StowInstance[] = prepared.instances.filter((i) => !present.has(i.sopInstanceUid));
    const rel = path.relative(options.dataDir, folder) || '.';
    if (missing.length > 0) {
      const report = await stowInstances(transport, missing);
      if (report.notStored.length > 0) {
        const first = report.notStored[0];
        throw new Error(
          `${rel}: ${report.notStored.length} instance(s) not stored (first: ${first.sopInstanceUid}: ${first.reason})`,
        );
      }
      log(`seeded ${rel}: ${missing.length} instance(s)`);
    } else {
      log(`${rel}: already in the PACS`);
    }
    const first = prepared.instances[0];
    result.push({
      folder: rel,
      studyInstanceUid: first.studyInstanceUid,
      seriesInstanceUid: first.seriesInstanceUid,
      instances: prepared.instances.length,
      sent: missing.length,
    });
  }
  return result;
}
