// Trilinear resampling benchmark (extensions/geometry-ldm/src/volume/resample.ts):
// a 104x104x112 real-valued random volume upsampled onto the 272x272x288 grid
// that covers the same physical box (typical super-resolution target), median of 5.
//
// Cases: 1 thread via resample() (allocates the 85 MB output each run) and via
// resampleInto() (reused output); 2 threads: a warm worker_threads pool calling
// resampleRange on z-chunks of a SharedArrayBuffer output (pool start-up is
// reported separately); and an oblique target (general per-voxel path).
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const SRC_DIMS = [104, 104, 112];
const TGT_DIMS = [272, 272, 288];
const SRC_SPACING = [3.3, 3.3, 3.5]; // mm
const ORIGIN = [-171.6, -190.2, -612.0]; // LPS mm of source voxel (0, 0, 0)

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function geometry() {
  // prettier-ignore
  const sourceAffine = [
    SRC_SPACING[0], 0, 0, ORIGIN[0],
    0, SRC_SPACING[1], 0, ORIGIN[1],
    0, 0, SRC_SPACING[2], ORIGIN[2],
    0, 0, 0, 1,
  ];
  // Same physical box (voxel extents): spacing n_src * s / n_tgt, first centre half a target voxel inside the box.
  const ts = [0, 1, 2].map((a) => (SRC_DIMS[a] * SRC_SPACING[a]) / TGT_DIMS[a]);
  const to = [0, 1, 2].map((a) => ORIGIN[a] - SRC_SPACING[a] / 2 + ts[a] / 2);
  const targetAffine = [ts[0], 0, 0, to[0], 0, ts[1], 0, to[1], 0, 0, ts[2], to[2], 0, 0, 0, 1];
  return { sourceAffine, targetAffine, targetSpacing: ts };
}

/** Rotates the target about the box centre by `deg` about z (the general, per-voxel path). */
function obliqueAffine(targetAffine, deg) {
  const c = Math.cos((deg * Math.PI) / 180);
  const s = Math.sin((deg * Math.PI) / 180);
  const centre = [0, 1, 2].map(
    (a) => targetAffine[a * 4 + a] * ((TGT_DIMS[a] - 1) / 2) + targetAffine[a * 4 + 3],
  );
  const r = [
    [c, -s, 0],
    [s, c, 0],
    [0, 0, 1],
  ];
  const out = new Array(16).fill(0);
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) out[row * 4 + col] = r[row][col] * targetAffine[col * 4 + col];
    // R * (T0 - centre) + centre
    let t = centre[row];
    for (let k = 0; k < 3; k++) t += r[row][k] * (targetAffine[k * 4 + 3] - centre[k]);
    out[row * 4 + 3] = t;
  }
  out[15] = 1;
  return out;
}

const WORKER_SOURCE = (resamplePath) => `
import { parentPort } from 'node:worker_threads';
import { resampleRange } from ${JSON.stringify(resamplePath)};
parentPort!.on('message', (m: any) => {
  resampleRange(m.source, m.target, m.out, m.z0, m.z1, m.opts);
  parentPort!.postMessage(m.id);
});
`;

