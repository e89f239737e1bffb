/**
 * Super-resolution result -> derived CT series in the SAME study and frame of
 * reference as its source, plus (when given) the uncertainty (std) map as a
 * second derived series. All instances are built and checked before anything
 * is sent, with new Series / SOP Instance UIDs on every run; then STOW-RS
 * with the full report (see stow.ts).
 *
 * SeriesNumber (unless given): source SeriesNumber + 1000 for the result and
 * the next number for the std map, moved up to the first free pair when the
 * study already uses them (writeDerivedSeries asks the PACS with a paged QIDO;
 * buildDerivedSeries takes `existingSeriesNumbers`). Descriptions and comments
 * keep their AI-generated / NOT FOR DIAGNOSTIC USE markers whole: only the
 * label, model name and source description are shortened to fit (fitText).
 */
import { dot } from '../geometry/affine';
import type { Vec3 } from '../geometry/conventions';
import type { Volume } from '../volume/volume';
import dcmjs from 'dcmjs';
import {
  buildCtSeries,
  dicomDate,
  dicomTime,
  fitText,
  limit,
  NOT_FOR_DIAGNOSTIC_USE,
  PRODUCT_MANUFACTURER,
  VR_LENGTH,
  type BuiltSeries,
} from './ctImage';
import { num, str, TAG, type DicomJsonDataset } from './dicomJson';
import { TRANSFER_SYNTAX } from './decodeFrame';
import { DicomError } from './errors';
import { CT_IMAGE_STORAGE, type InstanceHeader } from './instanceMetadata';
import type { NaturalDataset } from './part10';
import { searchAllSeries } from './qido';
import { stowInstances, type StowOptions, type StowReport } from './stow';
import type { DicomwebTransport } from './transport';
import { isValidUid, newUid } from './uids';

export interface ModelInfo {
  /** e.g. "geometry-ldm super-resolution" */
  readonly name: string;
  readonly version: string;
}

export interface ProductInfo {
  readonly manufacturer?: string;
  readonly softwareVersion?: string;
}

export const CODE = {
  sourceImageForProcessing: {
    CodeValue: '121322',
    CodingSchemeDesignator: 'DCM',
    CodeMeaning: 'Source image for image processing operation',
  },
  spatialResampling: {
    CodeValue: '113085',
    CodingSchemeDesignator: 'DCM',
    CodeMeaning: 'Spatial resampling',
  },
  processingEquipment: {
    CodeValue: '109102',
    CodingSchemeDesignator: 'DCM',
    CodeMeaning: 'Processing Equipment',
  },
} as const;

/** Patient + General Study (+ Patient Study) attributes copied from a source instance's DICOM JSON. */
const PATIENT_STUDY_TAGS = [
  '00100010', // PatientName
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00100030', // PatientBirthDate
  '00100040', // PatientSex
  '00101010', // PatientAge
  '00101020', // PatientSize
  '00101030', // PatientWeight
  '00120062', // PatientIdentityRemoved
  '00120063', // DeidentificationMethod
  '0020000D', // StudyInstanceUID
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080090', // ReferringPhysicianName
  '00200010', // StudyID
  '00080050', // AccessionNumber
  '00081030', // StudyDescription
];

const naturalize = (json: DicomJsonDataset): NaturalDataset =>
  (
    dcmjs as { data: { DicomMetaDictionary: { naturalizeDataset(d: unknown): NaturalDataset } } }
  ).data.DicomMetaDictionary.naturalizeDataset(JSON.parse(JSON.stringify(json)));

export function patientAndStudyOf(source: InstanceHeader): NaturalDataset {
  const subset: DicomJsonDataset = {};
  for (const t of PATIENT_STUDY_TAGS) if (source.json[t]) subset[t] = source.json[t];
  const out = naturalize(subset);
  // Type 2 attributes: present even when empty.
  for (const k of [
    'PatientName',
    'PatientID',
    'PatientBirthDate',
    'PatientSex',
    'StudyDate',
    'StudyTime',
    'ReferringPhysicianName',
    'StudyID',
    'AccessionNumber',
  ]) {
    if (out[k] === undefined) out[k] = '';
  }
  delete out._vrMap;
  return out;
}

