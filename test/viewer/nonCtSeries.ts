/**
 * A small MR series (2 images of 64 x 64, uncompressed) added to a real CT
 * study, as a study with more than CT would have: the Super-resolve panel
 * must refuse it in plain words. Patient and study attributes are copied from
 * the study's first CT file.
 */
import * as fs from 'node:fs';
import { readPart10, writePart10 } from '../../extensions/geometry-ldm/src/dicom/part10';
import { stowInstances, type StowInstance } from '../../extensions/geometry-ldm/src/dicom/stow';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
export const NON_CT_DESCRIPTION = 'Localizer (MR, test)';

const COPIED = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyInstanceUID',
  'StudyDate',
  'StudyTime',
  'StudyID',
  'AccessionNumber',
  'ReferringPhysicianName',
  'StudyDescription',
] as const;

export async function seedNonCtSeries(
  transport: DicomwebTransport,
  ctFile: string,
): Promise<{ seriesInstanceUid: string }> {
  const ct = readPart10(new Uint8Array(fs.readFileSync(ctFile))).dataset;
  const study: Record<string, unknown> = {};
  for (const k of COPIED) if (ct[k] !== undefined) study[k] = ct[k];
  const seriesInstanceUid = newUid();
  const frameOfReferenceUid = newUid();
  const instances: StowInstance[] = [0, 1].map((k) => {
    const sopInstanceUid = newUid();
    const pixels = new Uint16Array(64 * 64).map((_, q) => (q % 64) * 8 + k * 100);
    const bytes = writePart10({
      ...study,
      SOPClassUID: MR_IMAGE_STORAGE,
      SOPInstanceUID: sopInstanceUid,
      Modality: 'MR',
      SeriesInstanceUID: seriesInstanceUid,
      SeriesNumber: 9999,
      SeriesDescription: NON_CT_DESCRIPTION,
      FrameOfReferenceUID: frameOfReferenceUid,
      InstanceNumber: k + 1,
      ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'],
      ScanningSequence: 'GR',
      SequenceVariant: 'NONE',
      ScanOptions: '',
      MRAcquisitionType: '2D',
      EchoTime: 2,
      RepetitionTime: 5,
      EchoTrainLength: 1,
      ImagePositionPatient: [-160, -160, 10 * k],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [5, 5],
      SliceThickness: 10,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: 64,
      Columns: 64,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      PixelData: pixels.buffer,
      _vrMap: { PixelData: 'OW' },
    });
    return {
      bytes,
      studyInstanceUid: String(study.StudyInstanceUID),
      seriesInstanceUid,
      sopInstanceUid,
    };
  });
  await stowInstances(transport, instances);
  return { seriesInstanceUid };
}
