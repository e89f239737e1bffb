/**
 * A generated (synthetic) volume -> a NEW study for a clearly synthetic
 * patient, with its own frame of reference and the generation parameters
 * recorded in every instance (ImageComments, JSON). Attaching it to a real
 * patient needs an explicit choice (`patient: { kind: 'real', confirmed: true, ... }`).
 */
import type { Volume } from '../volume/volume';
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
import { DicomError } from './errors';
import type { NaturalDataset } from './part10';
import { stowInstances, type StowOptions } from './stow';
import type { DicomwebTransport } from './transport';
import { newUid } from './uids';
import { CODE, type ModelInfo, type ProductInfo, type WrittenSeries } from './writeDerivedSeries';

/** What produced the volume; recorded verbatim (JSON) in each instance. */
export interface GenerationParameters {
  readonly grid: readonly number[];
  readonly spacingMm: readonly number[];
  readonly fov: unknown;
  readonly rotationDeg: readonly number[];
  readonly seed: number | string | readonly (number | string)[];
  readonly sampler: unknown;
  readonly model: ModelInfo;
  readonly [extra: string]: unknown;
}

export type SyntheticPatient =
  | { readonly kind: 'synthetic'; readonly name?: string; readonly id?: string }
  | {
      readonly kind: 'real';
      /** Must be true: the user explicitly chose to attach synthetic images to a real patient. */
      readonly confirmed: boolean;
      readonly patientName: string;
      readonly patientId: string;
      readonly patientBirthDate?: string;
      readonly patientSex?: string;
    };

export interface SyntheticStudyRequest {
  readonly volume: Volume;
  readonly generation: GenerationParameters;
  readonly patient?: SyntheticPatient;
  readonly product?: ProductInfo;
  /** Free text; the synthetic / not-for-diagnostic marker is always appended (the text is shortened to fit). */
  readonly studyDescription?: string;
  /**
   * Explicit UIDs, for batch items whose identity derives from (batch id, item index) so that a
   * rerun re-creates the same instances (the CLI's resumable, sharded batches). Default: new UIDs.
   */
  readonly uids?: {
    readonly study: string;
    readonly series: string;
    readonly frameOfReference: string;
    readonly instance: (k: number) => string;
  };
  /** Content/series dates and times (default: now); fixed with `uids` so a retry rebuilds the same bytes. */
  readonly createdAt?: Date;
}

export interface SyntheticStudyResult extends WrittenSeries {
  readonly frameOfReferenceUid: string;
  readonly patientId: string;
}

export const SYNTHETIC_PATIENT_NAME = 'SYNTHETIC^GEOMETRY-LDM';

/** Fixed, never-shortened parts of the synthetic study's descriptions. */
export const SYNTHETIC_TEXT = {
  studyDescription: `SYNTHETIC CT (AI-generated) - ${NOT_FOR_DIAGNOSTIC_USE}`,
  studyDescriptionTail: ` - AI SYNTHETIC - ${NOT_FOR_DIAGNOSTIC_USE}`,
  seriesDescription: `SYNTHETIC AI-generated CT - ${NOT_FOR_DIAGNOSTIC_USE}`,
  imageCommentsHead: `AI-GENERATED SYNTHETIC IMAGE, no real patient. ${NOT_FOR_DIAGNOSTIC_USE}. `,
} as const;

