import { applyPoint, applyVector } from './affine';
import {
  DEFAULT_TOLERANCES,
  regularGeometry,
  sliceStack,
  stackReport,
  stackVoxelPosition,
  type SliceGeometryInput,
} from './dicomGeometry';
import { GeometryError, type GeometryErrorCode } from './errors';
import { readHeader, readSeriesHeaders, type RealSeriesName } from '../../../../test/support/sharedData';

function axialSlices(n: number, gap: number, opts: Partial<SliceGeometryInput> = {}): SliceGeometryInput[] {
  return Array.from({ length: n }, (_, k) => ({
    imagePositionPatient: [-100, -80, 30 + k * gap],
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    pixelSpacing: [0.8, 0.6],
    rows: 4,
    columns: 5,
    sliceThickness: gap,
    id: `s${k}`,
    ...opts,
  }));
}

function expectCode(fn: () => unknown, code: GeometryErrorCode): GeometryError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GeometryError);
  expect((err as GeometryError).code).toBe(code);
  return err as GeometryError;
}

describe('regularGeometry on synthetic stacks', () => {
  it('orders slices along the normal and honours DICOM PixelSpacing order (row spacing first)', () => {
    const slices = axialSlices(4, 2.5).reverse(); // given in descending order
    const g = regularGeometry(slices);
    expect(g.dims).toEqual([5, 4, 4]);
    expect(g.stack.order).toEqual([3, 2, 1, 0]);
    // i (columns) moves along X by the COLUMN spacing (second value), j along Y by the row spacing.
    expect(applyVector(g.affine, [1, 0, 0])).toEqual([0.6, 0, 0]);
    expect(applyVector(g.affine, [0, 1, 0])).toEqual([0, 0.8, 0]);
    expect(applyVector(g.affine, [0, 0, 1]).map((v) => +v.toFixed(12))).toEqual([0, 0, 2.5]);
    expect(applyPoint(g.affine, [0, 0, 0])).toEqual([-100, -80, 30]);
  });

  it('puts k along X x Y for a non-axial orientation', () => {
    // Sagittal: rows along +y, columns along -z: normal = y x -z = -x.
    const slices = [0, 1, 2].map((k) => ({
      imagePositionPatient: [10 - 3 * k, 0, 0],
      imageOrientationPatient: [0, 1, 0, 0, 0, -1],
      pixelSpacing: [1, 1],
      rows: 2,
      columns: 2,
    }));
    const g = regularGeometry(slices);
    expect(applyVector(g.affine, [0, 0, 1]).map((v) => +v.toFixed(12))).toEqual([-3, 0, 0]);
    expect(applyPoint(g.affine, [0, 0, 0])).toEqual([10, 0, 0]);
  });

  it.each<[string, SliceGeometryInput[], GeometryErrorCode]>([
    [
      'missing IPP',
      axialSlices(3, 2).map((s, k) => (k === 1 ? { ...s, imagePositionPatient: null } : s)),
      'missing-tag',
    ],
    ['missing IOP', axialSlices(3, 2, { imageOrientationPatient: undefined }), 'missing-tag'],
    ['missing PixelSpacing', axialSlices(3, 2, { pixelSpacing: null }), 'missing-tag'],
    ['missing Rows', axialSlices(3, 2, { rows: null }), 'missing-tag'],
    [
      'non-orthonormal IOP',
      axialSlices(3, 2, { imageOrientationPatient: [1, 0, 0, 0.3, 1, 0] }),
      'contradictory-tags',
    ],
    ['negative spacing', axialSlices(3, 2, { pixelSpacing: [-1, 1] }), 'contradictory-tags'],
    ['mixed sizes', axialSlices(3, 2).map((s, k) => (k === 2 ? { ...s, rows: 8 } : s)), 'contradictory-tags'],
    [
      'mixed orientation',
      axialSlices(3, 2).map((s, k) => (k === 2 ? { ...s, imageOrientationPatient: [0, 1, 0, 1, 0, 0] } : s)),
      'mixed-orientation',
    ],
    [
      'duplicate position',
      axialSlices(3, 2).map((s, k) => (k === 2 ? { ...s, imagePositionPatient: [-100, -80, 30] } : s)),
      'duplicate-position',
    ],
    ['single slice', axialSlices(1, 2), 'single-slice'],
    [
      'non-uniform spacing',
      axialSlices(4, 2).map((s, k) => (k === 3 ? { ...s, imagePositionPatient: [-100, -80, 30 + 7] } : s)),
      'non-uniform-spacing',
    ],
    [
      'gantry tilt',
      axialSlices(4, 2).map((s, k) => ({ ...s, imagePositionPatient: [-100, -80 + k * 0.7, 30 + k * 2] })),
      'gantry-tilt',
    ],
  ])('%s is reported with a typed error', (_name, slices, code) => {
    expectCode(() => regularGeometry(slices), code);
  });

  it('accepts a single slice only when asked and when SliceThickness defines it', () => {
    const g = regularGeometry(axialSlices(1, 3), { allowSingleSlice: true });
    expect(applyVector(g.affine, [0, 0, 1])).toEqual([0, 0, 3]);
    expectCode(
      () => regularGeometry(axialSlices(1, 3, { sliceThickness: null }), { allowSingleSlice: true }),
      'missing-tag',
    );
  });

  it('accepts a uniform tilt when asked, with an exact sheared affine', () => {
    const slices = axialSlices(5, 2).map((s, k) => ({
      ...s,
      imagePositionPatient: [-100, -80 + k * 0.7, 30 + k * 2],
    }));
    const g = regularGeometry(slices, { allowTilt: true });
    expect(g.report.tilted).toBe(true);
    expect(g.report.tiltDeg).toBeCloseTo((Math.atan2(0.7, 2) * 180) / Math.PI, 9);
    for (let k = 0; k < 5; k++) {
      applyPoint(g.affine, [3, 2, k]).forEach((v, a) =>
        expect(v).toBeCloseTo(stackVoxelPosition(g.stack, 3, 2, k)[a], 9),
      );
    }
  });

  it('tolerates header round-off in spacing within the stated tolerance', () => {
    const slices = axialSlices(5, 1.25).map((s, k) => ({
      ...s,
      imagePositionPatient: [-100, -80, +(30 + k * 1.25 + (k % 2 ? 0.004 : -0.004)).toFixed(4)],
    }));
    expect(() => regularGeometry(slices)).not.toThrow();
  });
});

