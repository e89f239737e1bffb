/**
 * Prepares user files for STOW: every file must parse as DICOM Part 10 and
 * carry complete pixel data; missing UIDs are repaired deterministically
 * (uidRepair.ts). Any bad file stops the import before anything is sent.
 */
import { DicomError } from './errors';
import { readPart10Raw } from './part10';
import type { StowInstance } from './stow';
import { repairMissingUids } from './uidRepair';

export interface ImportFile {
  /** A name for messages (file name). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface PreparedImport {
  readonly instances: StowInstance[];
  /** Names of files whose UIDs were repaired. */
  readonly repaired: readonly string[];
}

const NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);

function byteLength(v: unknown): number {
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + byteLength(x), 0);
  return 0;
}

/** Throws DicomError('invalid-input') naming the file when it is garbage, truncated or has no pixel data. */
export function checkInstanceFile(file: ImportFile): void {
  let parsed;
  try {
    parsed = readPart10Raw(file.bytes);
  } catch (e) {
    throw new DicomError('invalid-input', `${file.name}: ${(e as Error).message}`, { file: file.name });
  }
  const ds = parsed.dict;
  const first = (tag: string): unknown => ds[tag]?.Value?.[0];
  const pixels = ds['7FE00010']?.Value;
  if (pixels === undefined)
    throw new DicomError('invalid-input', `${file.name}: no PixelData (truncated or not an image)`, {
      file: file.name,
    });
  const rows = Number(first('00280010'));
  const cols = Number(first('00280011'));
  const bits = Number(first('00280100'));
  const frames = Number(first('00280008') ?? 1) || 1;
  const spp = Number(first('00280002') ?? 1) || 1;
  const got = byteLength(pixels);
  if (NATIVE.has(parsed.transferSyntaxUid)) {
    const expected = (rows * cols * bits * frames * spp) / 8;
    if (!(got >= expected)) {
      throw new DicomError(
        'invalid-input',
        `${file.name}: PixelData has ${got} bytes, ${expected} expected (truncated)`,
        { file: file.name },
      );
    }
  } else if (!(got > 0)) {
    throw new DicomError('invalid-input', `${file.name}: empty encapsulated PixelData`, { file: file.name });
  }
}

export function prepareImport(files: readonly ImportFile[], namespace = 'import'): PreparedImport {
  const repaired: string[] = [];
  const instances = files.map((f) => {
    checkInstanceFile(f);
    const r = repairMissingUids(f.bytes, namespace);
    if (r.repaired.length > 0) repaired.push(f.name);
    return {
      bytes: r.bytes,
      studyInstanceUid: r.studyInstanceUid,
      seriesInstanceUid: r.seriesInstanceUid,
      sopInstanceUid: r.sopInstanceUid,
    };
  });
  return { instances, repaired };
}
