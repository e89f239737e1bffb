import { applyPoint } from '../geometry/affine';
import type { Vec3 } from '../geometry/conventions';
import { indexToGroup } from '../geometry/groupSpace';
import { demoModel } from '../../../../test/support/demoModel';
import { readSeriesHeaders } from '../../../../test/support/sharedData';
import type { DisplaySet, InstanceMetadata } from '../ohif/ohifTypes';
import { testManifest } from '../panels/__fixtures__/manifest';
import { hasGrid, seriesInfo } from '../panels/seriesInfo';
import type { SeriesGrid } from './seriesGrid';
import {
  estimateSuperResolution,
  fitRegion,
  planSuperResolution,
  TARGET_PRESETS,
  targetSpacing,
  validateSettings,
  wholeRegion,
  type PlanOk,
  type SuperResolveForm,
  type TargetChoice,
} from './superResolvePlan';

const manifest = testManifest();

/** A display set as OHIF builds it: naturalized instance metadata (dcmjs), unsorted. */
function displaySetOf(name: Parameters<typeof readSeriesHeaders>[0]): DisplaySet {
  const instances = readSeriesHeaders(name).map((h) => h.dataset as unknown as InstanceMetadata);
  const first = instances[0] as unknown as Record<string, unknown>;
  return {
    displaySetInstanceUID: `ds-${name}`,
    StudyInstanceUID: String(first.StudyInstanceUID),
    SeriesInstanceUID: String(first.SeriesInstanceUID),
    SeriesDescription: String(first.SeriesDescription ?? ''),
    Modality: String(first.Modality),
    instances: [...instances].reverse(),
  };
}

function gridOf(name: Parameters<typeof readSeriesHeaders>[0]): SeriesGrid {
  const info = seriesInfo(displaySetOf(name));
  if (!hasGrid(info)) throw new Error(`no grid: ${JSON.stringify(info.grid)}`);
  return info.grid;
}

const settings = {
  mode: 'diffusion' as const,
  slices: 'auto' as const,
  tStart: 100,
  cycles: 5,
  ddimSteps: 10,
  samples: 4,
  seed: 0,
  bridgeGaps: false,
};

/** Patient-space corners of a grid's voxel-EDGE box (index -0.5 and n-0.5). */
function edgeBox(affine: readonly number[], dims: readonly number[]): Vec3[] {
  const out: Vec3[] = [];
  for (const i of [-0.5, dims[0] - 0.5])
    for (const j of [-0.5, dims[1] - 0.5])
      for (const k of [-0.5, dims[2] - 0.5]) out.push(applyPoint(affine, [i, j, k]));
  return out;
}

describe('series grid from OHIF display-set metadata (real headers)', () => {
  it('lung-pet-ct-dx-a0002: 512 x 512 x 30 at 0.646 x 0.646 x 8 mm, CT', () => {
    const info = seriesInfo(displaySetOf('lung-pet-ct-dx-a0002'));
    expect(info.isCt).toBe(true);
    expect(info.slices).toBe(30);
    const g = gridOf('lung-pet-ct-dx-a0002');
    expect(g.dims).toEqual([512, 512, 30]);
    expect(g.spacingMm[0]).toBeCloseTo(0.646, 3);
    expect(g.spacingMm[1]).toBeCloseTo(0.646, 3);
    expect(g.spacingMm[2]).toBeCloseTo(8.0, 3);
    expect(g.irregular).toBeUndefined();
  });

  it('the gantry-tilted, irregular head CT gets a nominal grid and a note, not an error', () => {
    const g = gridOf('ge-head-gantry-tilt');
    expect(g.dims[2]).toBe(28);
    expect(g.irregular).toMatch(/resampled/);
  });

  it('a non-CT display set is reported, not planned', () => {
    const ds = { ...displaySetOf('lung-pet-ct-dx-a0002'), Modality: 'MR' };
    const info = seriesInfo(ds);
    expect(info.isCt).toBe(false);
    expect(hasGrid(info)).toBe(false);
    expect((info.grid as { error: string }).error).toMatch(/MR, not CT/);
  });
});

