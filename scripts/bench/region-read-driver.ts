/**
 * One read in a fresh process (so that /usr/bin/time's peak RSS is this read's): the series'
 * metadata, then slices [start, start + count) of it (readSeriesPixels with a slab), or the whole
 * series with count 0. Prints {"ms": ..., "slices": ..., "retrieval": ...}.
 *   node region-read-driver.mjs ROOT AUTHORIZATION STUDY SERIES START COUNT
 */
import { readSeriesLayout, readSeriesPixels } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { createNodeHttpTransport } from '../../extensions/geometry-ldm/src/dicom/nodeHttpTransport';

const [root, authorization, study, series, start, count] = process.argv.slice(2);
// the CLI's transport (cli/pacs.ts)
const transport = createNodeHttpTransport({ root, headers: { Authorization: authorization } });
const t0 = performance.now();
const layout = await readSeriesLayout(transport, study, series);
const n = Number(count);
const r = await readSeriesPixels(
  transport,
  layout,
  n > 0 ? { slab: { start: Number(start), count: n } } : {},
);
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, slices: r.volume.dims[2], retrieval: r.retrieval }));
transport.close();
