/** Shared setup of the DICOMweb integration tests: an Orthanc and a transport to it. */
import {
  createFetchTransport,
  type DicomwebTransport,
} from '../../extensions/geometry-ldm/src/dicom/transport';
import type { OrthancInstance } from './orthanc';

export function orthancTransport(orthanc: OrthancInstance, root = orthanc.dicomWebRoot): DicomwebTransport {
  return createFetchTransport({ root, headers: { Authorization: orthanc.authorization } });
}

/** Instances Orthanc holds (its own REST API, independent of the DICOMweb code under test). */
export async function orthancCounts(
  orthanc: OrthancInstance,
): Promise<{ studies: number; series: number; instances: number }> {
  const res = await fetch(`${orthanc.url}/statistics`, { headers: { authorization: orthanc.authorization } });
  const s = (await res.json()) as { CountStudies: number; CountSeries: number; CountInstances: number };
  return { studies: s.CountStudies, series: s.CountSeries, instances: s.CountInstances };
}