describe('super-resolution planning against the manifest', () => {
  const g = gridOf('lung-pet-ct-dx-a0002');
  const x4z: TargetChoice = { kind: 'scale', factors: [1, 1, 4] };

  it('refuses the whole 512 x 512 series at x4 (beyond the model grid) and says what to do', () => {
    const plan = planSuperResolution(g, { region: wholeRegion(g), target: x4z, settings }, manifest);
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.errors.join(' ')).toMatch(/512 × 512 × 120.*256 × 256 × 256.*Fit region/);
  });

  it('fitRegion gives the largest centred region that fits, and it plans', () => {
    const region = fitRegion(g, x4z, manifest, 'diffusion');
    expect(region.dims).toEqual([256, 256, 30]);
    expect(region.start).toEqual([128, 128, 0]);
    const plan = planSuperResolution(g, { region, target: x4z, settings }, manifest) as PlanOk;
    expect(plan.ok).toBe(true);
    expect(plan.plan.output.dims).toEqual([256, 256, 120]);
    expect(plan.plan.padded.dims).toEqual([256, 256, 120]);
    expect(plan.spacingMm[2]).toBeCloseTo(2, 9);
  });

  it('a region thinner than the model grid plans for latent diffusion, padded up to the minimum', () => {
    // 3 of the 30 slices at x4: 12 result slices, under the model's minimum along k
    const region = { start: [192, 192, 10], dims: [128, 128, 3] } as unknown as SuperResolveForm['region'];
    const plan = planSuperResolution(g, { region, target: x4z, settings }, manifest) as PlanOk;
    expect(plan.ok).toBe(true);
    expect(plan.plan.output.dims).toEqual([128, 128, 12]);
    expect(manifest.grid.min[2]).toBeGreaterThan(12);
    expect(plan.plan.padded.dims).toEqual([128, 128, manifest.grid.min[2]]);
  });

  it('every preset and a custom spacing fit after fitRegion; one voxel more on a fitted axis does not', () => {
    const targets: TargetChoice[] = [
      ...TARGET_PRESETS.map((p) => p.target(g)),
      { kind: 'spacing', spacingMm: [0.5, 0.5, 1.3] },
    ];
    for (const target of targets) {
      const region = fitRegion(g, target, manifest, 'diffusion');
      const plan = planSuperResolution(g, { region, target, settings }, manifest);
      expect(plan.ok).toBe(true);
      for (let a = 0; a < 3; a++) {
        if (region.dims[a] === g.dims[a]) continue;
        const start = [...region.start];
        const dims = [...region.dims];
        dims[a] += 1;
        if (start[a] + dims[a] > g.dims[a]) start[a] -= 1;
        const bigger = { start, dims } as unknown as SuperResolveForm['region'];
        const p2 = planSuperResolution(g, { region: bigger, target, settings }, manifest);
        expect(p2.ok).toBe(false);
      }
    }
  });

  it('the result covers exactly the physical box of the region (voxel edges), at the target spacing', () => {
    const region = { start: [100, 140, 5] as Vec3, dims: [64, 48, 12] as unknown as Vec3 };
    const target: TargetChoice = { kind: 'spacing', spacingMm: [g.spacingMm[0] / 2, g.spacingMm[1] / 2, 2] };
    const plan = planSuperResolution(
      g,
      { region: region as unknown as SuperResolveForm['region'], target, settings },
      manifest,
    ) as PlanOk;
    expect(plan.ok).toBe(true);
    expect(plan.plan.output.dims).toEqual([128, 96, 48]);
    // Independent truth: the region's edge box straight from the source affine.
    const expected: Vec3[] = [];
    for (const i of [99.5, 163.5])
      for (const j of [139.5, 187.5])
        for (const k of [4.5, 16.5]) expected.push(applyPoint(g.affine, [i, j, k]));
    const got = edgeBox(plan.plan.output.affine, plan.plan.output.dims);
    got.forEach((p, n) => p.forEach((x, c) => expect(x).toBeCloseTo(expected[n][c], 6)));
  });

  it('the group space is the WHOLE series: a centred crop maps to a centred sub-range of [0,1]', () => {
    const region = fitRegion(g, x4z, manifest, 'diffusion');
    const plan = planSuperResolution(g, { region, target: x4z, settings }, manifest) as PlanOk;
    const a = indexToGroup(plan.sourceGrid.affine, plan.groupSpace);
    const first = applyPoint(a, [0, 0, 0]);
    const last = applyPoint(a, [255, 255, 29]);
    // Columns 128..383 of 0..511 (axis-aligned series: u grows with i).
    expect(first[0]).toBeCloseTo(128 / 511, 9);
    expect(last[0]).toBeCloseTo(383 / 511, 9);
    // All 30 slices: w spans the whole range.
    expect(Math.min(first[2], last[2])).toBeCloseTo(0, 9);
    expect(Math.max(first[2], last[2])).toBeCloseTo(1, 9);
  });

  it('refuses a coarser target (super-resolution only refines) and a region outside the series', () => {
    const coarse = planSuperResolution(
      g,
      {
        region: fitRegion(g, x4z, manifest, 'diffusion'),
        target: { kind: 'scale', factors: [0.5, 1, 1] },
        settings,
      },
      manifest,
    );
    expect(coarse.ok).toBe(false);
    if (!coarse.ok) expect(coarse.errors[0]).toMatch(/coarser/);
    const outside = planSuperResolution(
      g,
      { region: { start: [500, 0, 0], dims: [64, 64, 8] }, target: x4z, settings },
      manifest,
    );
    expect(outside.ok).toBe(false);
    if (!outside.ok) expect(outside.errors[0]).toMatch(/columns 501–564 lie outside the series \(1–512\)/);
    // the panel's first/last fields: first 241, last 200 -> start 240, dims 200 - 241 + 1 = -40
    const reversed = planSuperResolution(
      g,
      { region: { start: [240, 0, 0], dims: [-40, 64, 8] }, target: x4z, settings },
      manifest,
    );
    expect(reversed.ok).toBe(false);
    if (!reversed.ok) {
      expect(reversed.errors[0]).toBe(
        "The region's last column (200) comes before its first (241): swap them.",
      );
    }
  });

  it('warns beyond the trained grid and for one sample', () => {
    const plan = planSuperResolution(
      g,
      {
        region: fitRegion(g, x4z, manifest, 'diffusion'),
        target: x4z,
        settings: { ...settings, samples: 1 },
      },
      manifest,
    ) as PlanOk;
    expect(plan.warnings.join(' ')).toMatch(/trained on grids up to 64 × 64 × 64/);
    expect(plan.warnings.join(' ')).toMatch(/one sample/);
  });

  it('targetSpacing of a scale choice divides the source spacing', () => {
    const s = targetSpacing(g, { kind: 'scale', factors: [2, 2, 4] });
    expect(s[0]).toBeCloseTo(g.spacingMm[0] / 2, 12);
    expect(s[2]).toBeCloseTo(2, 12);
  });
});

