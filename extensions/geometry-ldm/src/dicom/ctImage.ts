/**
 * Builds a classic CT Image Storage series (one single-frame instance per
 * slice, signed 16-bit, explicit VR little endian) from a Volume, with exact
 * per-slice geometry: ImageOrientationPatient from the affine's i and j axes,
 * PixelSpacing [row, column] spacing, ImagePositionPatient = affine * (0, 0, k),
 * SliceThickness / SpacingBetweenSlices = the k step along the normal.
 * Every call gets new SOP Instance UIDs. Pure (no I/O): writers send the result.
 */
import { applyPoint, column, cross, dot, norm, scale } from '../geometry/affine';
import type { Vec3 } from '../geometry/conventions';
import type { Volume } from '../volume/volume';
import { DicomError } from './errors';
import { CT_IMAGE_STORAGE } from './instanceMetadata';
import { writePart10, type NaturalDataset } from './part10';
import { chooseRescale, formatDS, quantize, type Rescale, type RescaleMode } from './rescale';
import { newUid } from './uids';

export const PRODUCT_MANUFACTURER = 'geometry-ldm';
export const NOT_FOR_DIAGNOSTIC_USE = 'NOT FOR DIAGNOSTIC USE';

export interface CtSeriesInput {
  readonly volume: Volume;
  /** Patient and General Study attributes (naturalized keywords). Must include StudyInstanceUID. */
  readonly patientAndStudy: NaturalDataset;
  readonly frameOfReferenceUid: string;
  readonly positionReferenceIndicator?: string;
  readonly seriesInstanceUid: string;
  readonly seriesNumber: number;
  /** At most 64 characters (LO): longer is refused, never cut (see fitText). */
  readonly seriesDescription: string;
  /** At most 10240 characters (LT): longer is refused, never cut. */
  readonly imageComments: string;
  readonly rescaleMode?: RescaleMode;
  /** Attributes added to every instance (provenance, equipment, ...). */
  readonly seriesAttributes?: NaturalDataset;
  /** Attributes of slice k (e.g. SourceImageSequence), given its ImagePositionPatient. */
  readonly perSlice?: (k: number, imagePositionPatientMm: Vec3) => NaturalDataset;
  readonly patientPosition?: string;
  readonly bodyPartExamined?: string;
  readonly now?: Date;
  /** Window to show by default (HU); omitted when not given. */
  readonly window?: { readonly center: number; readonly width: number };
  /** SOP Instance UID of slice k (default: a new random UID each). */
  readonly sopInstanceUid?: (k: number) => string;
}

export interface BuiltInstance {
  readonly bytes: Uint8Array;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly imagePositionPatientMm: Vec3;
}

export interface BuiltSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: readonly BuiltInstance[];
  readonly rescale: Rescale;
  readonly imageOrientationPatient: readonly number[];
  /** [row spacing, column spacing] mm. */
  readonly pixelSpacingMm: readonly [number, number];
  readonly sliceSpacingMm: number;
}

export function dicomDate(d: Date): string {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
export function dicomTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

/** Standard BodyPartExamined terms (PS3.16 Annex L, CID 4031 subset) that may be copied. */
const BODY_PARTS = new Set([
  'HEAD',
  'BRAIN',
  'NECK',
  'CHEST',
  'THORAX',
  'ABDOMEN',
  'PELVIS',
  'CHESTABDOMEN',
  'ABDOMENPELVIS',
  'CHESTABDPELVIS',
  'WHOLEBODY',
  'SKULL',
  'LUNG',
  'LIVER',
  'EXTREMITY',
  'SPINE',
  'HEADNECK',
]);

export function standardBodyPart(value: unknown): string | undefined {
  const v = typeof value === 'string' ? value.trim().toUpperCase() : '';
  return BODY_PARTS.has(v) ? v : undefined;
}

/** Truncates to a VR's length limit (LO 64, ST 1024, LT 10240 characters). */
export function limit(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n);
}

/** Length limits of the text VRs used for descriptions and comments (characters). */
export const VR_LENGTH = { LO: 64, ST: 1024, LT: 10240 } as const;

/**
 * `head + variable + tail` within `max` characters, shortening ONLY the
 * variable part (cut, ending in '...'): the head and tail carry the
 * AI-generated / not-for-diagnostic markers and always survive whole.
 * Throws invalid-input when head + tail alone do not fit (a programming error).
 */
export function fitText(head: string, variable: string, tail: string, max: number): string {
  const room = max - head.length - tail.length;
  if (room < 0) {
    throw new DicomError('invalid-input', `the fixed text '${head}${tail}' exceeds ${max} characters`);
  }
  if (variable.length <= room) return `${head}${variable}${tail}`;
  const ellipsis = '...';
  const kept =
    room >= ellipsis.length ? `${variable.slice(0, room - ellipsis.length).trimEnd()}${ellipsis}` : '';
  return `${head}${kept}${tail}`;
}

function checkLength(name: string, value: string, max: number): string {
  if (value.length > max) {
    throw new DicomError(
      'invalid-input',
      `${name} has ${value.length} characters, more than ${max} (build it with fitText so no marker is cut)`,
    );
  }
  return value;
}

