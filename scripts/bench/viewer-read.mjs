// The panels' read of a series in the viewer page itself: Debian's chromium, the product server
// (platform-config/server.mjs: cross-origin isolation, /dicom-web proxied to Orthanc with the
// credentials it holds), and the panels' Pacs (panels/pacs.ts: the layout, then the pixels, over
// dicomweb-client's XHR, into the page memory). `npm run bench -- dicomweb` can only run that
// path's code in Node; this bench times the real one. The limit is the plain client (curl): the
// series metadata plus the whole series in one multipart request, straight from Orthanc and
// through the product server's proxy (what the page can get at best).
// GEOMETRY_LDM_BENCH_SERIES: comma list of series (default the two large native ones);
// GEOMETRY_LDM_BENCH_KINDS: comma list of the variants below (default all).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// asynchronous: the product server runs in this process, so a synchronous client would block it
import { timedCurl } from './support/curl.mjs';

const KINDS = [
  ['panel', "the panels' read (dicomweb-client XHR, page memory)"],
  ['panel-plain-volume', 'the same, plain Float32Array volume'],
  ['panel-frames-6', 'the same transport, frame by frame, 6 in flight, page memory'],
  ['panel-frames-16', 'the same transport, frame by frame, 16 in flight, page memory'],
  ['fetch', 'plain-fetch transport (a Pacs given fetch), page memory'],
];

export default {
  name: 'viewer-read',
  description: "the panels' series read in chromium through the product server, beside curl",
  async run(ctx) {
    const only = (process.env.GEOMETRY_LDM_BENCH_SERIES ?? 'lidc-idri-0001,lung-pet-ct-dx-a0001').split(',');
    const { module: m } = await ctx.bundle('scripts/bench/dicomweb-entry.ts');
    const { module: browser } = await ctx.bundle('test/support/browser.ts');
    const { startViewerServer } = await import(
      pathToFileURL(path.join(ctx.root, 'platform-config', 'server.mjs')).href
    );
    // a bare site for the product server: an index page that loads the bench page's bundle
    const site = mkdtempSync(path.join(ctx.tmpDir, 'viewer-read-'));
    const viewerDir = path.join(site, 'viewer');
    const bundlesDir = path.join(site, 'bundles');
    mkdirSync(viewerDir);
    mkdirSync(bundlesDir);
    writeFileSync(
      path.join(viewerDir, 'index.html'),
      '<!doctype html><html><head></head><body><script src="/geometry-ldm/bundles/page.js"></script></body></html>',
    );
    writeFileSync(path.join(bundlesDir, 'importmap.json'), '{"imports":{}}');
    writeFileSync(
      path.join(bundlesDir, 'page.js'),
      await browser.bundleForBrowser(path.join(ctx.root, 'scripts/bench/viewer-read-page.ts'), 'viewerRead', [
        'fs',
        'path',
      ]),
    );
    const orthanc = await m.startOrthanc();
    const rows = [];
    let server;
    let launched;
    try {
      server = await startViewerServer({
        viewerDir,
        bundlesDir,
        orthanc: { url: orthanc.url, authorization: orthanc.authorization },
      });
      launched = await browser.launchChromium();
      const page = await launched.browser.newPage();
      await page.goto(`${server.url}/`);
      if (!(await page.evaluate(() => globalThis.viewerRead.isolated())))
        throw new Error('the bench page is not cross-origin isolated');
      const transport = m.createNodeHttpTransport({
        root: orthanc.dicomWebRoot,
        headers: { Authorization: orthanc.authorization },
      });
      const runs = ctx.runs ?? 5;
      for (const name of m.ALL_REAL_SERIES) {
        if (!only.includes(name)) continue;
        const { instances } = m.importInstances(name);
        await m.stowInstances(transport, instances);
        const { studyInstanceUid: study, seriesInstanceUid: series } = instances[0];
        const rel = `studies/${study}/series/${series}`;
        const auth = ['-u', `${orthanc.user}:${orthanc.password}`];
        const whole = ['-H', 'Accept: multipart/related; type="application/dicom"; transfer-syntax=*'];
        const meta = ['-H', 'Accept: application/dicom+json'];
        const limits = {};
        for (const [via, rootUrl, creds] of [
          ['Orthanc', orthanc.dicomWebRoot, auth],
          ['the product server', `${server.url}/dicom-web`, []],
        ]) {
          const md = await ctx.time(
            () => timedCurl([...creds, ...meta, `${rootUrl}/${rel}/metadata`, '-o', '/dev/null']),
            { ownClock: true },
          );
          const px = await ctx.time(
            () => timedCurl([...creds, ...whole, `${rootUrl}/${rel}`, '-o', '/dev/null']),
            { ownClock: true },
          );
          const ms = md.medianMs + px.medianMs;
          limits[via] = ms;
          rows.push({
            case: `limit ${name}: curl via ${via}, metadata ${md.medianMs.toFixed(0)} + whole series ${px.medianMs.toFixed(0)} ms`,
            medianMs: ms,
            runsMs: md.runsMs.map((t, i) => t + px.runsMs[i]),
          });
          ctx.log(`${name}: limit via ${via} ${ms.toFixed(0)} ms`);
        }
        const checksums = new Set();
        const kinds = process.env.GEOMETRY_LDM_BENCH_KINDS?.split(',');
        for (const [kind, label] of KINDS) {
          if (kinds && !kinds.includes(kind)) continue;
          const reads = [];
          for (let n = 0; n <= runs; n++) {
            const r = await page.evaluate(
              ({ kind, study, series }) => globalThis.viewerRead.timeRead(kind, study, series),
              {
                kind,
                study,
                series,
              },
            );
            checksums.add(r.checksum);
            if (n > 0) reads.push(r); // the first is a warm-up
          }
          const medianMs = ctx.median(reads.map((r) => r.totalMs));
          const mb = reads[0].bytesReceived / 1e6;
          const row = {
            case: `read ${name}: ${label} (${reads[0].retrieval})`,
            medianMs,
            runsMs: reads.map((r) => r.totalMs),
            layoutMs: ctx.median(reads.map((r) => r.layoutMs)),
            pixelsMs: ctx.median(reads.map((r) => r.pixelsMs)),
            mbPerS: +(mb / (medianMs / 1000)).toFixed(1),
            ratioToLimit: +(medianMs / limits.Orthanc).toFixed(2),
            ratioToProxiedLimit: +(medianMs / limits['the product server']).toFixed(2),
          };
          rows.push(row);
          ctx.log(
            `${row.case}: ${medianMs.toFixed(0)} ms (layout ${row.layoutMs.toFixed(0)}, pixels ${row.pixelsMs.toFixed(0)}), ` +
              `${row.mbPerS} MB/s, ${row.ratioToLimit}x the limit, ${row.ratioToProxiedLimit}x through the proxy`,
          );
        }
        // every variant must have read the same voxels
        if (checksums.size !== 1) throw new Error(`${name}: the variants read different volumes`);
      }
    } finally {
      await launched?.close();
      await server?.close();
      await orthanc.stop();
    }
    return rows;
  },
};
