// DICOMweb read and write throughput on loopback (extensions/geometry-ldm/src/dicom):
// a private Orthanc 1.10 + DICOMweb plugin (authentication on, temp storage),
// the real series of ../shared/data uploaded once (UIDs repaired for totalseg).
//
// Cases per series:
//   read:  readSeries (WADO-RS metadata + every frame with transfer-syntax=*,
//          client decode incl. JPEG 2000, HU Float32 volume); MB = frame bytes received.
//   write: stowInstances of the series' Part 10 files under new UIDs (STOW-RS
//          batches + response parsing + final QIDO check); MB = Part 10 bytes sent.
// Both report MB/s (10^6 bytes) and instances/s from the median run.
import { createRequire } from 'node:module';
import path from 'node:path';

const WRITE_RUNS = 3;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export default {
  name: 'dicomweb',
  description:
    'DICOMweb read (WADO-RS -> HU volume) and write (STOW-RS + QIDO check) throughput, Orthanc on loopback',
  async run(ctx) {
    const { module: m } = await ctx.bundle('scripts/bench/dicomweb-entry.ts');
    // Codec factories loaded natively (their wasm sits next to their script).
    const req = createRequire(path.join(ctx.root, 'extensions', 'geometry-ldm', 'package.json'));
    const codecs = m.codecs(
      req('@cornerstonejs/codec-openjpeg/decodewasmjs'),
      req('@cornerstonejs/codec-charls/decodewasmjs'),
    );
    const orthanc = await m.startOrthanc();
    const rows = [];
    try {
      const transport = m.orthancTransport(orthanc);
      for (const name of m.ALL_REAL_SERIES) {
        const { instances } = m.importInstances(name);
        await m.stowInstances(transport, instances);
        const { studyInstanceUid: study, seriesInstanceUid: series } = instances[0];
        const n = instances.length;
        // read (a tilted, irregular series is resampled: reading includes that step)
        const irregular = name === 'ge-head-gantry-tilt' ? 'resample' : 'error';
        let bytes = 0;
        let ts = '';
        const read = await ctx.time(async () => {
          const r = await m.readSeries(transport, study, series, { codecs, irregular });
          bytes = r.bytesReceived;
          ts = r.transferSyntaxUids.join(',');
        });
        rows.push({
          case: `read ${name}`,
          ...read,
          instances: n,
          mb: +(bytes / 1e6).toFixed(2),
          mbPerS: +(bytes / 1e6 / (read.medianMs / 1000)).toFixed(1),
          instancesPerS: +(n / (read.medianMs / 1000)).toFixed(1),
          transferSyntax: ts,
        });
        ctx.log(`read ${name}: ${rows.at(-1).mbPerS} MB/s, ${rows.at(-1).instancesPerS} instances/s`);
        // write: fresh UIDs per run (Orthanc keeps the first copy of a duplicate UID)
        const sent = instances.reduce((s, i) => s + i.bytes.length, 0);
        const runsMs = [];
        for (let r = 0; r < WRITE_RUNS + 1; r++) {
          const fresh = m.withNewUids(instances);
          const t0 = performance.now();
          await m.stowInstances(transport, fresh);
          if (r > 0) runsMs.push(performance.now() - t0); // first run is the warm-up
        }
        const med = median(runsMs);
        rows.push({
          case: `write ${name}`,
          medianMs: med,
          runsMs,
          instances: n,
          mb: +(sent / 1e6).toFixed(2),
          mbPerS: +(sent / 1e6 / (med / 1000)).toFixed(1),
          instancesPerS: +(n / (med / 1000)).toFixed(1),
        });
        ctx.log(`write ${name}: ${rows.at(-1).mbPerS} MB/s, ${rows.at(-1).instancesPerS} instances/s`);
      }
    } finally {
      await orthanc.stop();
    }
    return rows;
  },
};
