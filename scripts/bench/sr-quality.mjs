// Super-resolution quality on the held-out evaluation scan (lidc-idri-0001,
// never used in training), with the demo model (GEOMETRY_LDM_BENCH_MODEL,
// default models/geometry-ldm-demo) on onnxruntime-node.
//
// Reference: the scan area-averaged 4x4 in-plane (2.81 mm) with its central
// 128 slices (2.5 mm): 128 x 128 x 128 voxels (the demo model's training grids
// are 32-64 voxels at 2.6-12 mm; the full 512 x 512 x 133 scan is outside its range).
// Degraded inputs, made by block averaging (what a coarser acquisition integrates):
//   x2 each axis    -> 64 x 64 x 64
//   x4 slice axis   -> 128 x 128 x 32 (10 mm slices; the thick-slice case)
// Each is super-resolved back onto the reference grid (N samples, c cycles,
// t, DDIM steps from the manifest defaults unless GEOMETRY_LDM_BENCH_SR is set
// as JSON), and the SR mean and plain trilinear upsampling (the pipeline's own
// first step) are scored against the reference: MAE (HU) and PSNR inside the
// model's HU window, plus the Pearson correlation between the std map and the
// absolute error of the mean (the paper's uncertainty claim).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export default {
  name: 'sr-quality',
  description:
    'SR mean vs trilinear on held-out lidc-idri-0001 (x2 isotropic, x4 thick-slice), std/error correlation',
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const scanDir = path.resolve(
      process.env.SHARED_DATA ?? path.join(ctx.root, '..', 'shared', 'data'),
      'lidc-idri-0001',
    );
    const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const { huMin: lo, huMax: hi } = manifest.intensity;
    const { module: E } = await ctx.bundle('scripts/bench/sr-quality-entry.ts');
    const { module: L } = await ctx.bundle('scripts/bench/engine-entry.ts');
    const overrides = JSON.parse(process.env.GEOMETRY_LDM_BENCH_SR ?? '{}');
    const ref = E.loadReference(scanDir, 4, 128);
    ctx.log(`reference ${ref.dims.join('x')} from ${scanDir}`);
    const model = await L.load(dir, 'node', 2, ctx.root);
    const rows = [];
    for (const [label, f] of [
      ['x2 each axis (64^3 -> 128^3)', [2, 2, 2]],
      ['x4 slice axis (128x128x32 -> 128^3)', [1, 1, 4]],
    ]) {
      const low = E.blockMean(ref, f);
      const t0 = performance.now();
      const r = await E.superResolve(
        model,
        low,
        { kind: 'grid', grid: { dims: ref.dims, affine: ref.affine } },
        {
          seed: 1,
          ...overrides,
        },
      );
      const ms = performance.now() - t0;
      const sr = E.score(ref.data, r.mean.data, lo, hi);
      const tri = E.score(ref.data, r.upsampled.data, lo, hi);
      const corr = E.stdErrorCorrelation(ref.data, r.mean.data, r.std.data, lo, hi);
      const s = r.settings;
      const settings = `N=${s.samples} c=${s.cycles} t=${s.tStart} ddim=${s.ddimSteps}`;
      ctx.log(
        `${label}: SR ${sr.maeHu.toFixed(1)} HU / ${sr.psnrDb.toFixed(2)} dB; trilinear ${tri.maeHu.toFixed(1)} HU / ${tri.psnrDb.toFixed(2)} dB; corr ${corr.toFixed(3)} (${settings})`,
      );
      rows.push({
        case: `${label}, ${settings}`,
        medianMs: ms,
        runsMs: [ms],
        srMaeHu: +sr.maeHu.toFixed(2),
        srPsnrDb: +sr.psnrDb.toFixed(2),
        trilinearMaeHu: +tri.maeHu.toFixed(2),
        trilinearPsnrDb: +tri.psnrDb.toFixed(2),
        stdAbsErrorPearson: +corr.toFixed(3),
      });
    }
    await model.release();
    return rows;
  },
};
