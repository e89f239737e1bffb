/**
 * DICOM JSON metadata of one instance -> a typed header (units in the names).
 * Lenient: absent or malformed values become null here; `validateCtSlices`
 * (used by readSeries) turns them into typed DicomErrors.
 */
import type { Vec3 } from '../geometry/conventions';
import { num, nums, str, strs, TAG, values, type DicomJsonDataset } from './dicomJson';
import { DicomError } from './errors';
import { isValidUid } from './uids';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const ENHANCED_CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2.1';
export const LEGACY_ENHANCED_CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2.2';
/** Image SOP classes that are CT but multi-frame: read frame by frame (enhancedCt.ts). */
export const MULTI_FRAME_CT: ReadonlySet<string> = new Set([
  ENHANCED_CT_IMAGE_STORAGE,
  LEGACY_ENHANCED_CT_IMAGE_STORAGE,
]);

export interface InstanceHeader {
  readonly studyInstanceUid: string | null;
  readonly seriesInstanceUid: string | null;
  readonly sopInstanceUid: string | null;
  readonly sopClassUid: string | null;
  readonly modality: string | null;
  readonly frameOfReferenceUid: string | null;
  readonly instanceNumber: number | null;
  readonly imageType: readonly string[];
  readonly numberOfFrames: number;
  /**
   * 1-based frame of a multi-frame (Enhanced CT) instance that this header describes as one
   * slice (enhancedCt.ts); absent for single-frame instances.
   */
  readonly frameNumber?: number;
  readonly rows: number | null;
  readonly columns: number | null;
  readonly samplesPerPixel: number | null;
  readonly photometricInterpretation: string | null;
  readonly bitsAllocated: number | null;
  readonly bitsStored: number | null;
  readonly highBit: number | null;
  /** 0 unsigned, 1 two's complement. */
  readonly pixelRepresentation: number | null;
  /** null when absent or not a finite number (validateCtSlices refuses both: Type 1 in CT). */
  readonly rescaleSlope: number | null;
  readonly rescaleIntercept: number | null;
  /** Stored value that marks padding (PixelPaddingValue), or null. */
  readonly pixelPaddingValue: number | null;
  readonly imagePositionPatientMm: Vec3 | null;
  /** [Xx, Xy, Xz, Yx, Yy, Yz] as in the header. */
  readonly imageOrientationPatient: readonly number[] | null;
  /** [row spacing, column spacing] in mm (DICOM order). */
  readonly pixelSpacingMm: readonly [number, number] | null;
  readonly sliceThicknessMm: number | null;
  readonly spacingBetweenSlicesMm: number | null;
  readonly gantryDetectorTiltDeg: number | null;
  /** From 0002,0010 or 0008,3002 when the server gives it, else null. */
  readonly transferSyntaxUid: string | null;
  /** PixelData listed, or the Image Pixel module (Rows, Columns, BitsAllocated) present. */
  readonly hasPixelData: boolean;
  /** The metadata it was parsed from (for copying patient/study attributes). */
  readonly json: DicomJsonDataset;
}

function vec(ds: DicomJsonDataset, tag: string, n: number): number[] | null {
  const v = nums(ds, tag);
  return v && v.length === n ? v : null;
}

export function parseInstanceMetadata(ds: DicomJsonDataset): InstanceHeader {
  const ipp = vec(ds, TAG.ImagePositionPatient, 3);
  const ps = vec(ds, TAG.PixelSpacing, 2);
  return {
    studyInstanceUid: str(ds, TAG.StudyInstanceUID),
    seriesInstanceUid: str(ds, TAG.SeriesInstanceUID),
    sopInstanceUid: str(ds, TAG.SOPInstanceUID),
    sopClassUid: str(ds, TAG.SOPClassUID),
    modality: str(ds, TAG.Modality),
    frameOfReferenceUid: str(ds, TAG.FrameOfReferenceUID),
    instanceNumber: num(ds, TAG.InstanceNumber),
    imageType: strs(ds, TAG.ImageType),
    numberOfFrames: num(ds, TAG.NumberOfFrames) ?? 1,
    rows: num(ds, TAG.Rows),
    columns: num(ds, TAG.Columns),
    samplesPerPixel: num(ds, TAG.SamplesPerPixel),
    photometricInterpretation: str(ds, TAG.PhotometricInterpretation),
    bitsAllocated: num(ds, TAG.BitsAllocated),
    bitsStored: num(ds, TAG.BitsStored),
    highBit: num(ds, TAG.HighBit),
    pixelRepresentation: num(ds, TAG.PixelRepresentation),
    rescaleSlope: num(ds, TAG.RescaleSlope),
    rescaleIntercept: num(ds, TAG.RescaleIntercept),
    pixelPaddingValue: num(ds, TAG.PixelPaddingValue),
    imagePositionPatientMm: ipp ? [ipp[0], ipp[1], ipp[2]] : null,
    imageOrientationPatient: vec(ds, TAG.ImageOrientationPatient, 6),
    pixelSpacingMm: ps ? [ps[0], ps[1]] : null,
    sliceThicknessMm: num(ds, TAG.SliceThickness),
    spacingBetweenSlicesMm: num(ds, TAG.SpacingBetweenSlices),
    gantryDetectorTiltDeg: num(ds, TAG.GantryDetectorTilt),
    transferSyntaxUid: str(ds, TAG.TransferSyntaxUID) ?? str(ds, TAG.AvailableTransferSyntaxUID),
    // Orthanc leaves encapsulated PixelData out of the metadata: the Image Pixel module counts too.
    hasPixelData:
      ds[TAG.PixelData] !== undefined ||
      (num(ds, TAG.Rows) != null && num(ds, TAG.Columns) != null && num(ds, TAG.BitsAllocated) != null),
    json: ds,
  };
}

