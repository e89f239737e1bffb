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
import { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
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

  it('gives the same back-projection, unprojected mean, mean and std; the mean reproduces the slices', async () => {
    const { model, dir } = tiny;
    const src = realCrop();
    const slices = { profile: 'gaussian' as const, widthMm: 9, reason: 'test' };
    const ts = await superResolve(
      model,
      src,
      { kind: 'scale', factor: [2, 2, 4] },
      {
        mode: 'ai',
        samples: 4,
        slices,
      },
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
      }),
    );
    const r = spawnSync(python as string, [REFERENCE, join(dir, 'input.json'), join(dir, 'out')], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    if (r.status !== 0) throw new Error(`reference failed: ${r.stderr}`);
    const read = (name: string) => readF32(join(dir, 'out', name));
    const classical = compare(ts.classical.data, read('classical.f32'));
    const unprojected = compare(ts.unprojected!.data, read('unprojected.f32'));
    const mean = compare(ts.mean.data, read('mean.f32'));
    const std = compare(ts.std.data, read('std.f32'));
    console.log(
      `TS vs PyTorch (HU): classical ${JSON.stringify(classical)}, unprojected ${JSON.stringify(unprojected)}, mean ${JSON.stringify(mean)}, std ${JSON.stringify(std)}; fidelity ${JSON.stringify(ts.fidelity)}`,
    );
    expect(classical.max).toBeLessThan(0.05);
    expect(unprojected.max).toBeLessThan(0.1);
    expect(mean.max).toBeLessThan(0.1);
    expect(std.max).toBeLessThan(0.1);
    // not trivial: the refiner changed the image, the samples differ, the projection did work
    expect(compare(ts.unprojected!.data, ts.classical.data).mean).toBeGreaterThan(1);
    expect(Math.max(...ts.std.data)).toBeGreaterThan(1);
    expect(compare(ts.mean.data, ts.unprojected!.data).mean).toBeGreaterThan(0.1);
    // the result reproduces the acquired slices far better than before the projection
    expect(ts.fidelity!.meanAbs).toBeLessThan(5);
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
