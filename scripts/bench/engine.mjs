// Inference engine benchmarks (extensions/geometry-ldm/src/inference) on the
// demo model (GEOMETRY_LDM_BENCH_MODEL, default models/geometry-ldm-demo):
//  1. per-call time of encoder, decoder and UNet at three paper-like grids
//     (96x96x104, 192x192x208, 272x272x288; UNet at the latent grid), on
//     onnxruntime-node (2 threads) and onnxruntime-web wasm in Node (1 and 2 threads);
//  2. whole-pipeline time and the share spent outside model calls
//     (generation 96x96x104 DDIM 10; super-resolution 52x52x56 -> 104x104x112, 2 samples x 2 cycles x 5 steps);
//  3. peak memory (max RSS of a fresh process) of a 104x104x112 -> 272x272x288
//     super-resolution with tiling.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const GRIDS = [
  [96, 96, 104],
  [192, 192, 208],
  [272, 272, 288],
];

function phantom(m, dims) {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const r = Math.hypot((i - nx / 2) / nx, (j - ny / 2) / ny);
        data[(k * ny + j) * nx + i] = r < 0.4 ? 40 + 30 * Math.sin(i / 5) * Math.cos(k / 7) : -1000;
      }
  return data;
}

export default {
  name: 'engine',
  description: 'encoder/decoder/UNet per call, pipeline overhead, peak memory (demo model)',
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const { module: E, file } = await ctx.bundle('scripts/bench/engine-entry.ts');
    const rows = [];
    const backends = [
      ['node', 2],
      ['web-wasm', 1],
      ['web-wasm', 2],
    ];
    const perCall = {};
    for (const [backend, threads] of backends) {
      const model = await E.load(dir, backend, threads, ctx.root);
      for (const dims of GRIDS) {
        const label = `${backend}-${threads}t ${dims.join('x')}`;
        const n = dims[0] * dims[1] * dims[2];
        const L = dims.map((d) => d / 8);
        const nl = L[0] * L[1] * L[2];
        const image = new Float32Array(n).fill(0.3);
        const coords = E.coordinateChannels(dims, [
          1 / dims[0],
          0,
          0,
          0,
          0,
          1 / dims[1],
          0,
          0,
          0,
          0,
          1 / dims[2],
          0,
          0,
          0,
          0,
          1,
        ]);
        const lc = E.latentConditioning(dims, [
          1 / dims[0],
          0,
          0,
          0,
          0,
          1 / dims[1],
          0,
          0,
          0,
          0,
          1 / dims[2],
          0,
          0,
          0,
          0,
          1,
        ]);
        const z = new Float32Array(8 * nl).map((_, q) => Math.sin(q));
        const big = n > 200 ** 3;
        const opts = { runs: big ? 1 : 3, warmup: big ? 0 : 1 };
        for (const [part, fn] of [
          ['unet', () => E.predictNoise(model, z, 500, lc, L, 1)],
          ['encoder', () => E.encode(model, image, coords, dims)],
          ['decoder', () => E.decode(model, z, L, 1)],
        ]) {
          try {
            const t = await ctx.time(fn, opts);
            perCall[`${backend}-${threads}|${dims.join('x')}|${part}`] = t.medianMs;
            rows.push({ case: `${label} ${part}`, ...t });
          } catch (e) {
            rows.push({
              case: `${label} ${part}`,
              medianMs: NaN,
              runsMs: [],
              error: String(e.message ?? e).slice(0, 120),
            });
          }
        }
      }
      await model.release();
    }
    // ratios web/node for the same grid and part
    for (const key of Object.keys(perCall).filter((k) => k.startsWith('node-2|'))) {
      const [, grid, part] = key.split('|');
      for (const t of [1, 2]) {
        const w = perCall[`web-wasm-${t}|${grid}|${part}`];
        if (w)
          rows.push({
            case: `ratio web-wasm-${t}t / node-2t ${grid} ${part}`,
            medianMs: NaN,
            runsMs: [],
            ratio: +(w / perCall[key]).toFixed(2),
          });
      }
    }

    // Pipeline overhead (node, 2 threads).
    const model = await E.load(dir, 'node', 2, ctx.root);
    model.resetModelMs();
    let t0 = performance.now();
    await E.generate(model, {
      geometry: { kind: 'fov', dims: [96, 96, 104] },
      seed: 1,
      sampler: { kind: 'ddim', steps: 10 },
    });
    let total = performance.now() - t0;
    rows.push({
      case: 'pipeline generate 96x96x104 ddim10 (node-2t)',
      medianMs: total,
      runsMs: [total],
      outsideModelShare: +(1 - model.modelMs() / total).toFixed(4),
    });
    const src = E.makeVolume(
      [52, 52, 56],
      [6.6, 0, 0, -170, 0, 6.6, 0, -170, 0, 0, 7, -300, 0, 0, 0, 1],
      phantom(model, [52, 52, 56]),
      'HU',
    );
    model.resetModelMs();
    t0 = performance.now();
    await E.superResolve(
      model,
      src,
      { kind: 'scale', factor: 2 },
      { samples: 2, cycles: 2, ddimSteps: 5, tStart: 100 },
    );
    total = performance.now() - t0;
    rows.push({
      case: 'pipeline super-resolve 52x52x56 -> 104x104x112 (2 samples x 2 cycles x 5 steps, node-2t)',
      medianMs: total,
      runsMs: [total],
      outsideModelShare: +(1 - model.modelMs() / total).toFixed(4),
    });
    await model.release();

    // Peak memory of a tiled 272x272x288 super-resolution, in a fresh process.
    const script = `
      const E = await import(${JSON.stringify('file://' + file)});
      const dims = [104, 104, 112];
      const data = new Float32Array(104 * 104 * 112).fill(-500);
      const src = E.makeVolume(dims, [3.3, 0, 0, -170, 0, 3.3, 0, -170, 0, 0, 3.5, -300, 0, 0, 0, 1], data, 'HU');
      const model = await E.load(${JSON.stringify(dir)}, 'node', 2, ${JSON.stringify(ctx.root)});
      const t0 = performance.now();
      const r = await E.superResolve(model, src, { kind: 'grid', grid: { dims: [272, 272, 288], affine: [3.3 * 104 / 272, 0, 0, -170 - 1.65 + 3.3 * 104 / 544, 0, 3.3 * 104 / 272, 0, -170 - 1.65 + 3.3 * 104 / 544, 0, 0, 3.5 * 112 / 288, -300 - 1.75 + 3.5 * 112 / 576, 0, 0, 0, 1] } },
        { samples: 1, cycles: 1, ddimSteps: 2, tiling: { maxImageVoxelsPerCall: 128 * 128 * 128, overlapLatent: 4 } });
      console.log(JSON.stringify({ ms: performance.now() - t0, maxRssKiB: process.resourceUsage().maxRSS, dims: r.mean.dims }));
    `;
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (p.status === 0) {
      const res = JSON.parse(p.stdout.trim().split('\n').pop());
      rows.push({
        case: 'peak memory: super-resolve 104x104x112 -> 272x272x288, tiled (128^3 voxels per call)',
        medianMs: res.ms,
        runsMs: [res.ms],
        maxRssMiB: Math.round(res.maxRssKiB / 1024),
      });
    } else {
      rows.push({
        case: 'peak memory: tiled 272x272x288 super-resolution',
        medianMs: NaN,
        runsMs: [],
        error: p.stderr.slice(-300),
      });
    }
    return rows;
  },
};
