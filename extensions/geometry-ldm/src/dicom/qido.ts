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

export interface PagingOptions {
  /** `limit` asked for per page (default 1000); a PACS may return fewer. */
  readonly pageSize?: number;
  /** Stop after this many pages (default 10000: a guard against a PACS that ignores offset). */
  readonly maxPages?: number;
}

export interface PagedResults<T> {
  readonly results: T[];
  /** The most results any one page returned: what this PACS answers at least per request. */
  readonly largestPage: number;
}

/**
 * Every result of a QIDO search, page by page with limit/offset. A PACS may
 * cap a page below the limit asked for, so a short page does not mean the end:
 * paging stops at an empty page, or at a page that adds nothing new (a PACS
 * that ignores offset), or after `maxPages`.
 */
export async function searchAllPages<T>(
  search: (query: QidoQuery) => Promise<T[]>,
  key: (t: T) => string | null,
  query: QidoQuery = {},
  options: PagingOptions = {},
): Promise<PagedResults<T>> {
  const pageSize = options.pageSize ?? 1000;
  const maxPages = options.maxPages ?? 10000;
  const seen = new Set<string>();
  const results: T[] = [];
  let largestPage = 0;
  let offset = 0;
  for (let page = 0; page < maxPages; page++) {
    const got = await search({ ...query, limit: pageSize, offset });
    if (got.length === 0) break;
    largestPage = Math.max(largestPage, got.length);
    let added = 0;
    for (const r of got) {
      const k = key(r);
      if (k == null || seen.has(k)) continue;
      seen.add(k);
      results.push(r);
      added++;
    }
    if (added === 0) break;
    offset += got.length;
  }
  return { results, largestPage };
}

/** Every series of a study (all pages). */
export async function searchAllSeries(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  query: QidoQuery = {},
  options: PagingOptions = {},
): Promise<SeriesSummary[]> {
  const r = await searchAllPages(
    (q) => searchSeries(transport, studyInstanceUid, q),
    (s) => s.seriesInstanceUid,
    query,
    options,
  );
  return r.results;
}

/**
 * Which of `sopInstanceUids` the PACS holds in a series. Pages through the
 * series first; any UID still missing is then asked for by UID-list matching
 * (SOPInstanceUID=a,b,...) in chunks no larger than the largest page seen, so
 * that a PACS which caps results and pages badly (Orthanc with
 * LimitFindInstances ignores offsets past its cap) cannot make a stored
 * instance look missing. A PACS that answers a UID list with nothing gets
 * one query per UID.
 */
export async function findInstances(
  transport: DicomwebTransport,
  studyInstanceUid: string,
  seriesInstanceUid: string,
  sopInstanceUids: readonly string[],
  options: PagingOptions & { readonly maxListLength?: number } = {},
): Promise<Set<string>> {
  const present = new Set<string>();
  const paged = await searchAllPages(
    (q) => searchInstances(transport, studyInstanceUid, seriesInstanceUid, q),
    (i) => i.sopInstanceUid,
    {},
    options,
  );
  for (const i of paged.results) if (i.sopInstanceUid) present.add(i.sopInstanceUid);
  const missing = sopInstanceUids.filter((u) => !present.has(u));
  if (missing.length === 0 || paged.largestPage === 0) return present;
  const chunk = Math.max(1, Math.min(options.maxListLength ?? 50, paged.largestPage));
  for (let n = 0; n < missing.length; n += chunk) {
    const list = missing.slice(n, n + chunk);
    const found = await searchInstances(transport, studyInstanceUid, seriesInstanceUid, {
      SOPInstanceUID: list.join(','),
    });
    for (const i of found) if (i.sopInstanceUid) present.add(i.sopInstanceUid);
    // A PACS without UID-list matching answers nothing: ask for each UID alone.
    if (found.length === 0 && list.length > 1) {
      for (const uid of list) {
        const one = await searchInstances(transport, studyInstanceUid, seriesInstanceUid, {
          SOPInstanceUID: uid,
        });
        for (const i of one) if (i.sopInstanceUid) present.add(i.sopInstanceUid);
      }
    }
  }
  return present;
}
