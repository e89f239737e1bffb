import { execFileSync } from 'node:child_process';
import { TORCH } from '../../../../test/support/requirements';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  applyPoint,
  column,
  compose,
  fromColumns,
  rotationEulerDeg,
  scaling,
  translation,
  type Affine,
} from '../geometry/affine';
import type { Dims3, Vec3 } from '../geometry/conventions';
import { resample, resampleInto, resampleRange, type ResampleOptions } from './resample';
import { makeVolume, VolumeError, type Grid, type Volume } from './volume';

const REPO_ROOT = path.resolve(__dirname, '../../../..');
const FIXTURE = path.join(__dirname, '__fixtures__', 'resample-golden.json');
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'resample_reference.py');
const PYTHON = '/usr/bin/python3';

/** Deterministic PRNG (mulberry32) so that failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(r: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * r();
}

/** f = a + b*i + c*j + d*k of the SOURCE index. */
type Linear = readonly [number, number, number, number];

function linearAt(f: Linear, p: Vec3): number {
  return f[0] + f[1] * p[0] + f[2] * p[1] + f[3] * p[2];
}

function linearVolume(dims: Dims3, affine: Affine, f: Linear): Volume {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[(k * ny + j) * nx + i] = linearAt(f, [i, j, k]);
  return makeVolume(dims, affine, data, 'HU');
}

/** Random index -> patient affine: rotation * shear * anisotropic scaling, plus an offset. */
function randomAffine(r: () => number): Affine {
  const rot = rotationEulerDeg(uniform(r, -180, 180), uniform(r, -90, 90), uniform(r, -180, 180));
  const shear: Affine = [
    1,
    uniform(r, -0.4, 0.4),
    uniform(r, -0.4, 0.4),
    0,
    0,
    1,
    uniform(r, -0.4, 0.4),
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ];
  const scale = scaling([uniform(r, 0.4, 3), uniform(r, 0.4, 3), uniform(r, 0.5, 5)]);
  const offset = translation([uniform(r, -300, 300), uniform(r, -300, 300), uniform(r, -900, 100)]);
  return compose(offset, rot, shear, scale);
}

/** Random target-index -> source-index map T whose image of the target grid straddles the source box. */
function randomIndexMap(r: () => number, src: Dims3, tgt: Dims3): Affine {
  const rot = rotationEulerDeg(uniform(r, -60, 60), uniform(r, -60, 60), uniform(r, -60, 60));
  const shear: Affine = [
    1,
    uniform(r, -0.3, 0.3),
    0,
    0,
    0,
    1,
    uniform(r, -0.3, 0.3),
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ];
  const s = [0, 1, 2].map((a) => (uniform(r, 0.7, 1.5) * Math.max(src[a] - 1, 1)) / Math.max(tgt[a] - 1, 1));
  // Centre the target on a point near the source centre, so that some voxels are in and some out.
  const centreSrc: Vec3 = [0, 1, 2].map((a) => ((src[a] - 1) / 2) * uniform(r, 0.6, 1.4)) as unknown as Vec3;
  const centreTgt: Vec3 = [0, 1, 2].map((a) => -(tgt[a] - 1) / 2) as unknown as Vec3;
  return compose(translation(centreSrc), rot, shear, scaling(s as unknown as Vec3), translation(centreTgt));
}

function randomDims(r: () => number, lo: number, hi: number): Dims3 {
  return [0, 1, 2].map(() => lo + Math.floor(r() * (hi - lo + 1))) as unknown as Dims3;
}

/** How far p lies outside [0, n-1] on its worst axis (<= 0 inside). */
function outsideBy(p: Vec3, dims: Dims3): number {
  let m = -Infinity;
  for (let a = 0; a < 3; a++) m = Math.max(m, -p[a], p[a] - (dims[a] - 1));
  return m;
}

function clampToBox(p: Vec3, dims: Dims3): Vec3 {
  return [0, 1, 2].map((a) => Math.min(Math.max(p[a], 0), dims[a] - 1)) as unknown as Vec3;
}

/**
 * Checks a resampled volume against the analytic expectation: target voxel
 * (i, j, k) samples source index T * (i, j, k, 1); trilinear reproduces the
 * linear field exactly, at the clamped point ('border') or 'fill' outside.
 */