describe('every slice lies on the stack line (absolute in-plane tolerance in mm)', () => {
  const tolMm = DEFAULT_TOLERANCES.positionAbsMm;

  it('a middle slice shifted 5 mm sideways is rejected, naming it, also with allowTilt', () => {
    const slices = axialSlices(5, 2).map((s, k) =>
      k === 2 ? { ...s, imagePositionPatient: [-95, -80, 34] } : s,
    );
    for (const options of [
      {},
      { allowTilt: true },
      { allowTilt: true, tolerances: { spacingRelative: Infinity } },
    ]) {
      const err = expectCode(() => regularGeometry(slices, options), 'misaligned-slice');
      expect(err.details.slice).toBe('s2');
      expect(err.details.slices).toEqual(['s2']);
      expect(err.details.deviationMm as number).toBeCloseTo(5, 9);
      expect(err.message).toContain('s2');
      // The full report travels too: no tilt (the end slices are aligned), uniform gaps.
      expect(err.details.tilted).toBe(false);
      expect(err.details.nonUniform).toBe(false);
      expect(err.details.gapsMm).toEqual([2, 2, 2, 2]);
    }
  });

  it('the offending slice is found whatever order the slices come in', () => {
    const slices = axialSlices(5, 2)
      .map((s, k) => (k === 3 ? { ...s, imagePositionPatient: [-100, -79.9, 36] } : s))
      .reverse();
    const err = expectCode(() => regularGeometry(slices), 'misaligned-slice');
    expect(err.details.slice).toBe('s3');
    expect(err.details.deviationMm as number).toBeCloseTo(0.1, 9);
  });

  it('a shift inside the tolerance is accepted, one just above it is not', () => {
    const shifted = (mm: number): SliceGeometryInput[] =>
      axialSlices(5, 2).map((s, k) => (k === 1 ? { ...s, imagePositionPatient: [-100 + mm, -80, 32] } : s));
    expect(() => regularGeometry(shifted(0.6 * tolMm))).not.toThrow();
    expectCode(() => regularGeometry(shifted(1.5 * tolMm)), 'misaligned-slice');
    // Configurable: a looser tolerance accepts it.
    expect(() =>
      regularGeometry(shifted(1.5 * tolMm), { tolerances: { positionAbsMm: 2 * tolMm } }),
    ).not.toThrow();
  });

  it('a slice off the line of a tilted stack is rejected too (the line is first -> last, not the normal)', () => {
    // Uniform 0.7 mm / slice drift along y, slice 3 additionally 0.3 mm along x.
    const slices = axialSlices(6, 2).map((s, k) => ({
      ...s,
      imagePositionPatient: [-100 + (k === 3 ? 0.3 : 0), -80 + 0.7 * k, 30 + 2 * k],
    }));
    const err = expectCode(() => regularGeometry(slices, { allowTilt: true }), 'misaligned-slice');
    expect(err.details.slice).toBe('s3');
    expect(err.details.deviationMm as number).toBeCloseTo(0.3, 9);
    expect(err.details.tilted).toBe(true);
    expect(err.details.tiltDeg as number).toBeCloseTo((Math.atan2(0.7, 2) * 180) / Math.PI, 9);
  });
});