/** ImageType value 3 LOCALIZER (a scout/topogram): not part of the volume even when its series is. */
export function isLocalizer(h: InstanceHeader): boolean {
  return (h.imageType[2] ?? '').trim().toUpperCase() === 'LOCALIZER';
}

/**
 * RescaleSlope / RescaleIntercept are Type 1 in the CT Image module: without them the HU
 * are unknown (assuming 1 / 0 put a whole series 1024 HU off). Absent, empty, not a
 * number, a zero slope, or a slope outside 1e-6..1e6 (no CT encodes HU that way) is refused,
 * counting every instance that has the problem.
 */
function checkRescale(headers: readonly InstanceHeader[]): void {
  const problems: { tag: string; why: string; ids: string[] }[] = [];
  const note = (tag: string, why: string, id: string): void => {
    const p = problems.find((x) => x.tag === tag && x.why === why);
    if (p) p.ids.push(id);
    else problems.push({ tag, why, ids: [id] });
  };
  headers.forEach((h, n) => {
    const id = idOf(h, n);
    for (const [tag, value, key] of [
      ['RescaleSlope', h.rescaleSlope, TAG.RescaleSlope],
      ['RescaleIntercept', h.rescaleIntercept, TAG.RescaleIntercept],
    ] as const) {
      if (value != null) continue;
      const raw = values(h.json, key);
      note(
        tag,
        raw.length === 0
          ? 'missing'
          : `not a number (${raw[0] == null ? 'empty or unreadable in the PACS metadata' : JSON.stringify(raw[0])})`,
        id,
      );
    }
    const m = h.rescaleSlope;
    if (m != null && !(Math.abs(m) >= 1e-6 && Math.abs(m) <= 1e6)) note('RescaleSlope', `${m}`, id);
  });
  if (problems.length === 0) return;
  const p = problems[0];
  throw new DicomError(
    'invalid-rescale',
    `${p.tag} is ${p.why} on ${p.ids.length} of ${headers.length} instances (first: ${p.ids[0]}): ` +
      'CT needs RescaleSlope and RescaleIntercept to know the HU; fix the series or ask the PACS administrator',
    { tag: p.tag, why: p.why, instances: p.ids, total: headers.length },
  );
}

function idOf(h: InstanceHeader, n: number): string {
  if (h.sopInstanceUid == null) return `instance #${n}`;
  return h.frameNumber != null ? `${h.sopInstanceUid} frame ${h.frameNumber}` : h.sopInstanceUid;
}

/**
 * Checks that every instance is a single-frame, single-sample CT image with
 * UIDs and geometry tags and a supported pixel module (BitsStored within
 * BitsAllocated, HighBit = BitsStored - 1), and that all share one grid size,
 * BitsAllocated and PixelRepresentation. BitsStored, HighBit and rescale may
 * differ between instances: readSeries decodes each with its own.
 * Throws the first problem as a typed DicomError.
 */