export interface DerivedSeriesRequest {
  /** The source series' instance headers (e.g. ReadSeriesResult.instances). */
  readonly source: readonly InstanceHeader[];
  /** The super-resolution result (unit 'HU') in the source's patient space. */
  readonly result: Volume;
  /** Optional uncertainty map (unit 'HU-std') on the same grid: written as a second series. */
  readonly uncertainty?: Volume;
  readonly model: ModelInfo;
  readonly product?: ProductInfo;
  /** SeriesNumber of the result series (the std series gets the next one). Default: derivedSeriesNumbers. */
  readonly seriesNumber?: number;
  /**
   * SeriesNumbers already used in the study, avoided by the default numbering.
   * writeDerivedSeries asks the PACS (QIDO) when neither this nor seriesNumber is given.
   */
  readonly existingSeriesNumbers?: readonly number[];
  /**
   * Short free text added to the SeriesDescription (e.g. "SR 272x272x288"). Shortened (never the
   * AI / NOT FOR DIAGNOSTIC USE markers) to fit the 64 characters of the LO value.
   */
  readonly label?: string;
  /**
   * How the result was made (inference/methodText.ts: mode, samples, slice model, fidelity),
   * recorded in DerivationDescription (shortened to fit; the markers always survive).
   */
  readonly method?: string;
}

/** Fixed parts of the derived series' descriptions (the markers that must always survive). */
export const DERIVED_TEXT = {
  resultSeriesHead: 'AI super-resolution',
  stdSeriesHead: 'AI SR uncertainty',
  seriesTail: ` - ${NOT_FOR_DIAGNOSTIC_USE}`,
} as const;

/** First derived SeriesNumber offset from the source's: source 3 -> 1003 (std 1004). */
export const DERIVED_SERIES_NUMBER_OFFSET = 1000;
const MAX_SERIES_NUMBER = 2147483647; // IS

/**
 * Deterministic SeriesNumbers for `count` new derived series of a source:
 * the first run of consecutive free numbers starting at source SeriesNumber
 * + 1000 (0 + 1000 when the source has none), skipping every number in
 * `existing` (the study's series, from QIDO). Same inputs, same numbers.
 */
export function derivedSeriesNumbers(
  sourceSeriesNumber: number | null | undefined,
  existing: Iterable<number>,
  count = 1,
): number[] {
  const used = new Set(existing);
  const src =
    sourceSeriesNumber != null && Number.isInteger(sourceSeriesNumber) && sourceSeriesNumber >= 0
      ? sourceSeriesNumber
      : 0;
  let start = src + DERIVED_SERIES_NUMBER_OFFSET;
  if (start + count - 1 > MAX_SERIES_NUMBER) start = DERIVED_SERIES_NUMBER_OFFSET;
  for (;;) {
    let free = true;
    for (let n = 0; n < count; n++) {
      if (used.has(start + n)) {
        start += n + 1;
        free = false;
        break;
      }
    }
    if (free) return Array.from({ length: count }, (_, n) => start + n);
  }
}

/** SeriesNumbers of every series in a study (QIDO, all pages). */
export async function studySeriesNumbers(
  transport: DicomwebTransport,
  studyInstanceUid: string,
): Promise<number[]> {
  const series = await searchAllSeries(transport, studyInstanceUid, { includefield: TAG.SeriesNumber });
  return series.map((s) => s.seriesNumber).filter((n): n is number => n != null);
}

export interface WrittenSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUids: readonly string[];
  readonly report: StowReport;
}

export interface DerivedSeriesResult {
  readonly result: WrittenSeries;
  readonly uncertainty?: WrittenSeries;
}

