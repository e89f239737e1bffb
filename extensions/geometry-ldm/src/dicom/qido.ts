/**
 * QIDO-RS searches (studies, series, instances) -> typed summaries.
 */
import { num, str, strs, TAG, type DicomJsonDataset } from './dicomJson';
import { getDicomJson, type DicomwebTransport, type HttpRequest } from './transport';

export type QidoQuery = HttpRequest['query'];

export interface StudySummary {
  readonly studyInstanceUid: string | null;
  readonly patientId: string | null;
  readonly patientName: string | null;
  readonly studyDate: string | null;
  readonly modalitiesInStudy: readonly string[];
  readonly json: DicomJsonDataset;
}

export interface SeriesSummary {
  readonly studyInstanceUid: string | null;
  readonly seriesInstanceUid: string | null;
  readonly modality: string | null;
  readonly seriesNumber: number | null;
  readonly seriesDescription: string | null;
  readonly numberOfInstances: number | null;
  readonly json: DicomJsonDataset;
}

export interface InstanceSummary {
  readonly studyInstanceUid: string | null;
  readonly seriesInstanceUid: string | null;
  readonly sopInstanceUid: string | null;
  readonly sopClassUid: string | null;
  readonly instanceNumber: number | null;
  readonly json: DicomJsonDataset;
}

const enc = encodeURIComponent;

export async function searchStudies(
  transport: DicomwebTransport,
  query?: QidoQuery,
): Promise<StudySummary[]> {
  const res = await getDicomJson(transport, 'qido', 'studies', query);
  return res.map((json) => ({
    studyInstanceUid: str(json, TAG.StudyInstanceUID),
    patientId: str(json, TAG.PatientID),
    patientName: str(json, TAG.PatientName),
    studyDate: str(json, TAG.StudyDate),
    modalitiesInStudy: strs(json, '00080061'),
    json,
  }));
}

export async function searchSeries(
  transport: DicomwebTransport,
  studyInstanceUid?: string,
  query?: QidoQuery,
): Promise<SeriesSummary[]> {
  const path = studyInstanceUid ? `studies/${enc(studyInstanceUid)}/series` : 'series';
  const res = await getDicomJson(transport, 'qido', path, query);
  return res.map((json) => ({
    studyInstanceUid: str(json, TAG.StudyInstanceUID) ?? studyInstanceUid ?? null,
    seriesInstanceUid: str(json, TAG.SeriesInstanceUID),
    modality: str(json, TAG.Modality),
    seriesNumber: num(json, TAG.SeriesNumber),
    seriesDescription: str(json, TAG.SeriesDescription),
    numberOfInstances: num(json, TAG.NumberOfSeriesRelatedInstances),
    json,
  }));
}

export async function searchInstances(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid?: string,
  query?: QidoQuery,
): Promise<InstanceSummary[]> {
  const path = seriesInstanceUid
    ? `studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}/instances`
    : `studies/${enc(studyInstanceUid)}/instances`;
  const res = await getDicomJson(transport, 'qido', path, query);
  return res.map((json) => ({
    studyInstanceUid: str(json, TAG.StudyInstanceUID) ?? studyInstanceUid,
    seriesInstanceUid: str(json, TAG.SeriesInstanceUID) ?? seriesInstanceUid ?? null,
    sopInstanceUid: str(json, TAG.SOPInstanceUID),
    sopClassUid: str(json, TAG.SOPClassUID),
    instanceNumber: num(json, TAG.InstanceNumber),
    json,
  }));
}

/** WADO-RS series metadata (DICOM JSON of every instance). */
export async function retrieveSeriesMetadata(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
): Promise<DicomJsonDataset[]> {
  return getDicomJson(
    transport,
    'wado',
    `studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}/metadata`,
  );
}