function expectLinearResult(
  out: Float32Array,
  src: Dims3,
  tgt: Dims3,
  t: Affine,
  f: Linear,
  opts: ResampleOptions,
  zRange: [number, number] = [0, tgt[2]],
): { inside: number; outside: number } {
  // Scale for the relative tolerance: the largest |f| over the source box.
  let scale = 0;
  for (const c of [0, 1].flatMap((x) => [0, 1].flatMap((y) => [0, 1].map((z) => [x, y, z]))))
    scale = Math.max(
      scale,
      Math.abs(linearAt(f, [c[0] * (src[0] - 1), c[1] * (src[1] - 1), c[2] * (src[2] - 1)])),
    );
  // Exact but for float32 storage of the source and output (~6e-8 relative).
  const tol = 2e-6 * Math.max(scale, 1e-3);
  let inside = 0;
  let outside = 0;
  const [tnx, tny] = tgt;
  for (let k = zRange[0]; k < zRange[1]; k++) {
    for (let j = 0; j < tny; j++) {
      for (let i = 0; i < tnx; i++) {
        const p = applyPoint(t, [i, j, k]);
        const got = out[(k * tny + j) * tnx + i];
        const d = outsideBy(p, src);
        if (opts.outside === 'constant' && d > 1e-5) {
          outside++;
          if (Number.isNaN(opts.fill)) expect(got).toBeNaN();
          else expect(got).toBe(opts.fill);
          continue;
        }
        if (opts.outside === 'constant' && d > 1e-7) continue; // within the policy's own tolerance band: either is fine
        inside += d <= 0 ? 1 : 0;
        const want = linearAt(f, clampToBox(p, src));
        if (!(Math.abs(got - want) <= tol)) {
          throw new Error(
            `voxel (${i}, ${j}, ${k}) at source ${p.join(', ')}: got ${got}, want ${want} (tol ${tol})`,
          );
        }
      }
    }
  }
  return { inside, outside };
}