describe('the AI and classical modes: bounded by memory, not by the model grid (modeGrid.ts)', () => {
  const manifest = demoModel().manifest; // with a refiner; grid range 32-256 per axis
  const g = gridOf('lung-pet-ct-dx-a0002'); // 512 x 512 x 30
  const x4z: TargetChoice = { kind: 'scale', factors: [1, 1, 4] };
  const x2: TargetChoice = { kind: 'scale', factors: [2, 2, 2] };
  const plane = (mode: 'ai' | 'classical') => ({ ...settings, mode, samples: mode === 'ai' ? 2 : 1 });
  const grow = (region: SuperResolveForm['region'], a: number): SuperResolveForm['region'] => {
    const start = [...region.start];
    const dims = [...region.dims];
    dims[a] += 1;
    if (start[a] + dims[a] > g.dims[a]) start[a] -= 1;
    return { start, dims } as unknown as SuperResolveForm['region'];
  };

  it('the whole 512 x 512 series at x4 slices plans in both, and is refused by latent diffusion', () => {
    for (const mode of ['ai', 'classical'] as const) {
      const plan = planSuperResolution(
        g,
        { region: wholeRegion(g), target: x4z, settings: plane(mode) },
        manifest,
      ) as PlanOk;
      expect(plan.ok).toBe(true);
      expect(plan.plan.output.dims).toEqual([512, 512, 120]);
      expect(fitRegion(g, x4z, manifest, mode)).toEqual(wholeRegion(g));
    }
    expect(planSuperResolution(g, { region: wholeRegion(g), target: x4z, settings }, manifest).ok).toBe(
      false,
    );
  });

  it('x2 on every axis: 1024 x 1024 planes are refused; the fit keeps every slice and the largest square', () => {
    const whole = planSuperResolution(
      g,
      { region: wholeRegion(g), target: x2, settings: plane('ai') },
      manifest,
    );
    expect(whole.ok).toBe(false);
    if (!whole.ok)
      expect(whole.errors[0]).toMatch(
        /1024 × 1024 × 60 voxels; the AI refiner mode takes at most 67\.1 million.*Fit region/,
      );
    const region = fitRegion(g, x2, manifest, 'ai');
    // (2 i) (2 j) <= 2^19 with i, j as equal as whole voxels allow: 362 x 362 (363 x 362 is 525,624 result voxels)
    expect(region.dims).toEqual([362, 362, 30]);
    expect(region.start).toEqual([75, 75, 0]);
    expect(planSuperResolution(g, { region, target: x2, settings: plane('ai') }, manifest).ok).toBe(true);
    for (const a of [0, 1])
      expect(
        planSuperResolution(g, { region: grow(region, a), target: x2, settings: plane('ai') }, manifest).ok,
      ).toBe(false);
  });

  it("the panel's memory estimate for these modes counts no encoder: the refiner's plane and the copies", () => {
    const plan = planSuperResolution(
      g,
      { region: wholeRegion(g), target: x4z, settings: plane('ai') },
      manifest,
    ) as PlanOk;
    const est = estimateSuperResolution(g, plan, plane('ai'), null, {
      maxImageVoxelsPerCall: 2 ** 21,
      overlapLatent: 2,
    });
    const n = 512 * 512 * 120;
    // 12 alive 48-channel float32 images of the largest plane (512 x 512); no tiling applies
    expect(est.memory.activationBytes).toBe(12 * 48 * 4 * 512 * 512);
    expect(est.memory.workerBytes).toBe(4 * (512 * 512 * 30 + 8 * n));
    const classical = estimateSuperResolution(g, plan, plane('classical'), null);
    expect(classical.memory.activationBytes).toBe(0);
  });

  it('a long series keeps whole slices and takes as many as 2^26 result voxels allow', () => {
    const long: SeriesGrid = { ...g, dims: [512, 512, 2000] };
    const x2z: TargetChoice = { kind: 'scale', factors: [1, 1, 2] };
    const region = fitRegion(long, x2z, manifest, 'classical');
    // 2^26 / (512 * 512 * 2) = 128 source slices, centred on slice 999.5
    expect(region).toEqual({ start: [0, 0, 936], dims: [512, 512, 128] });
    const form = (r: SuperResolveForm['region']) => ({
      region: r,
      target: x2z,
      settings: plane('classical'),
    });
    expect(planSuperResolution(long, form(region), manifest).ok).toBe(true);
    const more = { start: region.start, dims: [512, 512, 129] } as unknown as SuperResolveForm['region'];
    expect(planSuperResolution(long, form(more), manifest).ok).toBe(false);
  });
});