export function validateCtSlices(headers: readonly InstanceHeader[]): void {
  if (headers.length === 0) throw new DicomError('not-found', 'the series has no instances');
  headers.forEach((h, n) => {
    const id = idOf(h, n);
    for (const [name, uid] of [
      ['StudyInstanceUID', h.studyInstanceUid],
      ['SeriesInstanceUID', h.seriesInstanceUid],
      ['SOPInstanceUID', h.sopInstanceUid],
    ] as const) {
      if (!isValidUid(uid)) {
        throw new DicomError('missing-uid', `${name} is missing or invalid (instance ${id})`, {
          tag: name,
          instance: id,
        });
      }
    }
    const frame = h.frameNumber != null;
    if (h.sopClassUid != null && MULTI_FRAME_CT.has(h.sopClassUid) && !frame) {
      throw new DicomError(
        'multi-frame',
        `instance ${id} is an Enhanced/Legacy Enhanced CT (multi-frame) that was not read frame by frame`,
        {
          instance: id,
          sopClassUid: h.sopClassUid,
        },
      );
    }
    const ctClass = h.sopClassUid === CT_IMAGE_STORAGE || (frame && MULTI_FRAME_CT.has(h.sopClassUid!));
    if (h.modality !== 'CT' || (h.sopClassUid != null && !ctClass)) {
      if (!h.hasPixelData && h.modality !== 'CT') {
        throw new DicomError(
          'not-image',
          `instance ${id} is not an image (Modality ${h.modality ?? 'absent'})`,
          {
            instance: id,
            modality: h.modality,
            sopClassUid: h.sopClassUid,
          },
        );
      }
      throw new DicomError(
        'not-ct',
        `instance ${id} is not a CT image (Modality ${h.modality ?? 'absent'}, SOP class ${h.sopClassUid ?? 'absent'})`,
        {
          instance: id,
          modality: h.modality,
          sopClassUid: h.sopClassUid,
        },
      );
    }
    if (!h.hasPixelData) {
      throw new DicomError('not-image', `instance ${id} has no PixelData`, { instance: id });
    }
    if (h.numberOfFrames !== 1 && !frame) {
      throw new DicomError(
        'multi-frame',
        `instance ${id} has ${h.numberOfFrames} frames; only single-frame CT is supported`,
        {
          instance: id,
          numberOfFrames: h.numberOfFrames,
        },
      );
    }
    if (
      (h.samplesPerPixel ?? 1) !== 1 ||
      !/^MONOCHROME[12]$/.test(h.photometricInterpretation ?? 'MONOCHROME2')
    ) {
      throw new DicomError(
        'not-image',
        `instance ${id} is not a grey-level image (${h.photometricInterpretation})`,
        {
          instance: id,
        },
      );
    }
    if (h.bitsAllocated !== 16 && h.bitsAllocated !== 8) {
      throw new DicomError(
        'not-image',
        `instance ${id}: BitsAllocated ${h.bitsAllocated} is not supported (8 or 16)`,
        {
          instance: id,
        },
      );
    }
    const bitsStored = h.bitsStored ?? h.bitsAllocated;
    if (!(bitsStored! >= 1 && bitsStored! <= h.bitsAllocated!)) {
      throw new DicomError(
        'not-image',
        `instance ${id}: BitsStored ${h.bitsStored} does not fit BitsAllocated ${h.bitsAllocated}`,
        { instance: id, tags: ['BitsStored'] },
      );
    }
    if (h.highBit != null && h.highBit !== bitsStored! - 1) {
      throw new DicomError(
        'not-image',
        `instance ${id}: HighBit ${h.highBit} with BitsStored ${bitsStored} is not supported (HighBit must be BitsStored - 1)`,
        { instance: id, tags: ['HighBit'] },
      );
    }
    const missing: string[] = [];
    if (!h.imagePositionPatientMm) missing.push('ImagePositionPatient');
    if (!h.imageOrientationPatient) missing.push('ImageOrientationPatient');
    if (!h.pixelSpacingMm || !(h.pixelSpacingMm[0] > 0 && h.pixelSpacingMm[1] > 0))
      missing.push('PixelSpacing');
    if (!(h.rows! > 0)) missing.push('Rows');
    if (!(h.columns! > 0)) missing.push('Columns');
    if (missing.length > 0) {
      throw new DicomError('missing-geometry', `instance ${id} lacks ${missing.join(', ')}`, {
        instance: id,
        tags: missing,
      });
    }
  });
  checkRescale(headers);
  const first = headers[0];
  headers.forEach((h, n) => {
    const id = idOf(h, n);
    const diffs: string[] = [];
    if (h.studyInstanceUid !== first.studyInstanceUid) diffs.push('StudyInstanceUID');
    if (h.seriesInstanceUid !== first.seriesInstanceUid) diffs.push('SeriesInstanceUID');
    if (h.rows !== first.rows || h.columns !== first.columns) diffs.push('Rows/Columns');
    if (h.bitsAllocated !== first.bitsAllocated || h.pixelRepresentation !== first.pixelRepresentation) {
      diffs.push('BitsAllocated/PixelRepresentation');
    }
    if (h.frameOfReferenceUid !== first.frameOfReferenceUid) diffs.push('FrameOfReferenceUID');
    if (diffs.length > 0) {
      throw new DicomError('mixed-series', `instance ${id} differs from the first in ${diffs.join(', ')}`, {
        instance: id,
        tags: diffs,
      });
    }
  });
  const seen = new Set<string>();
  for (const h of headers) {
    const key = `${h.sopInstanceUid}/${h.frameNumber ?? 1}`;
    if (seen.has(key)) {
      throw new DicomError('mixed-series', `SOPInstanceUID ${h.sopInstanceUid} occurs twice in the series`, {
        instance: h.sopInstanceUid,
      });
    }
    seen.add(key);
  }
}
