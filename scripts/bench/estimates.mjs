// The panels' time estimates against real runs (issue: estimates within 2x of the real time
// on the machine they were measured on). For each thread count, in a fresh Node process on
// onnxruntime-web wasm (scripts/bench/estimates-entry.ts): the panels' calibration, timed,
// then job shapes of every mode, each with the panels' estimate from that calibration, the
// real run's time and how the live ETA behaved.
// Environment:
//   GEOMETRY_LDM_BENCH_THREADS  comma list of wasm thread counts (default 2)
//   GEOMETRY_LDM_BENCH_MODEL    model directory (default models/geometry-ldm-demo)
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SHAPES = [
  {
    kind: 'super-resolve',
    label: 'AI (default), 2 samples: 128x128x16 at 0.8x0.8x5 mm, x4 slices -> 128x128x64',
    dims: [128, 128, 16],
    spacingMm: [0.8, 0.8, 5],
    target: { kind: 'scale', factors: [1, 1, 4] },
    settings: { mode: 'ai' },
  },
  {
    kind: 'super-resolve',
    label: 'AI, 2 samples: 96x96x24 at 1.6x1.6x3 mm, x2 every axis -> 192x192x48',
    dims: [96, 96, 24],
    spacingMm: [1.6, 1.6, 3],
    target: { kind: 'scale', factors: [2, 2, 2] },
    settings: { mode: 'ai' },
  },
  {
    kind: 'super-resolve',
    label: 'AI, 4 samples: 96x96x12 at 1x1x5 mm, x4 slices -> 96x96x48',
    dims: [96, 96, 12],
    spacingMm: [1, 1, 5],
    target: { kind: 'scale', factors: [1, 1, 4] },
    settings: { mode: 'ai', samples: 4 },
  },
  {
    kind: 'super-resolve',
    label: 'AI, 1 sample, overlapping slices (5 mm thick every 2.5 mm, Gaussian): 160x160x20, x2 slices',
    dims: [160, 160, 20],
    spacingMm: [1, 1, 2.5],
    thicknessMm: 5,
    target: { kind: 'scale', factors: [1, 1, 2] },
    settings: { mode: 'ai', samples: 1 },
  },
  {
    kind: 'super-resolve',
    label: 'classical: 256x256x40 at 0.8x0.8x5 mm, x4 slices -> 256x256x160',
    dims: [256, 256, 40],
    spacingMm: [0.8, 0.8, 5],
    target: { kind: 'scale', factors: [1, 1, 4] },
    settings: { mode: 'classical', samples: 1 },
  },
  {
    kind: 'super-resolve',
    label: 'latent diffusion, 2 samples x 1 cycle x 5 steps: 64x64x16 at 1x1x4 mm, x4 slices -> 64x64x64',
    dims: [64, 64, 16],
    spacingMm: [1, 1, 4],
    target: { kind: 'scale', factors: [1, 1, 4] },
    settings: { mode: 'diffusion', samples: 2, cycles: 1, ddimSteps: 5 },
  },
  {
    kind: 'generate',
    label: 'generate 64x64x64, 1 sample, 20 steps',
    dims: [64, 64, 64],
    steps: 20,
    samples: 1,
  },
  {
    kind: 'generate',
    label: 'generate 96x96x96, 2 samples, 10 steps',
    dims: [96, 96, 96],
    steps: 10,
    samples: 2,
  },
];

const RUNNER = `
import { readFileSync } from 'node:fs';
const E = await import(process.argv[2]);
const task = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const result = await E.runTask(task);
console.log('RESULT ' + JSON.stringify(result));
`;

const fmt = (s) => (s === null || s === undefined ? '-' : s < 10 ? s.toFixed(2) : s.toFixed(1));

export default {
  name: 'estimates',
  description: "the panels' time estimates (after their calibration) against real runs, wasm",
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const threads = (process.env.GEOMETRY_LDM_BENCH_THREADS ?? '2').split(',').map(Number);
    const bundle = await ctx.bundleFile('scripts/bench/estimates-entry.ts');
    const runner = path.join(ctx.tmpDir, 'estimates-runner.mjs');
    writeFileSync(runner, RUNNER);
    const rows = [];
    for (const t of threads) {
      const taskFile = path.join(ctx.tmpDir, `estimates-${t}.json`);
      writeFileSync(taskFile, JSON.stringify({ dir, root: ctx.root, threads: t, shapes: SHAPES }));
      const p = spawnSync(process.execPath, [runner, pathToFileURL(bundle).href, taskFile], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      const line = (p.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
      if (p.status !== 0 || !line)
        throw new Error(`wasm ${t} threads: ${(p.stderr || p.stdout).slice(-800)}`);
      const r = JSON.parse(line.slice('RESULT '.length));
      ctx.log(
        `wasm ${t} thread(s): calibration ${r.calibrationSeconds.toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`,
      );
      ctx.log(`calibration: ${JSON.stringify(r.calibration)}`);
      for (const s of r.shapes) {
        ctx.log(
          `${s.label}: estimate ${fmt(s.estimateSeconds)} s, actual ${fmt(s.actualSeconds)} s, ratio ${fmt(s.ratio)}, ` +
            `ETA/true ${s.etaRatioRange ? s.etaRatioRange.map((v) => v.toFixed(2)).join('-') : '-'}, ` +
            `largest ETA jump ${s.etaMaxJump ? s.etaMaxJump.toFixed(2) : '-'}x`,
        );
        rows.push({
          case: `wasm ${t}t: ${s.label}`,
          medianMs: s.actualSeconds * 1000,
          runsMs: [s.actualSeconds * 1000],
          threads: t,
          calibrationSeconds: r.calibrationSeconds,
          ...s,
        });
      }
      rows.push({
        case: `wasm ${t}t: calibration`,
        medianMs: r.calibrationSeconds * 1000,
        runsMs: [r.calibrationSeconds * 1000],
        calibration: r.calibration,
      });
    }
    return rows;
  },
};
