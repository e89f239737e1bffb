import type { Dims3 } from '../geometry/conventions';
import { testManifest } from './__fixtures__/manifest';
import type { Calibration } from '../planning/estimate';
import {
  defaultGenerateForm,
  estimateGenerate,
  generationTraits,
  GENERATE_PRESETS,
  planGenerate,
  presetProblem,
  samplerSpec,
  type GenerateForm,
  type GeneratePlanOk,
} from './generateModel';

const manifest = testManifest(); // grid 32..256, trained up to 64, reference extent 375 x 355 x 295 mm
const EXTENT = [375, 355, 295];

function form(patch: Partial<GenerateForm> = {}): GenerateForm {
  return { ...defaultGenerateForm(manifest), ...patch };
}

describe('generation presets', () => {
  it('flags exactly the paper geometries this model cannot run (max 256 per axis)', () => {
    const problems = Object.fromEntries(GENERATE_PRESETS.map((p) => [p.id, presetProblem(p, manifest)]));
    expect(problems['paper-272']).toMatch(/outside this model's grid range/);
    for (const id of ['trained', 'paper-96', 'paper-192', 'upper-half', 'lower-half', 'rotated'])
      expect(problems[id]).toBeNull();
  });

  it('the default form is the trained size over the full range with the manifest sampler defaults', () => {
    const f = defaultGenerateForm(manifest);
    expect(f.dims).toEqual([64, 64, 64]);
    expect(f.fov).toEqual([
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    expect(samplerSpec(f, manifest)).toEqual({ kind: 'ddim', steps: 50, eta: 0 });
    expect(samplerSpec({ sampler: 'ddpm', steps: 1000 }, manifest)).toEqual({ kind: 'ddpm', steps: 1000 });
    // DDIM takes the model's eta (recorded with the result)
    const stochastic = { ...manifest, generation: { ...manifest.generation, ddimEta: 1 } };
    expect(samplerSpec(f, stochastic)).toEqual({ kind: 'ddim', steps: 50, eta: 1 });
  });
});

describe('generation geometry', () => {
  it('FOV mode: spacing = (hi - lo) * extent / (n - 1) per axis (docs/conventions.md)', () => {
    const fov: GenerateForm['fov'] = [
      [0, 1],
      [0.2, 0.8],
      [0.5, 1],
    ];
    const dims: Dims3 = [96, 64, 56];
    const plan = planGenerate(form({ dims, fov }), manifest) as GeneratePlanOk;
    expect(plan.ok).toBe(true);
    [0, 1, 2].forEach((a) =>
      expect(plan.geometry.spacingMm[a]).toBeCloseTo(
        ((fov[a][1] - fov[a][0]) * EXTENT[a]) / (dims[a] - 1),
        9,
      ),
    );
    plan.fov.forEach((r, a) => {
      expect(r[0]).toBeCloseTo(fov[a][0], 9);
      expect(r[1]).toBeCloseTo(fov[a][1], 9);
    });
    expect(plan.spec.geometry).toEqual({ kind: 'fov', dims, fov, rotationDeg: [0, 0, 0] });
  });

  it('spacing mode: the FOV follows as spacing * (n - 1) / extent, centred where asked', () => {
    const plan = planGenerate(
      form({ mode: 'spacing', dims: [64, 64, 64], spacingMm: [2, 3, 4], fovCentre: [0.5, 0.4, 0.6] }),
      manifest,
    ) as GeneratePlanOk;
    expect(plan.ok).toBe(true);
    const centre = [0.5, 0.4, 0.6];
    [2, 3, 4].forEach((s, a) => {
      const half = (s * 63) / EXTENT[a] / 2;
      expect(plan.fov[a][0]).toBeCloseTo(centre[a] - half, 9);
      expect(plan.fov[a][1]).toBeCloseTo(centre[a] + half, 9);
    });
  });

  it('a rotation about z widens the u/v range as the rotated box predicts', () => {
    const deg = 15;
    const plan = planGenerate(
      form({ dims: [64, 64, 64], rotationDeg: [0, 0, deg] }),
      manifest,
    ) as GeneratePlanOk;
    const th = (deg * Math.PI) / 180;
    // Half-extents (mm) of the voxel-centre box before rotation: the full range on each axis.
    const hx = EXTENT[0] / 2;
    const hy = EXTENT[1] / 2;
    const ux = Math.abs(Math.cos(th)) * hx + Math.abs(Math.sin(th)) * hy;
    const vy = Math.abs(Math.sin(th)) * hx + Math.abs(Math.cos(th)) * hy;
    expect(plan.fov[0][1] - plan.fov[0][0]).toBeCloseTo((2 * ux) / EXTENT[0], 9);
    expect(plan.fov[1][1] - plan.fov[1][0]).toBeCloseTo((2 * vy) / EXTENT[1], 9);
    expect(plan.fov[2][1] - plan.fov[2][0]).toBeCloseTo(1, 9);
    expect(plan.warnings.join(' ')).toMatch(/outside the model’s body range/);
  });

  it('names each invalid input', () => {
    const bad = (f: Partial<GenerateForm>) => {
      const p = planGenerate(form(f), manifest);
      expect(p.ok).toBe(false);
      return p.ok ? '' : p.errors.join(' ');
    };
    expect(bad({ dims: [60, 64, 64] })).toMatch(/multiple of 8 from 32 × 32 × 32 to 256 × 256 × 256/);
    expect(bad({ dims: [64, 64, 264] })).toMatch(/outside this model's range/);
    expect(
      bad({
        fov: [
          [0, 1],
          [0.6, 0.4],
          [0, 1],
        ],
      }),
    ).toMatch(/FOV v/);
    expect(bad({ steps: 1001 })).toMatch(/Steps/);
    expect(bad({ samples: 0 })).toMatch(/Samples/);
    expect(bad({ seed: 1.5 })).toMatch(/Seed/);
    expect(bad({ mode: 'spacing', spacingMm: [1, 0, 1] })).toMatch(/Spacing/);
  });

  it('warns beyond the trained grid', () => {
    const plan = planGenerate(form({ dims: [96, 96, 104] }), manifest) as GeneratePlanOk;
    expect(plan.ok).toBe(true);
    expect(plan.warnings.join(' ')).toMatch(/trained on grids up to 64 × 64 × 64/);
  });
});

describe('generation estimate', () => {
  it('time = samples * steps UNet calls + samples * (1 + previews) decoder calls at the measured per-call costs', () => {
    // Two calibration grids, costs exactly linear: unet 0.1 s + 1e-6 s/voxel, decode 0.2 s + 2e-6 s/voxel.
    const c: Calibration = {
      key: 'k',
      measuredAt: '2026-01-01T00:00:00Z',
      points: [32 ** 3, 64 ** 3].map((n) => ({
        imageVoxels: n,
        seconds: { encode: 0.05 + 5e-7 * n, unet: 0.1 + 1e-6 * n, decode: 0.2 + 2e-6 * n },
      })),
    };
    const f = form({ dims: [96, 96, 104], steps: 20, samples: 3 });
    const e = estimateGenerate(f, c);
    const n = 96 * 96 * 104;
    // the panel previews the estimate after steps 5, 10 and 15 of 20 (one decoder call each) plus the result
    expect(e.time!.seconds).toBeCloseTo(3 * 20 * (0.1 + 1e-6 * n) + 3 * (1 + 3) * (0.2 + 2e-6 * n), 6);
    expect(e.time!.byStage.encode).toBe(0);
    expect(estimateGenerate(f, null).time).toBeNull();
    // a model that guides generation calls the UNet twice per step; the decoder as often as before
    const guidedModel = { ...manifest, generation: { ...manifest.generation, guidanceScale: 2 } };
    const g = estimateGenerate(f, c, null, null, generationTraits(guidedModel));
    expect(g.time!.byStage.unet).toBeCloseTo(2 * 3 * 20 * (0.1 + 1e-6 * n), 6);
    expect(g.time!.byStage.decode).toBeCloseTo(e.time!.byStage.decode!, 9);
    expect(generationTraits(manifest).guided).toBe(false);
  });
});