describe('resample: analytic linear fields under random affines', () => {
  const policies: ResampleOptions[] = [{ outside: 'border' }, { outside: 'constant', fill: -777 }];

  for (let seed = 1; seed <= 12; seed++) {
    it(`random source/target affines, seed ${seed}`, () => {
      const r = rng(seed);
      const srcDims = randomDims(r, 2, 9);
      const tgtDims = randomDims(r, 3, 11);
      const srcAffine = randomAffine(r);
      const t = randomIndexMap(r, srcDims, tgtDims);
      const target: Grid = { dims: tgtDims, affine: compose(srcAffine, t) };
      const f: Linear = [
        uniform(r, -500, 500),
        uniform(r, -50, 50),
        uniform(r, -50, 50),
        uniform(r, -50, 50),
      ];
      const src = linearVolume(srcDims, srcAffine, f);
      for (const opts of policies) {
        const out = resample(src, target, opts);
        expect(out.dims).toEqual(tgtDims);
        expect(out.affine).toEqual(target.affine);
        expect(out.unit).toBe('HU');
        expectLinearResult(out.data, srcDims, tgtDims, t, f, opts);
      }
    });
  }

  it('covers points both inside and outside the source box over the random cases', () => {
    let inside = 0;
    let outside = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const srcDims = randomDims(r, 2, 9);
      const tgtDims = randomDims(r, 3, 11);
      const srcAffine = randomAffine(r);
      const t = randomIndexMap(r, srcDims, tgtDims);
      const f: Linear = [1, 2, 3, 4];
      const out = resample(
        linearVolume(srcDims, srcAffine, f),
        { dims: tgtDims, affine: compose(srcAffine, t) },
        {
          outside: 'constant',
          fill: -1,
        },
      );
      const c = expectLinearResult(out.data, srcDims, tgtDims, t, f, { outside: 'constant', fill: -1 });
      inside += c.inside;
      outside += c.outside;
    }
    expect(inside).toBeGreaterThan(500);
    expect(outside).toBeGreaterThan(500);
  });

  it('axis-aligned upsampling (row-constant fast path), partly out of field', () => {
    const srcDims: Dims3 = [6, 5, 4];
    const srcAffine = compose(translation([-100, 20, -300]), scaling([2.5, 2.5, 4]));
    const f: Linear = [3, -1.5, 2.25, 7];
    const src = linearVolume(srcDims, srcAffine, f);
    const grids: [Dims3, Affine][] = [
      [[17, 13, 11], compose(translation([-0.9, -0.45, 0.3]), scaling([0.4, 0.38, 0.35]))],
      // Starts inside the source (only part of each source row is needed) and runs past its end.
      [[6, 5, 5], compose(translation([1.7, 0.3, 0.2]), scaling([0.7, 0.5, 0.5]))],
      // Mirrored: i runs towards -x.
      [[9, 4, 4], compose(translation([5.6, 0.5, 0.5]), scaling([-0.6, 1, 0.8]))],
    ];
    for (const [tgtDims, t] of grids) {
      for (const opts of [{ outside: 'border' }, { outside: 'constant', fill: NaN }] as ResampleOptions[]) {
        const out = resample(src, { dims: tgtDims, affine: compose(srcAffine, t) }, opts);
        const c = expectLinearResult(out.data, srcDims, tgtDims, t, f, opts);
        if (opts.outside === 'constant') expect(c.outside).toBeGreaterThan(0);
      }
    }
  });

  it('rows entirely beyond either end of the source row (fast path) read the right source voxels', () => {
    // Source slice k = 0 holds a NaN that must not leak into target row 1,
    // which samples slice k = 2 only (NaN spreads to its neighbours within
    // row 0, as in grid_sample: 0 * NaN = NaN).
    const planes = (p0: number[]) => Float32Array.from([...p0, 1, 2, 3, 4, 6, 7, 8, 9]);
    const right = makeVolume([4, 1, 3], scaling([2, 3, 4]), planes([0, 0, NaN, 5]), 'HU');
    // Target row j samples source (x, y, z) = (i + 10 j, 0, 2 j): row 1 lies right of slice 2.
    const toRight: Affine = [1, 10, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 1];
    const r = resample(
      right,
      { dims: [4, 2, 1], affine: compose(right.affine, toRight) },
      { outside: 'border' },
    );
    expect(Array.from(r.data)).toEqual([0, NaN, NaN, NaN, 9, 9, 9, 9]);
    const left = makeVolume([4, 1, 3], scaling([2, 3, 4]), planes([0, NaN, 0, 5]), 'HU');
    // (x, y, z) = (i - 10 j, 0, 2 j): row 1 lies left of slice 2.
    const toLeft: Affine = [1, -10, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 1];
    const l = resample(
      left,
      { dims: [4, 2, 1], affine: compose(left.affine, toLeft) },
      { outside: 'border' },
    );
    expect(Array.from(l.data)).toEqual([NaN, NaN, 0, 5, 6, 6, 6, 6]);
  });

  it('rotation about the i axis (rows keep their source row/slice) and a general rotation', () => {
    const srcDims: Dims3 = [7, 8, 6];
    const srcAffine = compose(translation([5, -7, 11]), scaling([0.8, 0.9, 1.7]));
    const f: Linear = [-20, 0.5, 3, -4];
    const src = linearVolume(srcDims, srcAffine, f);
    const tgtDims: Dims3 = [9, 9, 9];
    const centre = translation([3, 3.5, 2.5]);
    for (const rot of [rotationEulerDeg(30, 0, 0), rotationEulerDeg(12, -25, 40)]) {
      const t = compose(centre, rot, scaling([0.75, 0.8, 0.6]), translation([-4, -4, -4]));
      for (const opts of [{ outside: 'border' }, { outside: 'constant', fill: 1e6 }] as ResampleOptions[]) {
        const out = resample(src, { dims: tgtDims, affine: compose(srcAffine, t) }, opts);
        expectLinearResult(out.data, srcDims, tgtDims, t, f, opts);
      }
    }
  });

  it('grids that share their edges never get the fill from round-off', () => {
    // Source with an awkward patient geometry; the target spans exactly the same
    // box of voxel centres at another resolution, built in patient space.
    const srcDims: Dims3 = [9, 7, 5];
    const srcAffine = compose(
      translation([-123.4, 56.7, -890.1]),
      rotationEulerDeg(17, -23, 41),
      scaling([0.7, 0.83, 1.9]),
    );
    const f: Linear = [100, 3, -2, 5];
    const src = linearVolume(srcDims, srcAffine, f);
    const tgtDims: Dims3 = [25, 19, 13];
    const origin = applyPoint(srcAffine, [0, 0, 0]);
    const ex = column(srcAffine, 0).map((v) => (v * 8) / 24) as unknown as Vec3;
    const ey = column(srcAffine, 1).map((v) => (v * 6) / 18) as unknown as Vec3;
    const ez = column(srcAffine, 2).map((v) => (v * 4) / 12) as unknown as Vec3;
    const target: Grid = { dims: tgtDims, affine: fromColumns(ex, ey, ez, origin) };
    const out = resample(src, target, { outside: 'constant', fill: NaN });
    const t = scaling([1 / 3, 1 / 3, 1 / 3]);
    for (const v of out.data) expect(v).not.toBeNaN();
    expectLinearResult(out.data, srcDims, tgtDims, t, f, { outside: 'border' });
  });

  it('a point beyond the tolerance gets the fill, one within it does not', () => {
    const src = linearVolume([4, 4, 4], scaling([1, 1, 1]), [1, 1, 1, 1]);
    const grid = (x: number): Grid => ({ dims: [1, 1, 1], affine: translation([x, 1, 1]) });
    const opts: ResampleOptions = { outside: 'constant', fill: -5 };
    expect(resample(src, grid(3 + 5e-7), opts).data[0]).toBeCloseTo(1 + 3 + 1 + 1, 5);
    expect(resample(src, grid(-5e-7), opts).data[0]).toBeCloseTo(1 + 0 + 1 + 1, 5);
    expect(resample(src, grid(3 + 2e-6), opts).data[0]).toBe(-5);
    expect(resample(src, grid(-2e-6), opts).data[0]).toBe(-5);
    expect(resample(src, grid(-2e-6), { outside: 'border' }).data[0]).toBeCloseTo(3, 5);
  });
});

