import type { Dims3 } from '../geometry/conventions';
import type { CropBox } from '../volume/pad';
import { refinerBatch, refineVolume, type PlanePass } from './refiner';
import type { ModelSession, Float32Tensor } from './runtime';

/**
 * A refiner stand-in that records what each call was given (copied at call time, as a real
 * runtime consumes its input before the run resolves) and answers with the centre plane plus
 * `residual` (model units: HU / 1000).
 */
function recordingSession(residual = 0) {
  const calls: { planes: Float32Array; dims: number[]; acquisition: Float32Array }[] = [];
  const session: ModelSession = {
    name: 'refiner',
    inputNames: ['planes', 'acquisition'],
    outputNames: ['refined'],
    async run(feeds) {
      const planes = feeds.planes as Float32Tensor;
      const acq = feeds.acquisition as Float32Tensor;
      calls.push({ planes: planes.data.slice(), dims: [...planes.dims], acquisition: acq.data.slice() });
      const [b, , h, w] = planes.dims;
      const out = new Float32Array(b * h * w);
      for (let q = 0; q < b; q++)
        out.set(planes.data.subarray((q * 3 + 1) * h * w, (q * 3 + 2) * h * w), q * h * w);
      for (let v = 0; v < out.length; v++) out[v] += residual;
      return { refined: { data: out, dims: [b, 1, h, w] } };
    },
    release: async () => {},
  };
  return { session, calls };
}

/** HU values from -1500 to 3499 in a scrambled pattern: some clamp at each end of the model's range. */
function patternVolume(dims: Dims3): Float32Array {
  return Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, (_, q) => ((q * 7919) % 5000) - 1500);
}

describe('refineVolume feeds each plane with its neighbours, batch by batch', () => {
  // rows k (512), columns i (160), normal j (7 planes): 81,920 pixels a plane, so 3 planes a
  // call (2^18 voxels) and batches of 3, 3 and 1
  const dims: Dims3 = [160, 7, 512];
  const [nx, ny, nz] = dims;
  const x = patternVolume(dims);
  const pass: PlanePass = {
    rows: 2,
    cols: 0,
    normal: 1,
    flipRows: true,
    flipCols: false,
    features: Float32Array.from({ length: 12 }, (_, f) => f / 10),
  };
  // the plane through j = n as the model sees it: row h, column w (mirrored rows), clamped, / 1000
  const expectedPlane = (n: number) => {
    const p = new Float32Array(nz * nx);
    for (let h = 0; h < nz; h++)
      for (let w = 0; w < nx; w++) {
        const v = x[((nz - 1 - h) * ny + n) * nx + w];
        p[h * nx + w] = Math.min(3071, Math.max(-1024, v)) / 1000;
      }
    return p;
  };

  it('planes n-1, n, n+1 (repeated at the ends), features per item, result scattered back', async () => {
    const { session, calls } = recordingSession();
    const out = await refineVolume(session, x, dims, pass);
    expect(calls.map((c) => c.dims[0])).toEqual([3, 3, 1]);
    let n = 0;
    for (const call of calls) {
      const [b, c, h, w] = call.dims;
      expect([c, h, w]).toEqual([3, nz, nx]);
      expect(call.planes.length).toBe(b * 3 * h * w);
      for (let q = 0; q < b; q++, n++) {
        for (let ch = 0; ch < 3; ch++) {
          const want = expectedPlane(Math.min(ny - 1, Math.max(0, n + ch - 1)));
          const got = call.planes.subarray((q * 3 + ch) * h * w, (q * 3 + ch + 1) * h * w);
          expect(got).toEqual(want);
        }
        expect(Array.from(call.acquisition.subarray(q * 12, q * 12 + 12))).toEqual(Array.from(pass.features));
      }
      expect(call.acquisition.length).toBe(b * 12);
    }
    expect(n).toBe(ny);
    // the stand-in returns the centre plane: the result is the clamped input, in HU
    for (let q = 0; q < x.length; q += 997) {
      expect(out[q]).toBeCloseTo(Math.min(3071, Math.max(-1024, x[q])), 3);
    }
  });
});