function contributingEquipment(
  model: ModelInfo,
  product: ProductInfo | undefined,
  now: Date,
  description: string,
): NaturalDataset {
  return {
    Manufacturer: product?.manufacturer ?? PRODUCT_MANUFACTURER,
    ManufacturerModelName: limit(model.name, 64),
    SoftwareVersions: [
      limit(model.version, 64),
      ...(product?.softwareVersion ? [limit(product.softwareVersion, 64)] : []),
    ],
    ContributionDateTime: `${dicomDate(now)}${dicomTime(now)}`,
    ContributionDescription: fitText('', description, '', VR_LENGTH.LO),
    PurposeOfReferenceCodeSequence: [{ ...CODE.processingEquipment }],
  };
}

/** Source slices nearest to a point along the source normal (the two bracketing ones, or the nearest). */
function sourcesFor(
  point: Vec3,
  source: readonly InstanceHeader[],
  normal: Vec3,
  distances: number[],
): InstanceHeader[] {
  const d = dot(point, normal);
  let below = -1;
  let above = -1;
  distances.forEach((x, n) => {
    if (x <= d + 1e-6 && (below < 0 || x > distances[below])) below = n;
    if (x >= d - 1e-6 && (above < 0 || x < distances[above])) above = n;
  });
  const picked = new Set<number>([below, above].filter((n) => n >= 0));
  return [...picked].map((n) => source[n]);
}

/** Transfer syntaxes that are always lossy (DCT JPEG); others say so with LossyImageCompression. */
const LOSSY_SYNTAXES = new Set<string>([TRANSFER_SYNTAX.jpegBaseline8, TRANSFER_SYNTAX.jpegExtended12]);

/**
 * General Image attributes that record lossy compression of any source image. PS3.3 C.7.6.1.1.5:
 * once an image was lossy compressed, images derived from it keep LossyImageCompression 01.
 */
export function lossyCompressionOf(source: readonly InstanceHeader[]): NaturalDataset {
  const lossy = source.find(
    (h) =>
      str(h.json, '00282110') === '01' ||
      (h.transferSyntaxUid != null && LOSSY_SYNTAXES.has(h.transferSyntaxUid)),
  );
  if (!lossy) return {};
  const subset: DicomJsonDataset = {};
  for (const t of ['00282112', '00282114']) if (lossy.json[t]) subset[t] = lossy.json[t];
  const copied = naturalize(subset);
  delete copied._vrMap;
  return { LossyImageCompression: '01', ...copied };
}

