/** Bench entry for cli-memory (bundled by scripts/bench.mjs): a real Orthanc with one real series. */
export { startOrthanc } from '../../test/support/orthanc';
export { orthancTransport } from '../../test/support/dicomweb';
export { seedSeries } from '../../test/support/seed';