describe('refineVolume with the normal along the contiguous axis, over several gather blocks', () => {
  // normal i (200 planes), rows k (300), columns j (40, mirrored): 12,000 pixels a plane, so 21
  // planes a call and blocks of 168 planes gathered at a time (2^21 voxels): calls of 21 (8 of
  // them), then 21 and 11 in the second block
  const dims: Dims3 = [200, 40, 300];
  const [nx, ny, nz] = dims;
  const x = patternVolume(dims);
  const pass: PlanePass = {
    rows: 2,
    cols: 1,
    normal: 0,
    flipRows: false,
    flipCols: true,
    features: Float32Array.from({ length: 12 }, (_, f) => 1 - f / 20),
  };

  it('feeds every plane and its clamped neighbours and scatters every result back', async () => {
    const { session, calls } = recordingSession();
    const out = await refineVolume(session, x, dims, pass);
    expect(calls.map((c) => c.dims[0])).toEqual([...new Array(9).fill(21), 11]);
    let n = 0;
    let wrong = 0;
    for (const call of calls) {
      const [b, c, h, w] = call.dims;
      expect([c, h, w]).toEqual([3, nz, ny]);
      for (let q = 0; q < b; q++, n++) {
        for (let ch = 0; ch < 3; ch++) {
          const i = Math.min(nx - 1, Math.max(0, n + ch - 1));
          const got = call.planes.subarray((q * 3 + ch) * h * w);
          // pixel (row k, column j) holds voxel (i, ny - 1 - j, k), clamped, / 1000
          for (let k = 0; k < nz; k++)
            for (let j = 0; j < ny; j++) {
              const v = x[(k * ny + (ny - 1 - j)) * nx + i];
              if (got[k * ny + j] !== Math.fround(Math.min(3071, Math.max(-1024, v)) / 1000)) wrong++;
            }
        }
      }
    }
    expect(n).toBe(nx);
    expect(wrong).toBe(0);
    // the stand-in returns the centre plane: every voxel comes back as its clamped input
    let off = 0;
    for (let q = 0; q < x.length; q++) {
      if (Math.abs(out[q] - Math.min(3071, Math.max(-1024, x[q]))) > 1e-3) off++;
    }
    expect(off).toBe(0);
  });
});

