/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Both pipelines on a tiny random-weight model (exported by the committed
 * export code) with onnxruntime-node: determinism, independence from the
 * batch size, result geometry, cancellation and typed input errors.
 */
import * as ort from 'onnxruntime-node';
import { applyPoint, compose, invert } from '../geometry/affine';
import { spacingOf } from '../geometry/dicomGeometry';
import { makeVolume, type Volume } from '../volume/volume';
import { withTinyModelOnOrtNode } from '../../../../test/support/tinyModel';
import { InferenceError } from './errors';
import { generate } from './generate';
import type { ProgressEvent } from './progress';
import { superResolve } from './superResolve';

const tiny = withTinyModelOnOrtNode(ort);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}

/** A small smooth "CT" in HU on an oblique-ish grid. */
function phantom(): Volume {
  const dims = [20, 18, 16] as const;
  const data = new Float32Array(20 * 18 * 16);
  for (let k = 0; k < 16; k++)
    for (let j = 0; j < 18; j++)
      for (let i = 0; i < 20; i++) data[(k * 18 + j) * 20 + i] = -800 + 60 * i + 40 * j - 30 * k;
  return makeVolume(dims, [1.5, 0, 0, -20, 0, 1.5, 0, 10, 0, 0, 4, 100, 0, 0, 0, 1], data, 'HU');
}

