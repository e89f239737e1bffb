/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Acceptance (engine): the 'ai' and 'classical' super-resolution modes (TypeScript, refiner
 * on onnxruntime-node) against an independent PyTorch reference
 * (test/reference/refiner_sr_reference.py) on a crop of REAL CT, same weights: the
 * back-projection, the refined planes of 4 test-time-augmented samples, their projection, mean
 * and std. Also: the result reproduces the acquired slices (fidelity) and the classical mode
 * equals the AI mode's back-projection.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ProgressEvent } from '../../extensions/geometry-ldm/src/inference/progress';
import { REFINER_BODY_BOX } from '../../extensions/geometry-ldm/src/inference/refiner';
import { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
import { bodyBox } from '../../extensions/geometry-ldm/src/volume/bodyBox';
import type { Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { pythonWithTorch } from '../../models/training/pythonEnv';
import { absDiff, readF32 } from '../support/f32';
import { realCrop } from '../support/realCrop';
import { withTinyModelOnOrtNode } from '../support/tinyModel';

const REFERENCE = resolve(__dirname, '..', 'reference', 'refiner_sr_reference.py');
const python = pythonWithTorch();
if (!python) throw new Error('this test needs Debian python3 with torch (.ci/run installs python3-torch)');

const compare = absDiff;

describe('AI super-resolution (refiner + projection): TypeScript + ONNX vs PyTorch reference', () => {
  const tiny = withTinyModelOnOrtNode(ort, { scratchPrefix: 'gldm-refref-' });

  /** The TS pipeline and the reference on one source; returns the TS result and the differences. */
  async function againstReference(
    src: Volume,
    slices: { profile: 'gaussian' | 'box'; widthMm: number; reason: string },
  ) {
    const { model, dir } = tiny;
    const events: ProgressEvent[] = [];
    const ts = await superResolve(
      model,
      src,
      { kind: 'scale', factor: [2, 2, 4] },
      { mode: 'ai', samples: 4, slices, onProgress: (e) => events.push(e) },
    );
    expect(ts.settings.mode).toBe('ai');
    writeFileSync(join(dir, 'source.f32'), Buffer.from(src.data.buffer));
    writeFileSync(
      join(dir, 'input.json'),
      JSON.stringify({
        source: 'source.f32',
        sourceDims: src.dims,
        sourceAffine: src.affine,
        outputDims: ts.target.output.dims,
        outputAffine: ts.target.output.affine,
        slice: { profile: slices.profile, widthMm: slices.widthMm },
        samples: 4,
        iterations: ts.settings.projectionIterations,
        modelSeed: 0,
        refinerBox: REFINER_BODY_BOX,
      }),
    );
    const r = spawnSync(python as string, [REFERENCE, join(dir, 'input.json'), join(dir, 'out')], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    if (r.status !== 0) throw new Error(`reference failed: ${r.stderr}`);
    const read = (name: string) => readF32(join(dir, 'out', name));
    const diff = {
      classical: compare(ts.classical.data, read('classical.f32')),
      unprojected: compare(ts.unprojected!.data, read('unprojected.f32')),
      mean: compare(ts.mean.data, read('mean.f32')),
      std: compare(ts.std.data, read('std.f32')),
    };
    console.log(`TS vs PyTorch (HU): ${JSON.stringify(diff)}; fidelity ${JSON.stringify(ts.fidelity)}`);
    expect(diff.classical.max).toBeLessThan(0.05);
    expect(diff.unprojected.max).toBeLessThan(0.1);
    expect(diff.mean.max).toBeLessThan(0.1);
    expect(diff.std.max).toBeLessThan(0.1);
    return { ts, events };
  }

  it('gives the same back-projection, unprojected mean, mean and std; the mean reproduces the slices', async () => {
    const { ts } = await againstReference(realCrop(), { profile: 'gaussian', widthMm: 9, reason: 'test' });
    // not trivial: the refiner changed the image, the samples differ, the projection did work
    expect(compare(ts.unprojected!.data, ts.classical.data).mean).toBeGreaterThan(1);
    expect(Math.max(...ts.std.data)).toBeGreaterThan(1);
    expect(compare(ts.mean.data, ts.unprojected!.data).mean).toBeGreaterThan(0.1);
    // the result reproduces the acquired slices far better than before the projection
    expect(ts.fidelity!.meanAbs).toBeLessThan(5);
  });

  it("refines the body box only, each plane over its body's columns: air keeps its back-projection", async () => {
    // rows 70-133 of the series at columns 60-107: air, then the curved anterior-left body wall
    // (its first column moves from about 155 at row 84 to 63 at row 132), so the planes' columns vary
    const { ts, events } = await againstReference(realCrop([60, 70, 9], [48, 64, 12]), {
      profile: 'box',
      widthMm: 8,
      reason: 'test',
    });
    const [nx, ny, nz] = ts.target.output.dims;
    const box = bodyBox(ts.classical.data, ts.target.output.dims, REFINER_BODY_BOX)!;
    expect(box.start[1]).toBeGreaterThan(0);
    // rows before the box: every sample is the clamped back-projection, so the unprojected mean is
    // too; inside the box the refiner changed it
    let before = 0;
    let inside = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const q = (k * ny + j) * nx + i;
          const d = Math.abs(ts.unprojected!.data[q] - Math.max(-1024, ts.classical.data[q]));
          if (j < box.start[1]) before = Math.max(before, d);
          else inside += d;
        }
    expect(before).toBeLessThan(1e-3);
    expect(inside / (nx * (ny - box.start[1]) * nz)).toBeGreaterThan(1);
    // inside the box, voxels that no sample's plane columns reached keep the back-projection too
    let untouched = 0;
    for (let k = 0; k < nz; k++)
      for (let j = box.start[1]; j < ny; j++)
        for (let i = box.start[0]; i < box.start[0] + box.dims[0]; i++) {
          const q = (k * ny + j) * nx + i;
          if (Math.abs(ts.unprojected!.data[q] - Math.max(-1024, ts.classical.data[q])) < 1e-3) untouched++;
        }
    expect(untouched).toBeGreaterThan(1000);
    // the progress counts the box's planes (rows along k: samples alternate normals i and j) and
    // one projection per sample, so the time left counts only what is refined; the last plane is
    // refined after the first three samples' projections
    const planes = 2 * (box.dims[0] + box.dims[1]);
    const refined = events.filter((e) => e.stage === 'refine');
    expect(refined[refined.length - 1].step).toBe(planes + 3);
    expect(events[events.length - 1].total).toBe(planes + 4);
  });

  it('classical mode: the back-projection, deterministic, std 0', async () => {
    const { model } = tiny;
    const src = realCrop();
    const slices = { profile: 'box' as const, widthMm: 8, reason: 'test' };
    const a = await superResolve(
      model,
      src,
      { kind: 'scale', factor: [2, 2, 4] },
      { mode: 'classical', slices },
    );
    const b = await superResolve(
      model,
      src,
      { kind: 'scale', factor: [2, 2, 4] },
      { mode: 'ai', samples: 1, slices },
    );
    expect(compare(a.mean.data, b.classical.data).max).toBe(0);
    expect(Math.max(...a.std.data)).toBe(0);
    expect(a.fidelity!.meanAbs).toBeLessThan(2);
    // trilinear does not reproduce the acquired (box-averaged) slices; the back-projection does
    expect(compare(a.mean.data, a.upsampled.data).mean).toBeGreaterThan(1);
    // the pipeline timed its back-projection (what the panels' calibration reads); none without slices
    expect(a.backProjectionSeconds).toBeGreaterThan(0);
    const raw = await superResolve(
      model,
      src,
      { kind: 'scale', factor: [2, 2, 4] },
      { mode: 'classical', slices: 'none' },
    );
    expect(raw.backProjectionSeconds).toBe(0);
  });

  it('refuses what it cannot do with a typed error', async () => {
    const { model } = tiny;
    const src = realCrop();
    await expect(
      superResolve(model, src, { kind: 'scale', factor: 2 }, { mode: 'ai', samples: 9 }),
    ).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(
      superResolve(model, src, { kind: 'scale', factor: 2 }, { mode: 'classical', samples: 3 }),
    ).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(
      superResolve(model, src, { kind: 'scale', factor: 2 }, { mode: 'magic' as never }),
    ).rejects.toThrow(/unknown super-resolution mode/);
  });
});
