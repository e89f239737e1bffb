// DICOMweb read, decode and write throughput on loopback (extensions/geometry-ldm/src/dicom),
// each beside the physical limit on the same machine and data: what the PACS itself serves to
// a plain HTTP client (curl, no decoding). A private Orthanc 1.10 + DICOMweb plugin
// (authentication on, temp storage), the real series of ../shared/data uploaded once (UIDs
// repaired for totalseg).
//
// Per series:
//   limit   curl: every frame (WADO-RS frames/1, transfer-syntax=*, 1/4/8 in parallel) and the
//           whole series in one request (multipart application/dicom), and the series metadata
//           (JSON); the limit is metadata + the faster pixel form (the product needs both).
//   read    readSeries (metadata + pixel data + client decode + HU Float32 volume) on the CLI's
//           transport (node:http): the default (series-level request in flight with the metadata
//           request), metadata then pixels (the CLI's layout-then-pixels path), the fetch
//           transport (the browser's, here in Node), the viewer page's path (metadata, then
//           pixels, over fetch, with a plain volume and with the page memory's second thread),
//           and per-frame requests at 4 / 8 / 16 in flight; ratio = product time / limit time.
//           A bound beside them: the CLI's read into a volume whose memory was touched before
//           (reused from read to read), i.e. the read without the first touch of fresh memory.
//   decode  compressed series: readSeries with frames decoded in this thread vs by the worker
//           pool (one worker per core), and the decode alone (no network) both ways.
//   write   stowInstances of the Part 10 files under new UIDs (batches, response parsing, final
//           QIDO check): the default (16 instances per request, 2 in flight) and other
//           settings, beside curl POSTing the same instances (one request; two halves at once).
// GEOMETRY_LDM_BENCH_SERIES (comma list of series names) limits the series;
// GEOMETRY_LDM_BENCH_DICOMWEB=read skips the writes.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { curl, timedCurl } from './support/curl.mjs';

const WRITE_RUNS = 3;
const READ_CONCURRENCY = [4, 8, 16];
const CURL_PARALLEL = [1, 4, 8];
const WRITE_CASES = [
  { name: 'default (16 per request, 2 in flight)', options: {} },
  { name: '16 per request, 1 in flight', options: { concurrency: 1 } },
  { name: '64 per request, 1 in flight (before)', options: { maxBatchInstances: 64, concurrency: 1 } },
  { name: '16 per request, 4 in flight', options: { concurrency: 4 } },
];