describe('resample: source axes of size 1', () => {
  const cases: { dims: Dims3; f: Linear }[] = [
    { dims: [5, 4, 1], f: [2, 1.5, -3, 0] },
    { dims: [1, 6, 1], f: [-4, 0, 2.5, 0] },
    { dims: [6, 1, 3], f: [1, -2, 0, 4] },
    { dims: [1, 1, 1], f: [42, 0, 0, 0] },
  ];
  for (const { dims, f } of cases) {
    it(`source [${dims.join(', ')}]`, () => {
      const r = rng(dims[0] * 100 + dims[1] * 10 + dims[2]);
      const srcAffine = randomAffine(r);
      const src = linearVolume(dims, srcAffine, f);
      const tgtDims: Dims3 = [7, 6, 3];
      // On a size-1 axis, target slice k samples source index 0.5 * k: in the
      // plane for k = 0, off it (clamped, or fill) for k > 0. The other axes
      // overshoot the source box a little at both ends.
      const [nx, ny, nz] = dims;
      const flat = [0, 0, 0.5, 0];
      const rows = [
        nx === 1 ? flat : [((nx - 1) * 1.2) / 6, 0.1, 0, -0.2],
        ny === 1 ? flat : [0.05, ((ny - 1) * 1.2) / 5, 0, -0.25],
        nz === 1 ? flat : [0, 0, (nz - 1) / 2, 0],
      ];
      const t: Affine = [...rows[0], ...rows[1], ...rows[2], 0, 0, 0, 1];
      const target: Grid = { dims: tgtDims, affine: compose(srcAffine, t) };
      const border = resample(src, target, { outside: 'border' });
      const b = expectLinearResult(border.data, dims, tgtDims, t, f, { outside: 'border' });
      expect(b.inside).toBeGreaterThan(0);
      const fill = -123;
      const constant = resample(src, target, { outside: 'constant', fill });
      const c = expectLinearResult(constant.data, dims, tgtDims, t, f, { outside: 'constant', fill });
      expect(c.inside).toBeGreaterThan(0);
      expect(c.outside).toBeGreaterThan(0);
      if (nx * ny === 1) {
        // The whole of slice 0 lies on the source line/point: no fill there.
        for (let n = 0; n < tgtDims[0] * tgtDims[1]; n++) expect(constant.data[n]).not.toBe(fill);
      }
    });
  }
});