describe('refineVolume inside a box', () => {
  const clampHu = (v: number) => Math.min(3071, Math.max(-1024, v));
  const cases: { name: string; dims: Dims3; box: CropBox; pass: PlanePass }[] = [
    {
      name: 'normal j, rows k mirrored',
      dims: [30, 20, 16],
      box: { start: [4, 3, 2], dims: [21, 12, 11] },
      pass: { rows: 2, cols: 0, normal: 1, flipRows: true, flipCols: false, features: new Float32Array(12) },
    },
    {
      name: 'normal i (the contiguous axis), columns j mirrored',
      dims: [26, 18, 22],
      box: { start: [5, 0, 7], dims: [9, 17, 15] },
      pass: { rows: 2, cols: 1, normal: 0, flipRows: false, flipCols: true, features: new Float32Array(12) },
    },
  ];

  it.each(cases)(
    '$name: the box as a volume of its own; outside, the clamped input',
    async ({ dims, box, pass }) => {
      const x = patternVolume(dims);
      const { session, calls } = recordingSession(0.5);
      const out = await refineVolume(session, x, dims, pass, { box });
      const blended = await refineVolume(recordingSession(0.5).session, x, dims, pass, {
        box,
        blendVoxels: 3,
      });
      const at = (i: number, j: number, k: number) => x[(k * dims[1] + j) * dims[0] + i];
      const [H, W, N] = [box.dims[pass.rows], box.dims[pass.cols], box.dims[pass.normal]];
      // what plane n (box-local) holds at (h, w): independent of the gather's index arithmetic
      const voxel = (n: number, h: number, w: number) => {
        const ijk = [0, 0, 0];
        ijk[pass.normal] = box.start[pass.normal] + Math.min(N - 1, Math.max(0, n));
        ijk[pass.rows] = box.start[pass.rows] + (pass.flipRows ? H - 1 - h : h);
        ijk[pass.cols] = box.start[pass.cols] + (pass.flipCols ? W - 1 - w : w);
        return at(ijk[0], ijk[1], ijk[2]);
      };
      let n = 0;
      let wrong = 0;
      for (const call of calls) {
        const [b, , h, w] = call.dims;
        expect([h, w]).toEqual([H, W]);
        for (let q = 0; q < b; q++, n++)
          for (let ch = 0; ch < 3; ch++)
            for (let r = 0; r < H; r++)
              for (let c = 0; c < W; c++) {
                const want = Math.fround(clampHu(voxel(n + ch - 1, r, c)) / 1000);
                if (call.planes[((q * 3 + ch) * H + r) * W + c] !== want) wrong++;
              }
      }
      expect(n).toBe(N);
      expect(wrong).toBe(0);
      // inside the box the stand-in's residual (+500 HU), outside none; blended, the residual
      // times min(1, d / 3), d the distance to the nearest face the box cut (not the grid's edge)
      let inside = 0;
      let ramped = 0;
      let off = 0;
      let offBlended = 0;
      for (let k = 0; k < dims[2]; k++)
        for (let j = 0; j < dims[1]; j++)
          for (let i = 0; i < dims[0]; i++) {
            const ijk = [i, j, k];
            const inBox = ijk.every((v, a) => v >= box.start[a] && v < box.start[a] + box.dims[a]);
            let d = Infinity;
            for (let a = 0; a < 3; a++) {
              const end = box.start[a] + box.dims[a] - 1;
              if (box.start[a] > 0) d = Math.min(d, ijk[a] - box.start[a]);
              if (end < dims[a] - 1) d = Math.min(d, end - ijk[a]);
            }
            const w = inBox ? Math.min(1, d / 3) : 0;
            inside += inBox ? 1 : 0;
            ramped += inBox && w < 1 ? 1 : 0;
            const q = (k * dims[1] + j) * dims[0] + i;
            if (Math.abs(out[q] - (clampHu(at(i, j, k)) + (inBox ? 500 : 0))) > 1e-3) off++;
            if (Math.abs(blended[q] - (clampHu(at(i, j, k)) + 500 * w)) > 1e-3) offBlended++;
          }
      expect(inside).toBe(box.dims[0] * box.dims[1] * box.dims[2]);
      expect(ramped).toBeGreaterThan(0);
      expect(off).toBe(0);
      expect(offBlended).toBe(0);
    },
  );

  it('an empty box runs nothing and returns the clamped input; a box outside the grid is refused', async () => {
    const dims: Dims3 = [8, 6, 5];
    const x = patternVolume(dims);
    const { session, calls } = recordingSession(0.5);
    const out = await refineVolume(session, x, dims, cases[0].pass, {
      box: { start: [0, 0, 0], dims: [0, 0, 0] },
    });
    expect(calls).toHaveLength(0);
    expect(Array.from(out)).toEqual(Array.from(x, (v) => Math.fround(clampHu(v))));
    await expect(
      refineVolume(session, x, dims, cases[0].pass, { box: { start: [1, 0, 0], dims: [8, 6, 5] } }),
    ).rejects.toThrow(/refiner box outside the 8 x 6 x 5 grid/);
  });
});