describe('the estimate takes the slice model the job will take', () => {
  const g = gridOf('lung-pet-ct-dx-a0002');
  const x4z: TargetChoice = { kind: 'scale', factors: [1, 1, 4] };
  const planes = {
    refinerPasses: [{ voxels: 1e6, seconds: 1 }],
    secondsPerProjectionWork: 1e-6,
    secondsPerOutputVoxel: 1e-8,
  };
  const seconds = (grid: SeriesGrid, slices: 'auto' | 'box' | 'gaussian' | 'point') => {
    const form = {
      region: fitRegion(grid, x4z, manifest, 'diffusion'),
      target: x4z,
      settings: { ...settings, slices },
    };
    const plan = planSuperResolution(grid, form, manifest) as PlanOk;
    expect(plan.ok).toBe(true);
    const s = { ...settings, slices, mode: 'classical' as const, samples: 1 };
    return estimateSuperResolution(grid, plan, s, null, null, { model: null as never, planes }).time!.seconds;
  };

  it("the grid carries the first image's SliceThickness and ImageType", () => {
    const first = readSeriesHeaders('lung-pet-ct-dx-a0002').map((h) => h.dataset as Record<string, unknown>);
    const thicknesses = new Set(first.map((d) => Number(d.SliceThickness)));
    expect(thicknesses.size).toBe(1);
    expect(g.header?.sliceThicknessMm).toBe([...thicknesses][0]);
    expect(g.header?.imageType).toEqual([...(first[0].ImageType as string[])]);
  });

  it('auto follows the header: thick overlapping slices estimate as Gaussian, reformats as point-sampled', () => {
    const spacing = g.spacingMm[2];
    const thick = {
      ...g,
      header: { sliceThicknessMm: 2 * spacing, imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    };
    const reformat = {
      ...g,
      header: { sliceThicknessMm: spacing, imageType: ['DERIVED', 'SECONDARY', 'REFORMATTED'] },
    };
    const none = { ...g, header: undefined };
    expect(seconds(thick, 'auto')).toBe(seconds(thick, 'gaussian'));
    expect(seconds(reformat, 'auto')).toBe(seconds(reformat, 'point'));
    expect(seconds(none, 'auto')).toBe(seconds(none, 'box'));
    // a Gaussian twice the spacing wide reaches more source slices than the box: more work
    expect(seconds(thick, 'auto')).toBeGreaterThan(seconds(none, 'auto'));
  });
});

describe('sampling settings', () => {
  it('accepts the manifest defaults and names each bad value', () => {
    expect(validateSettings(settings, manifest)).toEqual([]);
    expect(validateSettings({ ...settings, tStart: 1000 }, manifest).join()).toMatch(/1 to 999/);
    expect(validateSettings({ ...settings, ddimSteps: 101 }, manifest).join()).toMatch(/cannot exceed/);
    expect(validateSettings({ ...settings, samples: 0 }, manifest).join()).toMatch(/Samples/);
    expect(validateSettings({ ...settings, cycles: 1.5 }, manifest).join()).toMatch(/Cycles/);
    expect(validateSettings({ ...settings, seed: -1 }, manifest).join()).toMatch(/Seed/);
    expect(validateSettings({ ...settings, tStart: NaN }, manifest).join()).toMatch(/Noise level/);
  });
});