describe('resampleRange / resampleInto', () => {
  const srcDims: Dims3 = [6, 7, 5];
  const srcAffine = compose(translation([10, 20, 30]), rotationEulerDeg(5, 10, 15), scaling([1.1, 0.9, 2.2]));
  const f: Linear = [7, 1, 2, 3];
  const src = linearVolume(srcDims, srcAffine, f);
  const tgtDims: Dims3 = [8, 9, 10];
  const t = compose(translation([-0.5, -0.5, -0.5]), rotationEulerDeg(0, 0, 20), scaling([0.8, 0.8, 0.55]));
  const target: Grid = { dims: tgtDims, affine: compose(srcAffine, t) };
  const n = tgtDims[0] * tgtDims[1] * tgtDims[2];
  const slice = tgtDims[0] * tgtDims[1];

  it('writes only slices [z0, z1) of the full-size output', () => {
    const out = new Float32Array(n).fill(12345);
    resampleRange(src, target, out, 3, 6, { outside: 'border' });
    expectLinearResult(out, srcDims, tgtDims, t, f, { outside: 'border' }, [3, 6]);
    for (let o = 0; o < 3 * slice; o++) expect(out[o]).toBe(12345);
    for (let o = 6 * slice; o < n; o++) expect(out[o]).toBe(12345);
  });

  it('disjoint ranges in any order assemble the whole volume', () => {
    const out = new Float32Array(n).fill(NaN);
    const opts: ResampleOptions = { outside: 'constant', fill: -9 };
    for (const [z0, z1] of [
      [7, 10],
      [0, 1],
      [4, 7],
      [1, 4],
      [5, 5],
    ])
      resampleRange(src, target, out, z0, z1, opts);
    expectLinearResult(out, srcDims, tgtDims, t, f, opts);
  });

  it('resampleInto fills and returns the caller array', () => {
    const out = new Float32Array(n).fill(NaN);
    expect(resampleInto(src, target, out, { outside: 'border' })).toBe(out);
    expectLinearResult(out, srcDims, tgtDims, t, f, { outside: 'border' });
  });

  it('rejects bad ranges, sizes and options with typed errors', () => {
    const out = new Float32Array(n);
    const code = (fn: () => void): string | undefined => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(VolumeError);
        return (e as VolumeError).code;
      }
      return undefined;
    };
    const border: ResampleOptions = { outside: 'border' };
    expect(code(() => resampleRange(src, target, out, -1, 2, border))).toBe('invalid-argument');
    expect(code(() => resampleRange(src, target, out, 3, 2, border))).toBe('invalid-argument');
    expect(code(() => resampleRange(src, target, out, 0, 11, border))).toBe('invalid-argument');
    expect(code(() => resampleRange(src, target, out, 0.5, 2, border))).toBe('invalid-argument');
    expect(code(() => resampleRange(src, target, new Float32Array(n - 1), 0, 1, border))).toBe(
      'shape-mismatch',
    );
    expect(code(() => resampleInto(src, target, new Float32Array(n + 1), border))).toBe('shape-mismatch');
    expect(code(() => resample(src, { dims: [0, 2, 2], affine: target.affine }, border))).toBe(
      'invalid-grid',
    );
    expect(code(() => resample(src, { dims: [2, 2, 2], affine: [1, 2, 3] }, border))).toBe('invalid-grid');
    expect(code(() => resample({ ...src, data: new Float32Array(3) }, target, border))).toBe(
      'shape-mismatch',
    );
    const bad = [{}, { outside: 'zeros' }, { outside: 'constant' }, { outside: 'constant', fill: '0' }];
    for (const o of bad)
      expect(code(() => resample(src, target, o as unknown as ResampleOptions))).toBe('invalid-argument');
  });
});

// ---------------------------------------------------------------------------
// Golden fixture from torch.nn.functional.grid_sample (test/reference/resample_reference.py).

