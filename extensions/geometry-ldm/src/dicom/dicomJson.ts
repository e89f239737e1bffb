/**
 * Minimal typed access to DICOM JSON (PS3.18 F.2): `{ "GGGGEEEE": { vr, Value } }`.
 * Pure, no dependencies.
 */
export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
export type DicomJsonDataset = Record<string, DicomJsonElement>;

/** Tags used by the reader and writers (hex, upper case, as DICOM JSON keys). */
export const TAG = {
  TransferSyntaxUID: '00020010',
  SpecificCharacterSet: '00080005',
  ImageType: '00080008',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  Modality: '00080060',
  Manufacturer: '00080070',
  AvailableTransferSyntaxUID: '00083002',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
  WarningReason: '00081196',
  RetrieveURL: '00081190',
  PatientName: '00100010',
  PatientID: '00100020',
  SliceThickness: '00180050',
  SpacingBetweenSlices: '00180088',
  GantryDetectorTilt: '00181120',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  ImagePositionPatient: '00200032',
  ImageOrientationPatient: '00200037',
  FrameOfReferenceUID: '00200052',
  SamplesPerPixel: '00280002',
  PhotometricInterpretation: '00280004',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  PixelSpacing: '00280030',
  BitsAllocated: '00280100',
  BitsStored: '00280101',
  HighBit: '00280102',
  PixelRepresentation: '00280103',
  PixelPaddingValue: '00280120',
  RescaleIntercept: '00281052',
  RescaleSlope: '00281053',
  PixelData: '7FE00010',
  FloatPixelData: '7FE00008',
  DoubleFloatPixelData: '7FE00009',
  SeriesDescription: '0008103E',
  NumberOfSeriesRelatedInstances: '00201209',
} as const;

export function values(ds: DicomJsonDataset | undefined, tag: string): unknown[] {
  const v = ds?.[tag]?.Value;
  return Array.isArray(v) ? v : [];
}

/** First value as a string ('' and absent -> null). PN values give their Alphabetic form. */
export function str(ds: DicomJsonDataset | undefined, tag: string): string | null {
  const v = values(ds, tag)[0];
  if (v == null) return null;
  if (typeof v === 'object') {
    const a = (v as { Alphabetic?: unknown }).Alphabetic;
    return typeof a === 'string' && a.length > 0 ? a : null;
  }
  const s = String(v).trim();
  return s.length > 0 ? s : null;
}

/** Every value as a string. */
export function strs(ds: DicomJsonDataset | undefined, tag: string): string[] {
  return values(ds, tag).map((v) => (v == null ? '' : String(v).trim()));
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** First value as a finite number, else null. */
export function num(ds: DicomJsonDataset | undefined, tag: string): number | null {
  return toNumber(values(ds, tag)[0]);
}

/** All values as finite numbers; null when absent, empty or any value is not a number. */
export function nums(ds: DicomJsonDataset | undefined, tag: string): number[] | null {
  const vs = values(ds, tag);
  if (vs.length === 0) return null;
  const out = vs.map(toNumber);
  return out.every((x) => x !== null) ? (out as number[]) : null;
}

/** Items of a sequence. */
export function items(ds: DicomJsonDataset | undefined, tag: string): DicomJsonDataset[] {
  return values(ds, tag).filter((v): v is DicomJsonDataset => typeof v === 'object' && v !== null);
}