/** Builds (does not send) the derived series. Exported for tests and for callers that send elsewhere. */
export function buildDerivedSeries(
  req: DerivedSeriesRequest,
  now = new Date(),
): { result: BuiltSeries; uncertainty?: BuiltSeries } {
  const { source, result, model } = req;
  if (source.length === 0) throw new DicomError('invalid-input', 'no source instances');
  const first = source[0];
  for (const [name, uid] of [
    ['StudyInstanceUID', first.studyInstanceUid],
    ['SeriesInstanceUID', first.seriesInstanceUid],
    ['FrameOfReferenceUID', first.frameOfReferenceUid],
  ] as const) {
    if (!isValidUid(uid)) throw new DicomError('missing-uid', `the source series has no valid ${name}`);
  }
  if (result.unit !== 'HU')
    throw new DicomError('invalid-input', `the result must be in HU, got '${result.unit}'`);
  if (req.uncertainty) {
    if (req.uncertainty.unit !== 'HU-std')
      throw new DicomError('invalid-input', `the uncertainty map must be 'HU-std'`);
    if (
      req.uncertainty.dims.some((n, c) => n !== result.dims[c]) ||
      req.uncertainty.affine.some((x, c) => Math.abs(x - result.affine[c]) > 1e-9)
    ) {
      throw new DicomError('invalid-input', 'the uncertainty map must be on the result grid');
    }
  }
  if (!first.imageOrientationPatient)
    throw new DicomError('missing-geometry', 'the source has no ImageOrientationPatient');
  const o = first.imageOrientationPatient;
  const n: Vec3 = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  const distances = source.map((h) => (h.imagePositionPatientMm ? dot(h.imagePositionPatientMm, n) : NaN));
  const refItem = (h: InstanceHeader): NaturalDataset => ({
    ReferencedSOPClassUID: h.sopClassUid ?? CT_IMAGE_STORAGE,
    ReferencedSOPInstanceUID: h.sopInstanceUid,
  });
  // a frame of a multi-frame (Enhanced CT) source is referenced with its frame number
  const frameRefItem = (h: InstanceHeader): NaturalDataset =>
    h.frameNumber != null ? { ...refItem(h), ReferencedFrameNumber: [h.frameNumber] } : refItem(h);
  // each source instance once, whatever its number of frames
  const listed = new Set<string | null>();
  const sourceInstances = source.filter(
    (h) => !listed.has(h.sopInstanceUid) && !!listed.add(h.sopInstanceUid),
  );
  const patientAndStudy = patientAndStudyOf(first);
  const sourceDescription = str(first.json, '0008103E');
  const [seriesNumber, stdSeriesNumber] =
    req.seriesNumber != null
      ? [req.seriesNumber, req.seriesNumber + 1]
      : derivedSeriesNumbers(
          num(first.json, TAG.SeriesNumber),
          req.existingSeriesNumbers ?? [],
          req.uncertainty ? 2 : 1,
        );
  const label = req.label ? ` ${req.label.replace(/\s+/g, ' ').trim()}` : '';
  const modelText = `${model.name} ${model.version}`;
  const common = (kind: 'result' | 'std'): NaturalDataset => {
    const what = kind === 'result' ? 'super-resolution' : 'super-resolution uncertainty (std, HU)';
    return {
      ...lossyCompressionOf(source),
      DerivationDescription: fitText(
        `AI ${what} by `,
        `${modelText} from series ${first.seriesInstanceUid}` +
          (sourceDescription ? ` (${sourceDescription})` : '') +
          ': resampled onto a new grid' +
          (req.method ? `; ${req.method.replace(/\s+/g, ' ').trim()}` : ''),
        `. ${NOT_FOR_DIAGNOSTIC_USE}.`,
        VR_LENGTH.ST,
      ),
      DerivationCodeSequence: [{ ...CODE.spatialResampling }],
      ContributingEquipmentSequence: [contributingEquipment(model, req.product, now, `AI ${what}`)],
      ReferencedSeriesSequence: [
        {
          SeriesInstanceUID: first.seriesInstanceUid,
          ReferencedInstanceSequence: sourceInstances.map(refItem),
        },
      ],
    };
  };
  const perSlice = (k: number, ipp: Vec3): NaturalDataset => ({
    SourceImageSequence: sourcesFor(ipp, source, n, distances).map((h) => ({
      ...frameRefItem(h),
      PurposeOfReferenceCodeSequence: [{ ...CODE.sourceImageForProcessing }],
    })),
  });
  const patientPosition = str(first.json, '00185100') ?? undefined;
  const bodyPart = str(first.json, '00180015') ?? undefined;
  const built = buildCtSeries({
    volume: result,
    patientAndStudy,
    frameOfReferenceUid: first.frameOfReferenceUid!,
    positionReferenceIndicator: str(first.json, '00201040') ?? '',
    seriesInstanceUid: newUid(),
    seriesNumber,
    seriesDescription: fitText(DERIVED_TEXT.resultSeriesHead, label, DERIVED_TEXT.seriesTail, VR_LENGTH.LO),
    imageComments: fitText(
      'AI-GENERATED IMAGE (super-resolution by ',
      modelText,
      `). ${NOT_FOR_DIAGNOSTIC_USE}.`,
      VR_LENGTH.LT,
    ),
    rescaleMode: 'integer',
    seriesAttributes: common('result'),
    perSlice,
    patientPosition,
    bodyPartExamined: bodyPart,
    now,
    window: { center: 40, width: 400 },
  });
  const std = req.uncertainty
    ? buildCtSeries({
        volume: req.uncertainty,
        patientAndStudy,
        frameOfReferenceUid: first.frameOfReferenceUid!,
        positionReferenceIndicator: str(first.json, '00201040') ?? '',
        seriesInstanceUid: newUid(),
        seriesNumber: stdSeriesNumber,
        seriesDescription: fitText(DERIVED_TEXT.stdSeriesHead, label, DERIVED_TEXT.seriesTail, VR_LENGTH.LO),
        imageComments: fitText(
          'AI-GENERATED UNCERTAINTY MAP: voxel-wise standard deviation (HU) of the super-resolution by ',
          modelText,
          `. ${NOT_FOR_DIAGNOSTIC_USE}.`,
          VR_LENGTH.LT,
        ),
        rescaleMode: 'full-range',
        seriesAttributes: common('std'),
        perSlice,
        patientPosition,
        bodyPartExamined: bodyPart,
        now,
      })
    : undefined;
  return { result: built, ...(std ? { uncertainty: std } : {}) };
}

