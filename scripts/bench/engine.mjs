// Inference engine benchmarks (extensions/geometry-ldm/src/inference) on the
// demo model (GEOMETRY_LDM_BENCH_MODEL, default models/geometry-ldm-demo).
// Every task runs in a fresh Node process (onnxruntime-web fixes its wasm
// thread count when its module loads; max RSS needs a clean process):
//  1. per-call: one encoder, decoder and UNet call (whole volume, untiled; the
//     UNet at the latent grid) at three paper-like grids, on onnxruntime-node
//     (1 and 2 threads) and onnxruntime-web wasm in Node through the engine's
//     webRuntime (1 and 2 threads), with ratios web / node at equal threads;
//  2. pipelines: whole generate / super-resolve calls on onnxruntime-node
//     (2 threads) and their share of wall time spent outside model calls
//     (each run twice in one process: the first, cold, and the second, warm);
//     super-resolution in the latent-diffusion mode, the default 'ai' mode
//     (refiner + projection) and the classical mode (projection only);
//  3. memory: max RSS of a 136x136x144 -> 272x272x288 super-resolution with
//     the tiling the browser worker uses on wasm, on both runtimes;
//  4. memory-ai: the same grid in the default 'ai' mode (refiner + projection,
//     2 samples): time, share outside model calls and max RSS, both runtimes.
// Environment:
//   GEOMETRY_LDM_BENCH_ENGINE  comma list of per-call,pipelines,memory,memory-ai (default all)
//   GEOMETRY_LDM_BENCH_GRIDS   JSON list of [nx,ny,nz] (default 96x96x104, 192x192x208, 272x272x288)
//   GEOMETRY_LDM_BENCH_BACKENDS comma list of node-1,node-2,web-wasm-1,web-wasm-2 (default all)
//   GEOMETRY_LDM_BENCH_SR_MEMORY JSON {samples, cycles, ddimSteps} for the memory run (default 2, 1, 2)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const DEFAULT_GRIDS = [
  [96, 96, 104],
  [192, 192, 208],
  [272, 272, 288],
];
const BACKENDS = {
  'node-1': ['node', 1],
  'node-2': ['node', 2],
  'web-wasm-1': ['web-wasm', 1],
  'web-wasm-2': ['web-wasm', 2],
};

const RUNNER = `
import { readFileSync } from 'node:fs';
const E = await import(process.argv[2]);
const task = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const result = await E.runTask(task);
console.log('RESULT ' + JSON.stringify(result));
`;

function runChild(ctx, bundle, task, label) {
  const taskFile = path.join(ctx.tmpDir, `task-${label.replace(/[^a-z0-9]+/gi, '-')}.json`);
  const runner = path.join(ctx.tmpDir, 'engine-runner.mjs');
  if (!existsSync(runner)) writeFileSync(runner, RUNNER);
  writeFileSync(taskFile, JSON.stringify(task));
  const t0 = performance.now();
  const p = spawnSync(process.execPath, [runner, pathToFileURL(bundle).href, taskFile], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, OMP_NUM_THREADS: String(task.threads) },
  });
  const ms = performance.now() - t0;
  const line = (p.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (p.status !== 0 || !line) {
    const why = (p.stderr || p.stdout || `exit ${p.status} ${p.signal ?? ''}`)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' | ');
    ctx.log(`${label}: failed after ${(ms / 1000).toFixed(1)} s: ${why}`);
    return { error: why.slice(0, 300) };
  }
  // other jobs on the machine skew timings: say how busy it was
  ctx.log(`${label}: ${(ms / 1000).toFixed(1)} s (load average at the end: ${os.loadavg()[0].toFixed(1)})`);
  return { result: JSON.parse(line.slice('RESULT '.length)) };
}

