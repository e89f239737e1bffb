/**
 * DICOM Part 10 files <-> naturalized datasets, through dcmjs (pure JS,
 * browser-safe: no Buffer). The only module that touches dcmjs.
 */
import dcmjs from 'dcmjs';
import { DicomError } from './errors';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './uids';

/** A dcmjs naturalized dataset: keyword -> value; sequences are arrays of datasets. */
export type NaturalDataset = Record<string, unknown> & { _vrMap?: Record<string, string> };

interface DcmjsData {
  DicomMessage: {
    readFile(
      buf: ArrayBuffer,
      opts?: Record<string, unknown>,
    ): { meta: Record<string, unknown>; dict: Record<string, unknown> };
  };
  DicomMetaDictionary: {
    naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
  };
  DicomDict: new (meta: Record<string, unknown>) => {
    dict: Record<string, unknown>;
    write(opts?: Record<string, unknown>): ArrayBuffer;
  };
}

const data = (dcmjs as { data: DcmjsData }).data;

function toArrayBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export interface Part10 {
  readonly meta: NaturalDataset;
  readonly dataset: NaturalDataset;
  readonly transferSyntaxUid: string;
}

/** Parses a Part 10 file. Throws DicomError('invalid-input') for garbage or truncated files. */
export function readPart10(bytes: Uint8Array | ArrayBuffer): Part10 {
  try {
    const parsed = data.DicomMessage.readFile(toArrayBuffer(bytes));
    const meta = data.DicomMetaDictionary.naturalizeDataset(parsed.meta);
    const dataset = data.DicomMetaDictionary.naturalizeDataset(parsed.dict);
    return { meta, dataset, transferSyntaxUid: String(meta.TransferSyntaxUID ?? '') };
  } catch (e) {
    throw new DicomError('invalid-input', `not a readable DICOM Part 10 file: ${(e as Error).message ?? e}`);
  }
}

/** A dataset in dcmjs's denaturalized form (the DICOM JSON model: tag -> { vr, Value }); keeps private tags. */
export type RawDataset = Record<string, { vr: string; Value?: unknown[] } & Record<string, unknown>>;

export interface RawPart10 {
  readonly meta: RawDataset;
  readonly dict: RawDataset;
  readonly transferSyntaxUid: string;
}

/** Parses a Part 10 file without naturalizing (everything, private tags included, is kept as read). */
export function readPart10Raw(bytes: Uint8Array | ArrayBuffer): RawPart10 {
  try {
    const parsed = data.DicomMessage.readFile(toArrayBuffer(bytes));
    const meta = parsed.meta as RawDataset;
    return {
      meta,
      dict: parsed.dict as RawDataset,
      transferSyntaxUid: String(meta['00020010']?.Value?.[0] ?? ''),
    };
  } catch (e) {
    throw new DicomError('invalid-input', `not a readable DICOM Part 10 file: ${(e as Error).message ?? e}`);
  }
}

/** Writes a raw dataset as Part 10 with a fresh file meta (SOP class/instance taken from the dataset). */
export function writePart10Raw(dict: RawDataset, transferSyntaxUid: string): Uint8Array {
  const first = (tag: string): unknown => dict[tag]?.Value?.[0];
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: first('00080016'),
    MediaStorageSOPInstanceUID: first('00080018'),
    TransferSyntaxUID: transferSyntaxUid,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  // Implicit VR files read with an ambiguous pixel VR ('ox'): write the VR it is.
  const pixels = dict['7FE00010'];
  if (pixels && !/^(OB|OW)$/.test(pixels.vr)) {
    pixels.vr = Number(first('00280100')) > 8 ? 'OW' : 'OB';
  }
  const out = new data.DicomDict(meta);
  out.dict = dict;
  return new Uint8Array(out.write());
}

/** Writes a naturalized dataset as Part 10 (file meta built from its SOP class/instance). */
export function writePart10(dataset: NaturalDataset, transferSyntaxUid = '1.2.840.10008.1.2.1'): Uint8Array {
  const version = new Uint8Array([0, 1]);
  const meta = data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: version.buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: transferSyntaxUid,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  });
  const dict = new data.DicomDict(meta);
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}