export default {
  name: 'dicomweb',
  description: 'DICOMweb read / decode / write beside the plain-client limit (curl), Orthanc on loopback',
  async run(ctx) {
    const { module: m } = await ctx.bundle('scripts/bench/dicomweb-entry.ts');
    const req = createRequire(path.join(ctx.root, 'extensions', 'geometry-ldm', 'package.json'));
    const inPlace = m.codecs(
      req('@cornerstonejs/codec-openjpeg/decodewasmjs'),
      req('@cornerstonejs/codec-charls/decodewasmjs'),
    );
    // the pool's worker, bundled as the CLI launcher does (packages external: each codec finds its wasm)
    const workerFile = path.join(ctx.tmpDir, 'decode-worker.cjs');
    await build({
      entryPoints: [path.join(ctx.root, 'extensions/geometry-ldm/src/dicom/nodeDecodeWorker.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      outfile: workerFile,
      logLevel: 'error',
    });
    const cores = availableParallelism();
    const pool = m.createNodeDecodePool(workerFile, cores);
    const pooled = m.pooledCodecs(pool, inPlace);
    const orthanc = await m.startOrthanc();
    const auth = `${orthanc.user}:${orthanc.password}`;
    const rows = [];
    const row = (r) => {
      rows.push(r);
      ctx.log(
        `${r.case}: ${r.medianMs.toFixed(0)} ms` +
          (r.mbPerS ? `, ${r.mbPerS} MB/s` : '') +
          (r.ratioToLimit ? `, ${r.ratioToLimit}x the limit` : '') +
          (r.speedup ? `, ${r.speedup}x in place` : ''),
      );
    };
    const headers = { Authorization: orthanc.authorization };
    // the CLI's transport (cli/pacs.ts) for reads and writes; the fetch transport beside it
    const transport = m.createNodeHttpTransport({ root: orthanc.dicomWebRoot, headers });
    const volumeMemory = m.createNodeVolumeMemory();
    const fetchTransport = m.createFetchTransport({ root: orthanc.dicomWebRoot, headers });
    // the same transport without the received chunks: readers get (and join) one buffer
    const joined = {
      abortable: true,
      request: async (req) => {
        const r = await transport.request(req);
        return { status: r.status, contentType: r.contentType, body: r.body };
      },
    };
    try {
      const only = process.env.GEOMETRY_LDM_BENCH_SERIES?.split(',');
      for (const name of m.ALL_REAL_SERIES) {
        if (only && !only.includes(name)) continue;
        const { instances } = m.importInstances(name);
        await m.stowInstances(transport, instances);
        const { studyInstanceUid: study, seriesInstanceUid: series } = instances[0];
        const n = instances.length;
        const root = orthanc.dicomWebRoot;
        const seriesUrl = `${root}/studies/${study}/series/${series}`;
        const frameUrls = instances.map((i) => `${seriesUrl}/instances/${i.sopInstanceUid}/frames/1`);
        const irregular = name === 'ge-head-gantry-tilt' ? 'resample' : 'error';
        let frameBytes = 0;
        let ts = '';
        let used = '';
        await m.readSeries(transport, study, series, { codecs: inPlace, irregular }).then((r) => {
          frameBytes = r.bytesReceived;
          ts = r.transferSyntaxUids.join(',');
        });
        const mb = frameBytes / 1e6;
        const base = { series: name, instances: n, mb: +mb.toFixed(2), transferSyntax: ts };
        const rate = (ms) => +(mb / (ms / 1000)).toFixed(1);

        // the plain client: no decoding, no JSON, no volume
        const frameAccept = 'Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*';
        const limits = [];
        for (const par of CURL_PARALLEL) {
          const args = ['-u', auth, '--parallel', '--parallel-max', String(par), '-H', frameAccept];
          for (const u of frameUrls) args.push(u, '-o', '/dev/null');
          const t = await ctx.time(() => timedCurl(args), { ownClock: true });
          limits.push({ case: `limit ${name}: curl, every frame, ${par} in parallel`, ...t });
        }
        const seriesArgs = [
          '-u',
          auth,
          '-H',
          'Accept: multipart/related; type="application/dicom"; transfer-syntax=*',
          seriesUrl,
          '-o',
          '/dev/null',
        ];
        const wholeBytes = Number(
          curl([...seriesArgs.slice(0, -2), '-o', '/dev/null', '-w', '%{size_download}']),
        );
        limits.push({
          case: `limit ${name}: curl, whole series in one request (${(wholeBytes / 1e6).toFixed(1)} MB of Part 10)`,
          ...(await ctx.time(() => timedCurl(seriesArgs), { ownClock: true })),
        });
        for (const l of limits) row({ ...base, ...l, mbPerS: rate(l.medianMs) });
        // the product needs the series' metadata too: the limit is metadata + the faster pixel form
        const metadata = await ctx.time(
          () =>
            timedCurl([
              '-u',
              auth,
              '-H',
              'Accept: application/dicom+json',
              `${seriesUrl}/metadata`,
              '-o',
              '/dev/null',
            ]),
          { ownClock: true },
        );
        row({ ...base, case: `limit ${name}: curl, series metadata (JSON)`, ...metadata });
        const limit = metadata.medianMs + Math.min(...limits.map((l) => l.medianMs));
        row({
          ...base,
          case: `limit ${name}: metadata + the faster pixel form`,
          medianMs: limit,
          runsMs: [limit],
          mbPerS: rate(limit),
        });
        const ratio = (ms) => +(ms / limit).toFixed(2);

        // the product's read
        const readCase = async (label, options, how = 'together', via = transport) => {
          const t = await ctx.time(async () => {
            const o = { codecs: inPlace, irregular, ...options };
            const r =
              how === 'together'
                ? await m.readSeries(via, study, series, o)
                : await m.readSeriesPixels(via, await m.readSeriesLayout(via, study, series, o), o);
            used = r.retrieval;
          });
          row({
            ...base,
            case: `read ${name}: ${label} (${used})`,
            ...t,
            mbPerS: rate(t.medianMs),
            ratioToLimit: ratio(t.medianMs),
          });
          return t;
        };
        await readCase('default', {});
        await readCase('default, volume pages faulted by a second thread (the CLI)', { volumeMemory });
        // the same read into one buffer reused from read to read (its pages touched once, before
        // the first): what the read costs apart from first-touching the volume's memory
        let touched = null;
        const reusedMemory = {
          allocate: (voxels) => {
            if (touched?.length !== voxels) touched = new Float32Array(voxels).fill(0);
            return { data: touched, written: () => undefined, release: () => undefined };
          },
        };
        await readCase('the CLI into memory already touched (a bound, not a product path)', {
          volumeMemory: reusedMemory,
        });
        // before 2026-12-04 23:00 every answer was joined into one buffer before it was parsed
        await readCase(
          'the CLI with the answer joined into one buffer first (before)',
          { volumeMemory },
          'together',
          joined,
        );
        await readCase('metadata, then pixels', {}, 'sequential');
        await readCase('fetch transport', {}, 'together', fetchTransport);
        // the panels' path: metadata, then pixels, over fetch-like requests; since 2026-12-05 the
        // page's volume pages are faulted in by a Web Worker (the same helper as the CLI's)
        await readCase(
          'the viewer page: metadata, then pixels, fetch, plain volume (before)',
          {},
          'sequential',
          fetchTransport,
        );
        await readCase(
          'the viewer page: metadata, then pixels, fetch, volume pages faulted by a second thread',
          { volumeMemory },
          'sequential',
          fetchTransport,
        );
        for (const c of READ_CONCURRENCY)
          await readCase(`per frame, ${c} in flight`, { retrieval: 'frames', concurrency: c });

        // compressed: decoding in this thread vs on the pool
        if (
          !ts
            .split(',')
            .every((x) => ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'].includes(x))
        ) {
          const one = await ctx.time(() =>
            m.readSeries(transport, study, series, { codecs: inPlace, irregular }),
          );
          const many = await ctx.time(() =>
            m.readSeries(transport, study, series, { codecs: pooled, irregular, concurrency: 2 * cores }),
          );
          row({
            ...base,
            case: `read ${name}: default, decoded in this thread`,
            ...one,
            mbPerS: rate(one.medianMs),
            ratioToLimit: ratio(one.medianMs),
          });
          row({
            ...base,
            case: `read ${name}: default, decoded by ${cores} workers`,
            ...many,
            mbPerS: rate(many.medianMs),
            ratioToLimit: ratio(many.medianMs),
            speedup: +(one.medianMs / many.medianMs).toFixed(2),
          });
          const frames = m.storedFrames(name);
          const d1 = await ctx.time(() => m.decodeAll(frames, inPlace, 1));
          const dn = await ctx.time(() => m.decodeAll(frames, pooled, 2 * cores));
          row({
            ...base,
            case: `decode ${name}: ${frames.length} frames in this thread`,
            ...d1,
            mbPerS: rate(d1.medianMs),
            framesPerS: +(frames.length / (d1.medianMs / 1000)).toFixed(1),
          });
          row({
            ...base,
            case: `decode ${name}: ${frames.length} frames by ${cores} workers`,
            ...dn,
            mbPerS: rate(dn.medianMs),
            framesPerS: +(frames.length / (dn.medianMs / 1000)).toFixed(1),
            speedup: +(d1.medianMs / dn.medianMs).toFixed(2),
          });
        }

        if (process.env.GEOMETRY_LDM_BENCH_DICOMWEB === 'read') continue;
        // write: the plain client first (one request of everything; two halves at once)
        const sent = instances.reduce((s, i) => s + i.bytes.length, 0);
        const wmb = sent / 1e6;
        const body = (list) => {
          const { body: b, contentType } = m.buildMultipart(
            list.map((i) => i.bytes),
            'application/dicom',
          );
          return { b, contentType };
        };
        const post = (file, contentType) => [
          '-H',
          'Expect:', // no 100-continue wait (curl pauses up to 1 s for it on large bodies)
          '-u',
          auth,
          '-X',
          'POST',
          '-H',
          `Content-Type: ${contentType}`,
          '-H',
          'Accept: application/dicom+json',
          '--data-binary',
          `@${file}`,
          `${root}/studies`,
          '-o',
          '/dev/null',
        ];
        // ownClock: go resolves to its own duration (curl timed where it runs: support/curl.mjs)
        const writeRuns = async (prepare, go, ownClock = false) => {
          const ms = [];
          for (let r = 0; r < WRITE_RUNS + 1; r++) {
            const p = prepare();
            const t0 = performance.now();
            const own = await go(p);
            const wall = performance.now() - t0;
            if (r > 0) ms.push(ownClock ? own : wall); // the first run is the warm-up
          }
          return { medianMs: ctx.median(ms), runsMs: ms };
        };
        const wlimits = [];
        wlimits.push({
          case: `write limit ${name}: curl, one POST of every instance`,
          ...(await writeRuns(
            () => {
              const { b, contentType } = body(m.withNewUids(instances));
              const f = path.join(ctx.tmpDir, 'stow-all');
              writeFileSync(f, b);
              return { f, contentType };
            },
            ({ f, contentType }) => timedCurl(post(f, contentType)),
            true,
          )),
        });
        wlimits.push({
          case: `write limit ${name}: curl, two POSTs of half at once`,
          ...(await writeRuns(
            () => {
              const fresh = m.withNewUids(instances);
              return [0, 1].map((h) => {
                const { b, contentType } = body(fresh.filter((_, i) => i % 2 === h));
                const f = path.join(ctx.tmpDir, `stow-half-${h}`);
                writeFileSync(f, b);
                return { f, contentType };
              });
            },
            // one curl, both POSTs in parallel (-Z), timed where it runs
            (halves) =>
              timedCurl([
                '-Z',
                ...halves.flatMap(({ f, contentType }, i) => [
                  ...(i > 0 ? ['--next', '--fail'] : []),
                  ...post(f, contentType),
                ]),
              ]),
            true,
          )),
        });
        const wrate = (ms) => +(wmb / (ms / 1000)).toFixed(1);
        for (const l of wlimits)
          row({ series: name, instances: n, mb: +wmb.toFixed(2), ...l, mbPerS: wrate(l.medianMs) });
        const wlimit = Math.min(...wlimits.map((l) => l.medianMs));
        for (const w of WRITE_CASES) {
          const t = await writeRuns(
            () => m.withNewUids(instances),
            (fresh) => m.stowInstances(transport, fresh, w.options),
          );
          row({
            series: name,
            instances: n,
            mb: +wmb.toFixed(2),
            case: `write ${name}: ${w.name}`,
            ...t,
            mbPerS: wrate(t.medianMs),
            ratioToLimit: +(t.medianMs / wlimit).toFixed(2),
          });
        }
      }
    } finally {
      pool.close();
      volumeMemory.close();
      transport.close();
      await orthanc.stop();
    }
    try {
      rows.push({
        case: 'environment',
        medianMs: 0,
        runsMs: [0],
        curl: execFileSync('curl', ['--version']).toString().split('\n')[0],
        cores,
      });
    } catch {
      // curl --version is informational
    }
    return rows;
  },
};