export function buildSyntheticStudy(
  req: SyntheticStudyRequest,
  now = req.createdAt ?? new Date(),
): { series: BuiltSeries; frameOfReferenceUid: string; patientId: string } {
  const { volume, generation } = req;
  if (volume.unit !== 'HU')
    throw new DicomError('invalid-input', `a generated volume must be in HU, got '${volume.unit}'`);
  const patient = req.patient ?? { kind: 'synthetic' };
  let patientModule: NaturalDataset;
  if (patient.kind === 'real') {
    if (patient.confirmed !== true) {
      throw new DicomError(
        'invalid-input',
        'attaching synthetic images to a real patient needs an explicit confirmation',
      );
    }
    patientModule = {
      PatientName: patient.patientName,
      PatientID: patient.patientId,
      PatientBirthDate: patient.patientBirthDate ?? '',
      PatientSex: patient.patientSex ?? '',
    };
  } else {
    patientModule = {
      PatientName: limit(patient.name ?? SYNTHETIC_PATIENT_NAME, 64),
      PatientID: limit(patient.id ?? `SYNTH-${newUid().slice(-12)}`, 64),
      PatientBirthDate: '',
      PatientSex: 'O',
      PatientIdentityRemoved: 'YES',
      DeidentificationMethod: 'Synthetic image: no real patient',
      PatientComments: 'SYNTHETIC PATIENT: AI-generated images, no real person.',
    };
  }
  const studyInstanceUid = req.uids?.study ?? newUid();
  const frameOfReferenceUid = req.uids?.frameOfReference ?? newUid();
  const params = JSON.stringify(generation);
  const modelText = `${generation.model.name} ${generation.model.version}`;
  const series = buildCtSeries({
    volume,
    patientAndStudy: {
      ...patientModule,
      StudyInstanceUID: studyInstanceUid,
      StudyDate: dicomDate(now),
      StudyTime: dicomTime(now),
      ReferringPhysicianName: '',
      StudyID: 'SYNTH',
      AccessionNumber: '',
      StudyDescription:
        req.studyDescription == null
          ? SYNTHETIC_TEXT.studyDescription
          : fitText('', req.studyDescription, SYNTHETIC_TEXT.studyDescriptionTail, VR_LENGTH.LO),
    },
    frameOfReferenceUid,
    positionReferenceIndicator: '',
    seriesInstanceUid: req.uids?.series ?? newUid(),
    seriesNumber: 1,
    seriesDescription: SYNTHETIC_TEXT.seriesDescription,
    // Markers first: only the model name and parameters (JSON, last) can be shortened.
    imageComments: fitText(
      SYNTHETIC_TEXT.imageCommentsHead,
      `Model: ${modelText}. Generation parameters: ${params}`,
      '',
      VR_LENGTH.LT,
    ),
    rescaleMode: 'integer',
    patientPosition: 'HFS',
    now,
    window: { center: 40, width: 400 },
    ...(req.uids ? { sopInstanceUid: req.uids.instance } : {}),
    seriesAttributes: {
      DerivationDescription: fitText(
        `AI-generated synthetic image (${NOT_FOR_DIAGNOSTIC_USE}) by `,
        `${modelText}. Parameters: ${params}`,
        '',
        VR_LENGTH.ST,
      ),
      ContributingEquipmentSequence: [
        {
          Manufacturer: req.product?.manufacturer ?? PRODUCT_MANUFACTURER,
          ManufacturerModelName: limit(generation.model.name, 64),
          SoftwareVersions: [
            limit(generation.model.version, 64),
            ...(req.product?.softwareVersion ? [limit(req.product.softwareVersion, 64)] : []),
          ],
          ContributionDateTime: `${dicomDate(now)}${dicomTime(now)}`,
          ContributionDescription: 'AI image generation (synthetic)',
          PurposeOfReferenceCodeSequence: [{ ...CODE.processingEquipment }],
        },
      ],
    },
  });
  return { series, frameOfReferenceUid, patientId: String(patientModule.PatientID) };
}

export async function writeSyntheticStudy(
  transport: DicomwebTransport,
  req: SyntheticStudyRequest,
  options: StowOptions = {},
): Promise<SyntheticStudyResult> {
  const { series, frameOfReferenceUid, patientId } = buildSyntheticStudy(req);
  // With explicit UIDs this may be a retry: what the PACS already holds is not sent again.
  const report = await stowInstances(transport, series.instances, {
    ...(req.uids ? { skipPresent: true } : {}),
    ...options,
  });
  return {
    studyInstanceUid: series.studyInstanceUid,
    seriesInstanceUid: series.seriesInstanceUid,
    sopInstanceUids: series.instances.map((i) => i.sopInstanceUid),
    report,
    frameOfReferenceUid,
    patientId,
  };
}