export default {
  name: 'engine',
  description: 'encoder/decoder/UNet per call (ort-node vs ort-web wasm), pipeline overhead, peak memory',
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const model = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    ctx.log(`model ${model.name} ${model.version} (${dir})`);
    const parts = (process.env.GEOMETRY_LDM_BENCH_ENGINE ?? 'per-call,pipelines,memory,memory-ai').split(',');
    const grids = process.env.GEOMETRY_LDM_BENCH_GRIDS
      ? JSON.parse(process.env.GEOMETRY_LDM_BENCH_GRIDS)
      : DEFAULT_GRIDS;
    const backends = (process.env.GEOMETRY_LDM_BENCH_BACKENDS ?? Object.keys(BACKENDS).join(',')).split(',');
    const gridMax = [0, 1, 2].map((a) => Math.max(model.grid.max[a], ...grids.map((g) => g[a]), 288));
    const bundle = await ctx.bundleFile('scripts/bench/engine-entry.ts');
    const base = { dir, root: ctx.root, gridMax };
    const rows = [];

    if (parts.includes('per-call')) {
      const perCall = {};
      for (const key of backends) {
        const [backend, threads] = BACKENDS[key];
        const r = runChild(
          ctx,
          bundle,
          { ...base, backend, threads, kind: 'per-call', grids },
          `per-call ${key}`,
        );
        for (const c of r.result ?? []) {
          perCall[`${key}|${c.dims.join('x')}|${c.part}`] = c.medianMs;
          rows.push({
            case: `${key}t ${c.dims.join('x')} ${c.part}`,
            medianMs: c.medianMs,
            runsMs: c.runsMs,
            ...(c.error ? { error: c.error } : {}),
          });
        }
        if (r.error) rows.push({ case: `${key} per-call`, medianMs: NaN, runsMs: [], error: r.error });
      }
      // web / node at the same thread count
      for (const threads of [1, 2]) {
        for (const g of grids) {
          for (const part of ['encoder', 'decoder', 'unet']) {
            const w = perCall[`web-wasm-${threads}|${g.join('x')}|${part}`];
            const n = perCall[`node-${threads}|${g.join('x')}|${part}`];
            if (Number.isFinite(w) && Number.isFinite(n)) {
              const ratio = +(w / n).toFixed(2);
              rows.push({
                case: `ratio web-wasm/node ${threads}t ${g.join('x')} ${part} = ${ratio}`,
                medianMs: NaN,
                runsMs: [],
                ratio,
              });
            }
          }
        }
      }
    }

    if (parts.includes('pipelines')) {
      const r = runChild(
        ctx,
        bundle,
        { ...base, backend: 'node', threads: 2, kind: 'pipelines' },
        'pipelines node-2',
      );
      for (const p of r.result ?? []) {
        ctx.log(
          `${p.case}: ${(p.totalMs / 1000).toFixed(2)} s, ${p.modelCalls} model calls ${(p.modelMs / 1000).toFixed(2)} s, outside ${(100 * p.outsideShare).toFixed(1)}% (first run: ${(p.cold.totalMs / 1000).toFixed(2)} s, outside ${(100 * p.cold.outsideShare).toFixed(1)}%)`,
        );
        // the limit: the same model calls with no pipeline around them
        rows.push({
          case:
            p.modelCalls === 0
              ? `pipeline ${p.case} (node-2t, warm): no model calls, all of it JS array work`
              : `pipeline ${p.case} (node-2t, warm): limit (model calls alone) ${(p.modelMs / 1000).toFixed(2)} s, total ${(p.totalMs / p.modelMs).toFixed(3)}x the limit, outside model calls ${(100 * p.outsideShare).toFixed(1)}%`,
          medianMs: p.totalMs,
          runsMs: [p.totalMs],
          modelMs: +p.modelMs.toFixed(1),
          modelCalls: p.modelCalls,
          outsideModelShare: +p.outsideShare.toFixed(4),
          firstRunMs: +p.cold.totalMs.toFixed(1),
          firstRunOutsideModelShare: +p.cold.outsideShare.toFixed(4),
        });
      }
      if (r.error) rows.push({ case: 'pipelines', medianMs: NaN, runsMs: [], error: r.error });
    }

    const memoryRuns = [];
    if (parts.includes('memory')) {
      const settings = JSON.parse(
        process.env.GEOMETRY_LDM_BENCH_SR_MEMORY ?? '{"samples":2,"cycles":1,"ddimSteps":2}',
      );
      memoryRuns.push({
        kind: 'memory',
        settings,
        what: `tiled, ${settings.samples} samples x ${settings.cycles} cycles x ${settings.ddimSteps} DDIM steps`,
      });
    }
    if (parts.includes('memory-ai')) {
      // the default mode: refiner passes and projection, 2 samples
      memoryRuns.push({
        kind: 'memory-ai',
        settings: { samples: 2, cycles: 1, ddimSteps: 1 },
        what: 'default ai mode (refiner + projection), 2 samples',
      });
    }
    for (const run of memoryRuns) {
      for (const [backend, threads] of [
        ['node', 2],
        ['web-wasm', 2],
      ]) {
        const label = `${run.kind} ${backend}-${threads}t`;
        const r = runChild(
          ctx,
          bundle,
          { ...base, backend, threads, kind: run.kind, settings: run.settings },
          label,
        );
        const m = r.result;
        if (m)
          ctx.log(
            `${label}: ${(m.totalMs / 1000).toFixed(1)} s, model calls ${(m.modelMs / 1000).toFixed(1)} s, max RSS ${Math.round(m.maxRssMiB)} MiB (${Math.round(m.rssBeforeMiB)} MiB before the run)`,
          );
        const limit = m
          ? `limit (model calls alone) ${(m.modelMs / 1000).toFixed(1)} s, total ${(m.totalMs / m.modelMs).toFixed(3)}x the limit, outside model calls ${(100 * (1 - m.modelMs / m.totalMs)).toFixed(1)}%, `
          : '';
        rows.push({
          case: `super-resolve 136x136x144 -> 272x272x288 ${run.what} (${backend}-${threads}t): ${limit}peak RSS ${m ? Math.round(m.maxRssMiB) : '?'} MiB`,
          medianMs: m ? m.totalMs : NaN,
          runsMs: m ? [m.totalMs] : [],
          ...(m
            ? {
                maxRssMiB: Math.round(m.maxRssMiB),
                rssBeforeRunMiB: Math.round(m.rssBeforeMiB),
                modelMs: Math.round(m.modelMs),
                outsideModelShare: +(1 - m.modelMs / m.totalMs).toFixed(4),
                ...(run.kind === 'memory' ? { maxImageVoxelsPerCall: m.tiling.maxImageVoxelsPerCall } : {}),
                targetDims: m.targetDims,
              }
            : { error: r.error }),
        });
      }
    }
    return rows;
  },
};