describe('tilt is judged by in-plane drift in mm as well as by angle', () => {
  // 400 slices, 2.5 mm apart (997.5 mm): a 0.05 degree tilt is under the angular tolerance
  // but drifts tan(0.05 deg) * 997.5 mm = 0.87 mm in-plane from the first to the last slice.
  const n = 400;
  const gap = 2.5;
  const angleDeg = 0.05;
  const perSlice = gap * Math.tan((angleDeg * Math.PI) / 180);
  const ipp = (k: number): number[] => [-100, +(-80 + k * perSlice).toFixed(6), 30 + k * gap];
  const slices = axialSlices(n, gap).map((s, k) => ({ ...s, imagePositionPatient: ipp(k) }));

  it('is detected as tilted, not snapped onto the normal', () => {
    expect(angleDeg).toBeLessThan(DEFAULT_TOLERANCES.tiltDeg);
    const report = stackReport(sliceStack(slices));
    expect(report.tiltDeg).toBeCloseTo(angleDeg, 4);
    expect(report.inPlaneDriftMm).toBeCloseTo((n - 1) * perSlice, 5);
    expect(report.inPlaneDriftMm).toBeGreaterThan(DEFAULT_TOLERANCES.positionAbsMm);
    expect(report.tilted).toBe(true);
    const err = expectCode(() => regularGeometry(slices), 'gantry-tilt');
    expect(err.details.inPlaneDriftMm as number).toBeCloseTo((n - 1) * perSlice, 5);
  });

  it('with allowTilt the sheared affine puts every slice where its header says', () => {
    const g = regularGeometry(slices, { allowTilt: true });
    for (let k = 0; k < n; k++) {
      const got = applyPoint(g.affine, [0, 0, k]);
      const want = ipp(k);
      for (let a = 0; a < 3; a++) expect(Math.abs(got[a] - want[a])).toBeLessThan(1e-5);
    }
  });

  it('a short stack with the same angle stays untilted (drift under the mm tolerance)', () => {
    const short = slices.slice(0, 10); // drift 9 * 0.00218 = 0.0196 mm
    const g = regularGeometry(short);
    expect(g.report.tilted).toBe(false);
    expect(applyVector(g.affine, [0, 0, 1]).map((v) => +v.toFixed(12))).toEqual([0, 0, gap]);
    for (let k = 0; k < 10; k++) {
      const got = applyPoint(g.affine, [0, 0, k]);
      const want = ipp(k);
      for (let a = 0; a < 3; a++)
        expect(Math.abs(got[a] - want[a])).toBeLessThan(DEFAULT_TOLERANCES.positionAbsMm);
    }
  });
});

/** Expected grid and spacing of each real series, from ../shared/data/README.md. */
const REAL: Array<[RealSeriesName, [number, number, number], [number, number], number | 'tilted']> = [
  ['lidc-idri-0001', [512, 512, 133], [0.703, 0.703], 2.5],
  ['lung-pet-ct-dx-a0001', [512, 512, 64], [0.842, 0.842], 5.0],
  ['lung-pet-ct-dx-a0002', [512, 512, 30], [0.646, 0.646], 8.0],
  ['totalseg-abdomen', [512, 512, 20], [0.977, 0.977], 2.0],
  ['ge-head-gantry-tilt', [512, 512, 28], [0.488, 0.488], 'tilted'],
];

