/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Acceptance (engine): the super-resolution pipeline (TypeScript, ONNX on
 * onnxruntime-node) against an independent PyTorch reference
 * (test/reference/super_resolve_reference.py) on a small crop of REAL CT, with
 * the same weights, inputs and noise.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createRng, deriveSeed } from '../../extensions/geometry-ldm/src/diffusion';
import { superResolve } from '../../extensions/geometry-ldm/src/inference/superResolve';
import { pooledDims } from '../../extensions/geometry-ldm/src/geometry/coordinateChannels';
import { voxelCount } from '../../extensions/geometry-ldm/src/geometry/conventions';
import { pythonWithTorch } from '../../models/training/pythonEnv';
import { absDiff, readF32 } from '../support/f32';
import { realCrop } from '../support/realCrop';
import { withTinyModelOnOrtNode } from '../support/tinyModel';

const REFERENCE = resolve(__dirname, '..', 'reference', 'super_resolve_reference.py');

const python = pythonWithTorch();
if (!python) throw new Error('this test needs Debian python3 with torch (.ci/run installs python3-torch)');

// Latent factor 8 (the paper's, the demo model's) and 4 (the contract's other factor).
describe.each([8, 4] as const)(
  'super-resolution, latent factor %i: TypeScript + ONNX vs independent PyTorch reference, real CT crop',
  (factor) => {
    const tiny = withTinyModelOnOrtNode(ort, { scratchPrefix: 'gldm-srref-', latentFactor: factor });

    it('gives the same mean, std and upsampling', async () => {
      const { model, dir } = tiny;
      const src = realCrop();
      // the paper's pipeline as the reference implements it: no projection
      const settings = {
        mode: 'diffusion' as const,
        slices: 'none' as const,
        samples: 2,
        cycles: 2,
        ddimSteps: 4,
        tStart: 100,
        seed: 'ref',
      };
      const ts = await superResolve(model, src, { kind: 'scale', factor: [2, 2, 4] }, settings);
      const m = model.manifest;
      expect(m.latent.factor).toBe(factor);

      // The noise the pipeline documents: sample s draws from deriveSeed(seed, 'super-resolve', s), one block per cycle.
      const nLat = m.latent.channels * voxelCount(pooledDims(ts.target.padded.dims, factor));
      const noise = new Float32Array(settings.samples * settings.cycles * nLat);
      for (let s = 0; s < settings.samples; s++) {
        const rng = createRng(deriveSeed(settings.seed, 'super-resolve', s));
        rng.fillGaussian(noise.subarray(s * settings.cycles * nLat, (s + 1) * settings.cycles * nLat));
      }
      writeFileSync(join(dir, 'source.f32'), Buffer.from(src.data.buffer));
      writeFileSync(join(dir, 'noise.f32'), Buffer.from(noise.buffer));
      writeFileSync(
        join(dir, 'input.json'),
        JSON.stringify({
          source: 'source.f32',
          sourceDims: src.dims,
          sourceAffine: src.affine,
          paddedDims: ts.target.padded.dims,
          paddedAffine: ts.target.padded.affine,
          offset: ts.target.offset,
          outputDims: ts.target.output.dims,
          intensity: m.intensity,
          latentScale: m.latent.scale,
          tStart: settings.tStart,
          ddimSteps: settings.ddimSteps,
          cycles: settings.cycles,
          samples: settings.samples,
          noise: 'noise.f32',
          schedule: {
            T: m.scheduler.numTrainTimesteps,
            betaStart: m.scheduler.betaStart,
            betaEnd: m.scheduler.betaEnd,
          },
          modelSeed: 0,
          latentFactor: factor,
        }),
      );
      const r = spawnSync(python as string, [REFERENCE, join(dir, 'input.json'), join(dir, 'out')], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
      if (r.status !== 0) throw new Error(`reference failed: ${r.stderr}`);
      const read = (name: string) => readF32(join(dir, 'out', name));
      const compare = absDiff;
      const up = compare(ts.upsampled.data, read('upsampled.f32'));
      const mean = compare(ts.mean.data, read('mean.f32'));
      const std = compare(ts.std.data, read('std.f32'));
      console.log(
        `TS vs PyTorch reference (HU): upsampled ${JSON.stringify(up)}, mean ${JSON.stringify(mean)}, std ${JSON.stringify(std)}`,
      );
      // Upsampling: float32 (TS) vs float64 (torch) trilinear of HU values.
      expect(up.max).toBeLessThan(1e-3);
      // Model outputs: float32 ONNX vs float32 PyTorch through encoder, 2 x 2 x 4 UNet calls, decoder (seen: 1.2e-4 HU).
      expect(mean.max).toBeLessThan(0.05);
      expect(std.max).toBeLessThan(0.05);
      // ...and the outputs are not trivial: a spread of values, real sample-to-sample variation, not the input.
      const range = (a: Float32Array) => Math.max(...a) - Math.min(...a);
      expect(range(ts.mean.data)).toBeGreaterThan(10);
      expect(Math.max(...ts.std.data)).toBeGreaterThan(1);
      expect(compare(ts.mean.data, ts.upsampled.data).mean).toBeGreaterThan(1);
    });
  },
);