describe("refineVolume over each plane group's columns", () => {
  it.each([1, 4])(
    "planes in groups of %i: cropped to their bodies' columns (grown, quantised), cut edges blended",
    async (group) => {
      // planes through j (normal), rows k, columns i mirrored; plane j's body at i = 5 + 2j .. 8 + 5j
      const dims: Dims3 = [40, 6, 10];
      const [nx, ny, nz] = dims;
      const x = new Float32Array(nx * ny * nz).fill(-1000);
      for (let j = 0; j < ny; j++)
        for (let i = 5 + 2 * j; i <= 8 + 5 * j; i++) x[(((3 + j) % nz) * ny + j) * nx + i] = 100 + i;
      const pass: PlanePass = {
        rows: 2,
        cols: 0,
        normal: 1,
        flipRows: false,
        flipCols: true,
        features: new Float32Array(12),
      };
      const { session, calls } = recordingSession(0.5);
      const out = await refineVolume(session, x, dims, pass, {
        blendVoxels: 2,
        planeColumns: { aboveHu: -500, marginVoxels: 3, quantumVoxels: 4, groupPlanes: group },
      });
      // plane j's columns (unmirrored): its group's bodies (planes g0..g1) grown by 3, widened to
      // multiples of 4
      const range = (j: number): [number, number] => {
        const g0 = j - (j % group);
        const g1 = Math.min(ny - 1, g0 + group - 1);
        return [
          Math.max(0, Math.floor((5 + 2 * g0 - 3) / 4) * 4),
          Math.min(nx - 1, Math.ceil((8 + 5 * g1 + 3 + 1) / 4) * 4 - 1),
        ];
      };
      // calls: runs of planes with the same columns, each as wide as they are
      let j = 0;
      for (const call of calls) {
        const [b, , h, w] = call.dims;
        expect(h).toBe(nz);
        for (let q = 0; q < b; q++) {
          const [L, R] = range(j + q);
          expect([L, R]).toEqual(range(j));
          expect(w).toBe(R - L + 1);
        }
        j += b;
      }
      expect(j).toBe(ny);
      // planes of different widths, the last one reaching the grid's edge (not blended there)
      expect(new Set(calls.map((c) => c.dims[3])).size).toBeGreaterThan(1);
      expect(range(ny - 1)[1]).toBe(nx - 1);
      let off = 0;
      for (let jj = 0; jj < ny; jj++) {
        const [L, R] = range(jj);
        for (let k = 0; k < nz; k++)
          for (let i = 0; i < nx; i++) {
            const d = Math.min(L > 0 ? i - L : Infinity, R < nx - 1 ? R - i : Infinity);
            const w = i < L || i > R ? 0 : Math.min(1, d / 2);
            const q = (k * ny + jj) * nx + i;
            if (Math.abs(out[q] - (Math.max(-1024, x[q]) + 500 * w)) > 1e-3) off++;
          }
      }
      expect(off).toBe(0);
    },
  );
});

describe('refinerBatch', () => {
  it('fills a call, then rounds down to a multiple of the threads when there are more planes', () => {
    // 272 x 272 planes: 3 fit in 2^18 voxels
    expect(refinerBatch(272 * 272, 288, 1)).toBe(3);
    expect(refinerBatch(272 * 272, 288, 2)).toBe(2);
    expect(refinerBatch(272 * 272, 288, 4)).toBe(3);
    // 128 x 132 planes: 15 fit
    expect(refinerBatch(128 * 132, 128, 2)).toBe(14);
    expect(refinerBatch(128 * 132, 128, 4)).toBe(12);
    expect(refinerBatch(128 * 132, 128, 3)).toBe(15);
    // never more than the planes, never fewer than one
    expect(refinerBatch(128 * 132, 5, 2)).toBe(4);
    expect(refinerBatch(128 * 132, 2, 2)).toBe(2);
    expect(refinerBatch(1024 * 1024, 40, 2)).toBe(1);
  });

  it('refineVolume sends calls of that size', async () => {
    const { session, calls } = recordingSession();
    const dims: Dims3 = [160, 7, 512];
    const x = new Float32Array(dims[0] * dims[1] * dims[2]);
    const pass: PlanePass = {
      rows: 2,
      cols: 0,
      normal: 1,
      flipRows: false,
      flipCols: false,
      features: new Float32Array(12),
    };
    await refineVolume(session, x, dims, pass, { threads: 2 });
    expect(calls.map((c) => c.dims[0])).toEqual([2, 2, 2, 1]);
  });
});