export function buildCtSeries(input: CtSeriesInput): BuiltSeries {
  const v = input.volume;
  const studyInstanceUid = input.patientAndStudy.StudyInstanceUID;
  if (typeof studyInstanceUid !== 'string' || !studyInstanceUid) {
    throw new DicomError('missing-uid', 'the study of the new series has no StudyInstanceUID');
  }
  const [nx, ny, nz] = v.dims;
  if (v.data.length !== nx * ny * nz)
    throw new DicomError('invalid-input', 'volume data length does not match its grid');
  if (nx > 65535 || ny > 65535)
    throw new DicomError('invalid-input', `slices of ${nx}x${ny} exceed DICOM Rows/Columns`);
  const ei = column(v.affine, 0);
  const ej = column(v.affine, 1);
  const ek = column(v.affine, 2);
  const dx = norm(ei);
  const dy = norm(ej);
  if (!(dx > 0 && dy > 0))
    throw new DicomError('invalid-input', 'the volume affine has a zero in-plane axis');
  const X = scale(ei, 1 / dx);
  const Y = scale(ej, 1 / dy);
  if (Math.abs(dot(X, Y)) > 1e-6) {
    throw new DicomError(
      'invalid-input',
      'the volume i and j axes are not orthogonal: not representable as DICOM slices',
    );
  }
  const N = cross(X, Y);
  const step = Math.abs(dot(ek, N));
  if (nz > 1 && !(step > 1e-6))
    throw new DicomError('invalid-input', 'the volume k axis lies in the slice plane');
  const rescale = chooseRescale(v.data, input.rescaleMode ?? 'integer');
  const now = input.now ?? new Date();
  const iop = [...X, ...Y].map((x) => formatDS(Math.abs(x) < 1e-15 ? 0 : x));
  const pixelSpacing = [formatDS(dy), formatDS(dx)];
  const sliceSpacing = nz > 1 ? step : norm(ek);
  const common: NaturalDataset = {
    ...input.patientAndStudy,
    // dcmjs writes every string as UTF-8, and copied text arrives as Unicode (the PACS decoded it
    // with the source's own character set): declare UTF-8, whatever the source used.
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'SECONDARY', 'AXIAL'],
    SOPClassUID: CT_IMAGE_STORAGE,
    Modality: 'CT',
    SeriesInstanceUID: input.seriesInstanceUid,
    SeriesNumber: input.seriesNumber,
    SeriesDescription: checkLength('SeriesDescription', input.seriesDescription, VR_LENGTH.LO),
    SeriesDate: dicomDate(now),
    SeriesTime: dicomTime(now),
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    Manufacturer: PRODUCT_MANUFACTURER,
    FrameOfReferenceUID: input.frameOfReferenceUid,
    PositionReferenceIndicator: input.positionReferenceIndicator ?? '',
    ...(input.patientPosition ? { PatientPosition: input.patientPosition } : {}),
    ...(standardBodyPart(input.bodyPartExamined)
      ? { BodyPartExamined: standardBodyPart(input.bodyPartExamined) }
      : {}),
    // Type 2C: empty when the body part (and so whether it is paired) is unknown; absent for a known unpaired part.
    ...(standardBodyPart(input.bodyPartExamined) ? {} : { Laterality: '' }),
    AcquisitionNumber: '',
    KVP: '',
    BurnedInAnnotation: 'NO',
    ImageComments: checkLength('ImageComments', input.imageComments, VR_LENGTH.LT),
    ImageOrientationPatient: iop,
    PixelSpacing: pixelSpacing,
    SliceThickness: formatDS(sliceSpacing),
    ...(nz > 1 ? { SpacingBetweenSlices: formatDS(sliceSpacing) } : {}),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    RescaleIntercept: rescale.interceptDS,
    RescaleSlope: rescale.slopeDS,
    RescaleType: 'HU',
    ...(input.window
      ? { WindowCenter: formatDS(input.window.center), WindowWidth: formatDS(input.window.width) }
      : {}),
    ...(input.seriesAttributes ?? {}),
  };
  const sliceSize = nx * ny;
  const instances: BuiltInstance[] = [];
  const stored = new Int16Array(sliceSize);
  for (let k = 0; k < nz; k++) {
    const ipp = applyPoint(v.affine, [0, 0, k]);
    const sopInstanceUid = input.sopInstanceUid ? input.sopInstanceUid(k) : newUid();
    quantize(v.data.subarray(k * sliceSize, (k + 1) * sliceSize), rescale, stored);
    const pixelBytes = new Uint8Array(stored.byteLength);
    new Int16Array(pixelBytes.buffer).set(stored);
    const ds: NaturalDataset = {
      ...common,
      SOPInstanceUID: sopInstanceUid,
      InstanceNumber: k + 1,
      ImagePositionPatient: ipp.map(formatDS),
      SliceLocation: formatDS(dot(ipp, N)),
      ...(input.perSlice ? input.perSlice(k, ipp) : {}),
      PixelData: pixelBytes.buffer,
      _vrMap: { PixelData: 'OW' },
    };
    instances.push({
      bytes: writePart10(ds),
      studyInstanceUid,
      seriesInstanceUid: input.seriesInstanceUid,
      sopInstanceUid,
      imagePositionPatientMm: ipp,
    });
  }
  return {
    studyInstanceUid,
    seriesInstanceUid: input.seriesInstanceUid,
    instances,
    rescale,
    imageOrientationPatient: iop.map(Number),
    pixelSpacingMm: [Number(pixelSpacing[0]), Number(pixelSpacing[1])],
    sliceSpacingMm: sliceSpacing,
  };
}