describe('generate', () => {
  const spec = {
    geometry: { kind: 'fov' as const, dims: [32, 32, 40] as const },
    seed: 'g-1',
    sampler: { kind: 'ddim' as const, steps: 4 },
  };

  it('is bit-identical for the same seed and differs for another', async () => {
    const a = await generate(tiny.model, spec);
    const b = await generate(tiny.model, spec);
    const c = await generate(tiny.model, { ...spec, seed: 'g-2' });
    expect(a.samples[0].volume.data).toEqual(b.samples[0].volume.data);
    expect(maxAbsDiff(a.samples[0].volume.data, c.samples[0].volume.data)).toBeGreaterThan(1e-3);
    expect(a.samples[0].volume.unit).toBe('HU');
  });

  it('gives each sample the same result whatever the batch size', async () => {
    const one = await generate(tiny.model, { ...spec, samples: 3, batchSize: 1 });
    const three = await generate(tiny.model, { ...spec, samples: 3, batchSize: 3 });
    for (let s = 0; s < 3; s++) {
      expect(maxAbsDiff(one.samples[s].volume.data, three.samples[s].volume.data)).toBeLessThan(1e-3);
    }
    expect(maxAbsDiff(one.samples[0].volume.data, one.samples[1].volume.data)).toBeGreaterThan(1e-3);
  });

  it('stochastic DDIM (eta 1): seeded, batch-independent, and the model eta when none is given', async () => {
    const eta1 = { ...spec, sampler: { kind: 'ddim' as const, steps: 4, eta: 1 } };
    const a = await generate(tiny.model, { ...eta1, samples: 2, batchSize: 1 });
    const b = await generate(tiny.model, { ...eta1, samples: 2, batchSize: 2 });
    for (let s = 0; s < 2; s++)
      expect(maxAbsDiff(a.samples[s].volume.data, b.samples[s].volume.data)).toBeLessThan(1e-3);
    const deterministic = await generate(tiny.model, spec);
    expect(maxAbsDiff(a.samples[0].volume.data, deterministic.samples[0].volume.data)).toBeGreaterThan(1e-3);
    // a manifest whose generation.ddimEta is 1 makes an eta-less DDIM request the same as eta 1
    const eta1Model = {
      ...tiny.model,
      manifest: { ...tiny.model.manifest, generation: { ...tiny.model.manifest.generation, ddimEta: 1 } },
    };
    const byModel = await generate(eta1Model, spec);
    expect(byModel.samples[0].volume.data).toEqual(a.samples[0].volume.data);
    await expect(
      generate(tiny.model, { ...spec, sampler: { kind: 'ddim', steps: 4, eta: 1.5 } }),
    ).rejects.toMatchObject({
      code: 'invalid-input',
    });
  });

  describe('classifier-free guidance (manifest generation.guidanceScale)', () => {
    type Out = (nullCond: boolean, eps: Float32Array, lastCondEps: Float32Array | undefined) => Float32Array;
    /**
     * The tiny model with a guidance scale and its UNet wrapped: `out` may replace each call's eps
     * (given whether the call had the null condition, all-zero coordinates, and the eps of the
     * last call with a real condition); every call is recorded.
     */
    function wrapped(scale: number | undefined, out: Out = (_, eps) => eps) {
      const calls: { nullCond: boolean; z: Float32Array; t: number }[] = [];
      const unet = tiny.model.unet;
      const io = tiny.model.manifest.onnx.unet; // tiny.model exists from beforeAll on
      let lastCondEps: Float32Array | undefined;
      const model = {
        ...tiny.model,
        manifest: {
          ...tiny.model.manifest,
          generation: { ...tiny.model.manifest.generation, guidanceScale: scale },
        },
        unet: {
          ...unet,
          run: async (feeds: Parameters<typeof unet.run>[0]) => {
            // a real coordinate field varies across the grid: all zero is only the null condition
            const nullCond = feeds[io.inputs[2].name].data.every((v) => v === 0);
            calls.push({
              nullCond,
              z: feeds[io.inputs[0].name].data.slice(),
              t: feeds[io.inputs[1].name].data[0],
            });
            const res = await unet.run(feeds);
            const name = io.outputs[0].name;
            const eps = out(nullCond, res[name].data, lastCondEps);
            if (!nullCond) lastCondEps = eps.slice();
            return { ...res, [name]: { ...res[name], data: eps } };
          },
        },
      };
      return { model, calls };
    }
    const two = { ...spec, samples: 2, batchSize: 2 };

    it('scale 1 or absent: one UNet call per step, with the real condition', async () => {
      const plain = await generate(tiny.model, spec);
      for (const scale of [undefined, 1]) {
        const { model, calls } = wrapped(scale);
        const r = await generate(model, spec);
        expect(calls.map((c) => c.nullCond)).toEqual([false, false, false, false]);
        expect(r.samples[0].volume.data).toEqual(plain.samples[0].volume.data);
      }
    });

    it('adds a null-condition call on the same latent and t each step, combined as eps_null + s (eps - eps_null)', async () => {
      const { model, calls } = wrapped(3);
      const g = await generate(model, two);
      expect(calls.map((c) => c.nullCond)).toEqual([false, true, false, true, false, true, false, true]);
      for (let i = 0; i < 8; i += 2) {
        expect(calls[i + 1].t).toBe(calls[i].t);
        expect(calls[i + 1].z).toEqual(calls[i].z);
      }
      const plain = await generate(tiny.model, two);
      expect(maxAbsDiff(g.samples[0].volume.data, plain.samples[0].volume.data)).toBeGreaterThan(1e-3);
      // the combination against independent truths: a null prediction equal to the conditional
      // one leaves eps as it was (the unguided result) ...
      const equal = await generate(wrapped(3, (n, eps, c) => (n ? c! : eps)).model, two);
      // ... and a zero null prediction gives s x eps: the unguided sampler on a UNet scaled by s
      const zero = await generate(
        wrapped(3, (n, eps) => (n ? new Float32Array(eps.length) : eps)).model,
        two,
      );
      const scaled = await generate(wrapped(undefined, (_, eps) => eps.map((v) => 3 * v)).model, two);
      for (let s = 0; s < 2; s++) {
        expect(equal.samples[s].volume.data).toEqual(plain.samples[s].volume.data);
        expect(zero.samples[s].volume.data).toEqual(scaled.samples[s].volume.data);
      }
    });

    it('refuses a scale below 1 or not finite before any UNet call', async () => {
      for (const scale of [0.5, Number.NaN]) {
        const { model, calls } = wrapped(scale);
        await expect(generate(model, spec)).rejects.toMatchObject({ code: 'invalid-input' });
        expect(calls).toHaveLength(0);
      }
    });
  });

  it('places the result where the geometry spec says (patient mm)', async () => {
    const r = await generate(tiny.model, {
      ...spec,
      geometry: { kind: 'spacing', dims: [32, 32, 32], spacingMm: [2, 3, 4], rotationDeg: [0, 0, 30] },
    });
    const v = r.samples[0].volume;
    spacingOf(v.affine).forEach((s, a) => expect(s).toBeCloseTo([2, 3, 4][a], 9));
    // centre of the grid = centre of the group box = patient origin (reference extent centred at 0)
    applyPoint(v.affine, [15.5, 15.5, 15.5]).forEach((x) => expect(x).toBeCloseTo(0, 9));
  });

  it('runs the DDPM full chain with per-step noise, reporting progress', async () => {
    const events: ProgressEvent[] = [];
    const r = await generate(
      tiny.model,
      { ...spec, geometry: { kind: 'fov', dims: [32, 32, 32] }, sampler: { kind: 'ddpm', steps: 1000 } },
      { onProgress: (e) => events.push(e), preview: true },
    );
    expect(r.samples[0].volume.data.every(Number.isFinite)).toBe(true);
    const denoise = events.filter((e) => e.stage === 'denoise');
    expect(denoise).toHaveLength(1000);
    expect(events.at(-1)?.stage).toBe('finish');
    expect(events.find((e) => e.preview)?.preview?.width).toBe(32);
  });

  it('stops within one model call when cancelled and reports it as cancelled', async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = generate(
      tiny.model,
      { ...spec, sampler: { kind: 'ddim', steps: 50 } },
      {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.stage === 'denoise' && ++calls === 3) controller.abort();
        },
      },
    );
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    expect(calls).toBe(3);
  });

  it('rejects a grid the model does not support with a typed error', async () => {
    await expect(
      generate(tiny.model, { ...spec, geometry: { kind: 'fov', dims: [36, 32, 32] } }),
    ).rejects.toMatchObject({ code: 'unsupported-grid' });
  });
});