export interface PreparedDerivedSeries {
  readonly result: BuiltSeries;
  readonly uncertainty?: BuiltSeries;
}

/**
 * Numbers (asking the PACS for the study's SeriesNumbers unless given) and builds the series,
 * sending nothing. Keep the result to store it, and to store it again after a failure: the
 * second attempt completes the same series (same UIDs) instead of writing a new one.
 */
export async function prepareDerivedSeries(
  transport: DicomwebTransport,
  req: DerivedSeriesRequest,
): Promise<PreparedDerivedSeries> {
  let numbered = req;
  if (req.seriesNumber == null && req.existingSeriesNumbers == null && req.source[0]?.studyInstanceUid) {
    // Avoid the study's existing SeriesNumbers. Numbers are labels, not identity: when the
    // PACS cannot be asked, the deterministic default stands (the STOW then reports any real failure).
    const existing = await studySeriesNumbers(transport, req.source[0].studyInstanceUid).catch(
      () => [] as number[],
    );
    numbered = { ...req, existingSeriesNumbers: existing };
  }
  return buildDerivedSeries(numbered);
}

/**
 * Stores prepared series: the result, then (unless `withUncertainty` is false) the std map.
 * Instances the PACS already holds are not sent again (skipPresent), so calling this again
 * after a partial failure completes the same series. Errors name the series and say what
 * the PACS holds (stow.ts).
 */
export async function storeDerivedSeries(
  transport: DicomwebTransport,
  prepared: PreparedDerivedSeries,
  options: StowOptions & { readonly withUncertainty?: boolean } = {},
): Promise<DerivedSeriesResult> {
  const { withUncertainty = true, ...stow } = options;
  const send = async (s: BuiltSeries): Promise<WrittenSeries> => {
    const report = await stowInstances(transport, s.instances, {
      studyInstanceUid: s.studyInstanceUid,
      skipPresent: true,
      ...stow,
    });
    return {
      studyInstanceUid: s.studyInstanceUid,
      seriesInstanceUid: s.seriesInstanceUid,
      sopInstanceUids: s.instances.map((i) => i.sopInstanceUid),
      report,
    };
  };
  const result = await send(prepared.result);
  if (!prepared.uncertainty || !withUncertainty) return { result };
  try {
    return { result, uncertainty: await send(prepared.uncertainty) };
  } catch (e) {
    if (e instanceof DicomError) {
      throw new DicomError(
        'partial-store',
        `the result series ${result.seriesInstanceUid} was stored, the uncertainty series was not: ${e.message}`,
        { ...e.details, storedSeries: [result.seriesInstanceUid], cause: e.code },
      );
    }
    throw e;
  }
}

/** Builds everything, then stores the result series and (if given) the uncertainty series. */
export async function writeDerivedSeries(
  transport: DicomwebTransport,
  req: DerivedSeriesRequest,
  options: StowOptions = {},
): Promise<DerivedSeriesResult> {
  return storeDerivedSeries(transport, await prepareDerivedSeries(transport, req), options);
}
