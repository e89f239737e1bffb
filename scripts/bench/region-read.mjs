// Reading only what a job needs: a region over `count` of a long series' slices reads those
// slices (readSeriesPixels with a slab: per-frame requests), the whole series one series-level
// request. Time and peak memory (max RSS of a fresh Node process per read, /usr/bin/time -v)
// against the region's size, for a 600-slice 512 x 512 series (lidc-idri-0001's slices repeated
// along the axis, 315 MB of pixel data) in a private Orthanc on loopback.
import { spawnSync } from 'node:child_process';

const SLICES = 600;
const REGIONS = [1, 16, 64, 128, 256, 512, 0]; // 0: the whole series
const RUNS = 3;

export default {
  name: 'region-read',
  description: 'region of a 600-slice series: read time and peak memory vs the number of slices read',
  async run(ctx) {
    const { module: E } = await ctx.bundle('scripts/bench/region-read-entry.ts');
    const driver = await ctx.bundleFile('scripts/bench/region-read-driver.ts');
    const orthanc = await E.startOrthanc();
    const rows = [];
    try {
      const instances = E.longSeries(SLICES);
      await E.stowInstances(E.orthancTransport(orthanc), instances, { verify: false });
      const { studyInstanceUid: study, seriesInstanceUid: series } = instances[0];
      for (const count of REGIONS) {
        const start = count > 0 ? Math.floor((SLICES - count) / 2) : 0;
        const ms = [];
        const rss = [];
        let info = null;
        for (let r = 0; r < RUNS + 1; r++) {
          const p = spawnSync(
            '/usr/bin/time',
            [
              '-v',
              process.execPath,
              driver,
              orthanc.dicomWebRoot,
              orthanc.authorization,
              study,
              series,
              String(start),
              String(count),
            ],
            { encoding: 'utf8', maxBuffer: 1 << 24 },
          );
          if (p.status !== 0) throw new Error(`read of ${count} slices failed: ${p.stderr.slice(-2000)}`);
          info = JSON.parse(p.stdout.trim().split('\n').pop());
          if (r === 0) continue; // warm-up (Orthanc's cache)
          ms.push(info.ms);
          rss.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(p.stderr)[1]) / 1024);
        }
        const slices = info.slices;
        const row = {
          case: `${slices} of ${SLICES} slices (${info.retrieval})`,
          medianMs: ctx.median(ms),
          runsMs: ms,
          slices,
          mb: +((slices * 512 * 512 * 2) / 1e6).toFixed(1),
          peakMiB: Math.round(ctx.median(rss)),
          volumeMiB: +((slices * 512 * 512 * 4) / 2 ** 20).toFixed(1),
        };
        rows.push(row);
        ctx.log(
          `${row.case}: ${row.medianMs.toFixed(0)} ms, peak ${row.peakMiB} MiB (volume ${row.volumeMiB} MiB)`,
        );
      }
    } finally {
      await orthanc.stop();
    }
    return rows;
  },
};
