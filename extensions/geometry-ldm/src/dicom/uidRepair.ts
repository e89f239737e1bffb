/**
 * Import repair for files whose Study / Series / SOP Instance UID or SOP Class
 * UID are empty (a PACS rejects them), as real import tools do. The new UIDs
 * are name-based (deterministic): re-importing the same files gives the same
 * UIDs, so nothing is duplicated. Everything else is kept as it is.
 */
import { readPart10Raw, writePart10Raw, type RawDataset } from './part10';
import { deterministicUid, isValidUid } from './uids';
import { CT_IMAGE_STORAGE } from './instanceMetadata';

export interface UidRepairResult {
  readonly bytes: Uint8Array;
  /** Keywords that were assigned (empty when the file was already complete; then `bytes` is the input). */
  readonly repaired: readonly string[];
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
}

const first = (ds: RawDataset, tag: string): unknown => ds[tag]?.Value?.[0];
const text = (ds: RawDataset, tag: string): string => {
  const v = ds[tag]?.Value;
  if (!v || v.length === 0) return '';
  return v.map((x) => (x != null && typeof x === 'object' ? JSON.stringify(x) : String(x))).join('\\');
};

/** Deterministic keys: what identifies a study / series / instance when its UID is missing. */
export function repairKeys(ds: RawDataset, meta: RawDataset): { study: string; series: string; sop: string } {
  // PatientID, StudyDate, StudyTime, StudyID, AccessionNumber, FrameOfReferenceUID
  const study = ['00100020', '00080020', '00080030', '00200010', '00080050', '00200052']
    .map((t) => text(ds, t))
    .join('|');
  // Modality, SeriesNumber, SeriesDate, SeriesTime, SeriesDescription
  const series = [
    study,
    ...['00080060', '00200011', '00080021', '00080031', '0008103E'].map((t) => text(ds, t)),
  ].join('|');
  // MediaStorageSOPInstanceUID, InstanceNumber, ImagePositionPatient, AcquisitionNumber
  const sop = [
    series,
    text(meta, '00020003'),
    ...['00200013', '00200032', '00200012'].map((t) => text(ds, t)),
  ].join('|');
  return { study, series, sop };
}

/**
 * `namespace` separates independent imports (e.g. per site); the same namespace
 * and file give the same UIDs. Only the UID elements change; every other
 * element (private ones included) is written back as read.
 */
export function repairMissingUids(bytes: Uint8Array, namespace = 'import'): UidRepairResult {
  const { meta, dict, transferSyntaxUid } = readPart10Raw(bytes);
  const keys = repairKeys(dict, meta);
  const repaired: string[] = [];
  const set = (tag: string, keyword: string, value: string): void => {
    dict[tag] = { vr: 'UI', Value: [value] };
    repaired.push(keyword);
  };
  if (!isValidUid(first(dict, '0020000D')))
    set('0020000D', 'StudyInstanceUID', deterministicUid(`${namespace}:study:${keys.study}`));
  if (!isValidUid(first(dict, '0020000E')))
    set('0020000E', 'SeriesInstanceUID', deterministicUid(`${namespace}:series:${keys.series}`));
  if (!isValidUid(first(dict, '00080018'))) {
    const m = first(meta, '00020003');
    set('00080018', 'SOPInstanceUID', isValidUid(m) ? m : deterministicUid(`${namespace}:sop:${keys.sop}`));
  }
  if (!isValidUid(first(dict, '00080016'))) {
    const m = first(meta, '00020002');
    set(
      '00080016',
      'SOPClassUID',
      isValidUid(m) ? m : first(dict, '00080060') === 'CT' ? CT_IMAGE_STORAGE : '1.2.840.10008.5.1.4.1.1.7',
    );
  }
  const out = repaired.length > 0 ? writePart10Raw(dict, transferSyntaxUid) : bytes;
  return {
    bytes: out,
    repaired,
    studyInstanceUid: String(first(dict, '0020000D')),
    seriesInstanceUid: String(first(dict, '0020000E')),
    sopInstanceUid: String(first(dict, '00080018')),
  };
}
