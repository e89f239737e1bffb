// The HU volume's memory in the viewer page (extensions/geometry-ldm/src/dicom/
// browserVolumeMemory.ts) in Debian's chromium: allocating and writing a volume the way
// readSeries does (one slice at a time, int16 to HU float), in a plain Float32Array against
// shared memory whose pages a Web Worker faults in meanwhile. This is the part of a read that the
// page memory changes; on these virtual machines the first write to fresh memory is slow (see
// BENCHMARKS.md, DICOMweb read). A real read also overlaps the helper with the network wait,
// which this bench leaves out (conservative).
// GEOMETRY_LDM_BENCH_VOLUMES: comma list of nx x ny x nz (default the two large series' grids).
import http from 'node:http';
import path from 'node:path';

export default {
  name: 'volume-memory',
  description: 'HU volume allocation + writing in chromium: plain Float32Array vs the page memory',
  async run(ctx) {
    const grids = (process.env.GEOMETRY_LDM_BENCH_VOLUMES ?? '512x512x133,512x512x64')
      .split(',')
      .map((g) => g.split('x').map(Number));
    // Debian's chromium with the project's flags, and the page bundled as the browser tests do
    const { module: browser } = await ctx.bundle('test/support/browser.ts');
    const js = await browser.bundleForBrowser(
      path.join(ctx.root, 'scripts/bench/volume-memory-page.ts'),
      'volumeBench',
    );
    const server = http.createServer((req, res) => {
      res.writeHead(200, {
        'Content-Type': req.url === '/page.js' ? 'text/javascript' : 'text/html',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cross-Origin-Resource-Policy': 'same-origin',
      });
      res.end(req.url === '/page.js' ? js : '<!doctype html><script src="/page.js"></script>');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const launched = await browser.launchChromium();
    const rows = [];
    try {
      const page = await launched.browser.newPage();
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      if (!(await page.evaluate(() => globalThis.volumeBench.isolated())))
        throw new Error('the bench page is not cross-origin isolated');
      for (const [nx, ny, nz] of grids) {
        const mb = (nx * ny * nz * 4) / 1e6;
        const medians = {};
        for (const kind of ['plain', 'page']) {
          const runsMs = [];
          const runs = ctx.runs ?? 5;
          for (let n = 0; n <= runs; n++) {
            const ms = await page.evaluate(
              async ({ kind, nx, ny, nz }) => {
                const ms = globalThis.volumeBench.timeVolume(kind, nx, ny, nz);
                await globalThis.volumeBench.idle();
                return ms;
              },
              { kind, nx, ny, nz },
            );
            if (n > 0) runsMs.push(ms); // the first is a warm-up
          }
          const medianMs = ctx.median(runsMs);
          medians[kind] = medianMs;
          rows.push({
            case: `${nx}x${ny}x${nz} (${mb.toFixed(0)} MB): ${kind === 'plain' ? 'plain Float32Array' : 'page memory (Web Worker faults pages)'}`,
            medianMs,
            runsMs,
            ...(kind === 'page' ? { speedup: medians.plain / medianMs } : {}),
          });
        }
        ctx.log(
          `${nx}x${ny}x${nz}: plain ${medians.plain.toFixed(0)} ms, page memory ${medians.page.toFixed(0)} ms (${(medians.plain / medians.page).toFixed(2)}x)`,
        );
      }
    } finally {
      await launched.close();
      server.close();
    }
    return rows;
  },
};