describe('superResolve', () => {
  it('refines to the requested spacing over the same physical box, deterministically', async () => {
    const src = phantom();
    const opts = { samples: 2, cycles: 2, ddimSteps: 3, tStart: 100, seed: 5 };
    const a = await superResolve(tiny.model, src, { kind: 'spacing', spacingMm: [0.75, 0.75, 2] }, opts);
    const b = await superResolve(tiny.model, src, { kind: 'spacing', spacingMm: [0.75, 0.75, 2] }, opts);
    expect(a.mean.data).toEqual(b.mean.data);
    expect(a.mean.dims).toEqual([40, 36, 32]);
    expect(a.target.padded.dims).toEqual([40, 40, 32]);
    spacingOf(a.mean.affine).forEach((s, k) => expect(s).toBeCloseTo([0.75, 0.75, 2][k], 12));
    // Same box (edges): first target centre sits a quarter source voxel inside the first source centre.
    const p0 = applyPoint(a.mean.affine, [0, 0, 0]);
    const s0 = applyPoint(src.affine, [-0.25, -0.25, -0.25]);
    p0.forEach((x, k) => expect(x).toBeCloseTo(s0[k], 9));
    expect(a.std.unit).toBe('HU-std');
    expect(a.std.data.some((x) => x > 0)).toBe(true);
    expect(a.std.data.every((x) => x >= 0)).toBe(true);
    // The baseline is a trilinear upsampling: it reproduces the linear phantom exactly inside the source box.
    const toSource = compose(invert(src.affine), a.upsampled.affine);
    let checked = 0;
    for (const [i, j, k] of [
      [1, 1, 1],
      [7, 20, 9],
      [38, 34, 30],
      [20, 17, 16],
    ]) {
      const [si, sj, sk] = applyPoint(toSource, [i, j, k]);
      if (si < 0 || sj < 0 || sk < 0 || si > 19 || sj > 17 || sk > 15) continue;
      checked++;
      expect(a.upsampled.data[(k * 36 + j) * 40 + i]).toBeCloseTo(-800 + 60 * si + 40 * sj - 30 * sk, 2);
    }
    expect(checked).toBe(4);
  });

  it('mean and std agree with the kept samples', async () => {
    const r = await superResolve(
      tiny.model,
      phantom(),
      { kind: 'scale', factor: 2 },
      { samples: 3, cycles: 1, ddimSteps: 2, keepSamples: true },
    );
    const s = r.samples as Volume[];
    for (const n of [0, 100, 1000, s[0].data.length - 1]) {
      const xs = s.map((v) => v.data[n]);
      const mean = xs.reduce((p, q) => p + q, 0) / 3;
      const std = Math.sqrt(xs.reduce((p, q) => p + (q - mean) ** 2, 0) / 2);
      expect(r.mean.data[n]).toBeCloseTo(mean, 2);
      expect(r.std.data[n]).toBeCloseTo(std, 2);
    }
  });

  it.each([
    [{ kind: 'spacing', spacingMm: [3, 1.5, 4] }, 'coarser'],
    [{ kind: 'spacing', spacingMm: [0, 1, 1] }, 'positive'],
  ] as const)('rejects target %j', async (target, words) => {
    const p = superResolve(tiny.model, phantom(), target as never, { samples: 1, cycles: 1, ddimSteps: 1 });
    await expect(p).rejects.toBeInstanceOf(InferenceError);
    await expect(p).rejects.toThrow(words);
  });

  it('runs latent diffusion on a result smaller than the model grid, padded up to it', async () => {
    // 16 slices kept at 4 mm: under the tiny model's 32-voxel minimum along k
    const src = phantom();
    expect(tiny.model.manifest.grid.min[2]).toBeGreaterThan(16);
    const r = await superResolve(
      tiny.model,
      src,
      { kind: 'spacing', spacingMm: [0.75, 0.75, 4] },
      { mode: 'diffusion', samples: 1, cycles: 1, ddimSteps: 2, seed: 3 },
    );
    expect(r.mean.dims).toEqual([40, 36, 16]);
    expect(r.target.padded.dims).toEqual([40, 40, tiny.model.manifest.grid.min[2]]);
    expect(r.target.offset[2]).toBe((tiny.model.manifest.grid.min[2] - 16) / 2);
    // the output slices are the source's own: the projection reproduces them within a few HU
    expect(r.fidelity!.meanAbs).toBeLessThan(5);
  });

  it('rejects a volume that is not in HU', async () => {
    const v = { ...phantom(), unit: 'model' as const };
    await expect(superResolve(tiny.model, v, { kind: 'scale', factor: 2 })).rejects.toMatchObject({
      code: 'invalid-input',
    });
  });
});