describe('geometry of every real series in ../shared/data', () => {
  it.each(REAL)('%s', (name, dims, inPlane, sliceGap) => {
    const headers = readSeriesHeaders(name);
    const slices: SliceGeometryInput[] = headers.map((h) => ({
      imagePositionPatient: h.dataset.ImagePositionPatient as number[],
      imageOrientationPatient: h.dataset.ImageOrientationPatient as number[],
      pixelSpacing: h.dataset.PixelSpacing as number[],
      rows: h.dataset.Rows as number,
      columns: h.dataset.Columns as number,
      sliceThickness: h.dataset.SliceThickness as number,
      id: h.file,
    }));
    const stack = sliceStack(slices);
    expect(stack.dims).toEqual(dims);
    expect(stack.inPlaneSpacingMm[0]).toBeCloseTo(inPlane[0], 2);
    expect(stack.inPlaneSpacingMm[1]).toBeCloseTo(inPlane[1], 2);

    if (sliceGap === 'tilted') {
      // README: +18.5 degree tilt, gaps vary 1.08 .. 7.00 mm. Must be reported, never mis-placed.
      const report = stackReport(stack);
      expect(report.tilted).toBe(true);
      expect(report.tiltDeg).toBeCloseTo(18.5, 1);
      expect(headers[0].dataset.GantryDetectorTilt).toBeCloseTo(report.tiltDeg, 1);
      expect(report.nonUniform).toBe(true);
      expect(Math.min(...stack.gapsMm)).toBeCloseTo(1.08, 2);
      expect(Math.max(...stack.gapsMm)).toBeCloseTo(7.0, 2);
      // Both problems reach the caller, whichever one names the error: the details carry the
      // tilt (header GantryDetectorTilt) and the gaps (README: 1.08 .. 7.00 mm).
      for (const options of [{}, { allowTilt: true }]) {
        const err = expectCode(() => regularGeometry(slices, options), 'non-uniform-spacing');
        expect(err.details.tilted).toBe(true);
        expect(err.details.nonUniform).toBe(true);
        expect(err.details.tiltDeg as number).toBeCloseTo(headers[0].dataset.GantryDetectorTilt as number, 1);
        const gaps = err.details.gapsMm as number[];
        expect(gaps).toHaveLength(27);
        expect(Math.min(...gaps)).toBeCloseTo(1.08, 2);
        expect(Math.max(...gaps)).toBeCloseTo(7.0, 2);
        expect((err.details.report as { tiltDeg: number }).tiltDeg).toBeCloseTo(18.5, 1);
        expect(err.message).toMatch(/tilted by 18\.[45]\d degrees/);
      }
      // The exact stack still places every slice where its header says. Truth: a fresh parse of
      // each file (ImagePositionPatient, ImageOrientationPatient, PixelSpacing), and the
      // acquisition order (InstanceNumber 1..28 runs up the head, i.e. along +normal).
      stack.order.forEach((n, k) => {
        const fresh = readHeader(headers[n].file).dataset;
        expect(fresh.InstanceNumber).toBe(k + 1);
        const ipp = fresh.ImagePositionPatient as number[];
        const iop = fresh.ImageOrientationPatient as number[];
        const [dr, dc] = fresh.PixelSpacing as number[];
        for (const [i, j] of [
          [0, 0],
          [511, 0],
          [0, 511],
          [137, 402],
        ]) {
          const want = [0, 1, 2].map((a) => ipp[a] + i * dc * iop[a] + j * dr * iop[3 + a]);
          const got = stackVoxelPosition(stack, i, j, k);
          // IOP is stored to 7 decimals and re-orthonormalised: 1e-4 mm over 250 mm.
          for (let a = 0; a < 3; a++) expect(Math.abs(got[a] - want[a])).toBeLessThan(1e-4);
        }
      });
      return;
    }

    const g = regularGeometry(slices);
    expect(g.report.tilted).toBe(false);
    expect(g.report.meanGapMm).toBeCloseTo(sliceGap, 2);
    // Independent truth: each slice's own IPP and IOP * PixelSpacing from its header.
    g.stack.order.forEach((n, k) => {
      const h = slices[n];
      const ipp = h.imagePositionPatient as number[];
      const iop = h.imageOrientationPatient as number[];
      const [dr, dc] = h.pixelSpacing as number[];
      for (const [i, j] of [
        [0, 0],
        [511, 0],
        [0, 511],
        [511, 511],
        [200, 300],
      ]) {
        const expected = [0, 1, 2].map((a) => ipp[a] + i * dc * iop[a] + j * dr * iop[3 + a]);
        const got = applyPoint(g.affine, [i, j, k]);
        for (let a = 0; a < 3; a++) expect(Math.abs(got[a] - expected[a])).toBeLessThan(0.01);
      }
    });
  });
});