interface FixtureGrid {
  dims: [number, number, number];
  affine: number[];
}
interface FixtureCase {
  name: string;
  source: string;
  target: FixtureGrid;
  border: number[];
  zeros?: number[];
  inside?: number[];
}
interface Fixture {
  insideTolerance: number;
  sources: Record<string, FixtureGrid & { data: number[] }>;
  cases: FixtureCase[];
}

describe('resample: torch grid_sample golden fixture', () => {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;
  const sources: Record<string, Volume> = {};
  for (const [name, s] of Object.entries(fixture.sources))
    sources[name] = makeVolume(s.dims, s.affine, Float32Array.from(s.data), 'HU');

  it('has the expected cases', () => {
    expect(fixture.cases.map((c) => c.name)).toEqual([
      'identity',
      'upsample-x2-edge-to-edge',
      'rotation-30deg',
      'shear',
      'partially-out-of-field',
      'general-affine',
      'flat-source-rotated-off-plane',
    ]);
    expect(fixture.insideTolerance).toBe(1e-6);
  });

  for (const name of [
    'identity',
    'upsample-x2-edge-to-edge',
    'rotation-30deg',
    'shear',
    'partially-out-of-field',
    'general-affine',
    'flat-source-rotated-off-plane',
  ]) {
    it(name, () => {
      const c = fixture.cases.find((x) => x.name === name);
      if (!c) throw new Error(`fixture case ${name} missing`);
      const src = sources[c.source];
      const target: Grid = { dims: c.target.dims, affine: c.target.affine };
      const close = (got: number, want: number) => Math.abs(got - want) <= 2e-6 * (1 + Math.abs(want));

      const border = resample(src, target, { outside: 'border' }).data;
      expect(border.length).toBe(c.border.length);
      let bad = 0;
      for (let n = 0; n < border.length; n++) if (!close(border[n], c.border[n])) bad++;
      expect(bad).toBe(0);

      if (c.zeros && c.inside) {
        const fill = -1e4;
        const constant = resample(src, target, { outside: 'constant', fill }).data;
        let compared = 0;
        for (let n = 0; n < constant.length; n++) {
          if (c.inside[n] === 1) {
            compared++;
            if (!close(constant[n], c.zeros[n])) bad++;
          } else if (constant[n] !== fill) bad++;
        }
        expect(bad).toBe(0);
        expect(compared).toBeGreaterThan(0);
      }
    });
  }

  it('the identity case reproduces the source exactly', () => {
    const c = fixture.cases[0];
    const out = resample(
      sources.main,
      { dims: c.target.dims, affine: c.target.affine },
      { outside: 'border' },
    );
    const want = Float32Array.from(fixture.sources.main.data);
    let maxErr = 0;
    for (let n = 0; n < want.length; n++) maxErr = Math.max(maxErr, Math.abs(out.data[n] - want[n]));
    expect(maxErr).toBeLessThan(1e-6);
  });

  const torch = TORCH();
  torch.test('the committed fixture matches a fresh run of the Python reference script', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'resample-golden-'));
    try {
      const out = path.join(dir, 'golden.json');
      execFileSync(PYTHON, [SCRIPT, '--out', out], { stdio: 'pipe', timeout: 110_000 });
      const fresh = JSON.parse(readFileSync(out, 'utf8')) as unknown;
      const committed = JSON.parse(readFileSync(FIXTURE, 'utf8')) as unknown;
      expect(differences(fresh, committed, '$')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Paths where two JSON values differ (numbers compared to 1e-9 relative). */
function differences(a: unknown, b: unknown, at: string, out: string[] = []): string[] {
  if (out.length > 20) return out;
  if (typeof a === 'number' && typeof b === 'number') {
    if (!(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)))) out.push(`${at}: ${a} != ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${at}: length ${a.length} != ${b.length}`);
    else a.forEach((x, n) => differences(x, b[n], `${at}[${n}]`, out));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) out.push(`${at}: keys ${ka.join()} != ${kb.join()}`);
    else
      for (const k of ka)
        differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`, out);
  } else if (a !== b) out.push(`${at}: ${String(a)} != ${String(b)}`);
  return out;
}