/** Minimal pool: z-chunks handed out dynamically to `threads` workers sharing one SharedArrayBuffer output. */
function startPool(file, threads) {
  const workers = Array.from({ length: threads }, () => new Worker(file));
  const ready = Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  return {
    ready,
    async run(source, target, out, opts, chunk) {
      const nz = target.dims[2];
      let next = 0;
      let id = 0;
      await Promise.all(
        workers.map(
          (w) =>
            new Promise((resolve, reject) => {
              const step = () => {
                if (next >= nz) {
                  w.off('message', step);
                  w.off('error', reject);
                  resolve();
                  return;
                }
                const z0 = next;
                next = Math.min(nz, next + chunk);
                w.postMessage({ id: id++, source, target, out, z0, z1: next, opts });
              };
              w.on('message', step);
              w.once('error', reject);
              step();
            }),
        ),
      );
      return out;
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

export default {
  name: 'resample',
  description: `trilinear ${SRC_DIMS.join('x')} -> ${TGT_DIMS.join('x')}, same physical box (volume/resample.ts)`,
  async run(ctx) {
    const resamplePath = path.join(ctx.root, 'extensions/geometry-ldm/src/volume/resample.ts');
    const { module: rs } = await ctx.bundle(resamplePath);
    const { sourceAffine, targetAffine, targetSpacing } = geometry();
    const r = rng(20240611);
    const n = SRC_DIMS[0] * SRC_DIMS[1] * SRC_DIMS[2];
    const data = new Float32Array(n);
    for (let p = 0; p < n; p++) data[p] = -1000 + 3000 * r();
    const source = { dims: SRC_DIMS, affine: sourceAffine, data, unit: 'HU' };
    const target = { dims: TGT_DIMS, affine: targetAffine };
    const oblique = { dims: TGT_DIMS, affine: obliqueAffine(targetAffine, 10) };
    const border = { outside: 'border' };
    const outLength = TGT_DIMS[0] * TGT_DIMS[1] * TGT_DIMS[2];
    ctx.log(
      `source spacing ${SRC_SPACING.join(' x ')} mm, target ${targetSpacing.map((s) => s.toFixed(4)).join(' x ')} mm, ` +
        `${(outLength / 1e6).toFixed(1)} M output voxels, ${os.cpus().length} CPUs`,
    );

    const results = [];
    const row = (name, t, extra = {}) => {
      results.push({ case: name, medianMs: t.medianMs, runsMs: t.runsMs, ...extra });
      ctx.log(
        `${name}: median ${t.medianMs.toFixed(1)} ms (${t.runsMs.map((x) => x.toFixed(0)).join(', ')})`,
      );
    };

    row(
      '1 thread, resample() (allocates output)',
      await ctx.time(() => rs.resample(source, target, border)),
      {
        threads: 1,
      },
    );
    const out = new Float32Array(outLength);
    row(
      '1 thread, resampleInto() (reused output)',
      await ctx.time(() => rs.resampleInto(source, target, out, border)),
      {
        threads: 1,
      },
    );
    row(
      '1 thread, oblique target (10 deg), resampleInto()',
      await ctx.time(() => rs.resampleInto(source, oblique, out, border)),
      { threads: 1 },
    );

    // Worker pool over resampleRange.
    const threads = 2;
    const workerFile = await ctx.bundleFile({
      contents: WORKER_SOURCE(resamplePath),
      resolveDir: path.dirname(resamplePath),
    });
    const t0 = performance.now();
    const pool = startPool(workerFile, threads);
    await pool.ready;
    const startupMs = performance.now() - t0;
    try {
      const sharedSource = new Float32Array(new SharedArrayBuffer(n * 4));
      const sharedOut = new Float32Array(new SharedArrayBuffer(outLength * 4));
      const chunk = Math.ceil(TGT_DIMS[2] / (threads * 8));
      const runPool = (tgt) => () => {
        sharedSource.set(data); // the copy onto shared memory is part of the cost
        return pool.run({ ...source, data: sharedSource }, tgt, sharedOut, border, chunk);
      };
      row(`${threads} threads, worker pool (shared output)`, await ctx.time(runPool(target)), {
        threads,
        poolStartupMs: startupMs,
        chunkSlices: chunk,
      });
      row(`${threads} threads, oblique target (10 deg)`, await ctx.time(runPool(oblique)), { threads });
      // The pool must agree with the single-threaded result.
      rs.resampleInto(source, target, out, border);
      await runPool(target)();
      for (let p = 0; p < outLength; p++) {
        if (out[p] !== sharedOut[p])
          throw new Error(`pool result differs at ${p}: ${sharedOut[p]} vs ${out[p]}`);
      }
    } finally {
      await pool.close();
    }
    ctx.log(`worker pool start-up (${threads} workers): ${startupMs.toFixed(0)} ms, not included above`);
    return results;
  },
};
