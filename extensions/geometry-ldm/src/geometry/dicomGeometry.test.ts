import { applyPoint, applyVector } from './affine';
import {
  regularGeometry,
  sliceStack,
  stackReport,
  stackVoxelPosition,
  type SliceGeometryInput,
} from './dicomGeometry';
import { GeometryError, type GeometryErrorCode } from './errors';
import { readSeriesHeaders, type RealSeriesName } from '../../../../test/support/sharedData';

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

function expectCode(fn: () => unknown, code: GeometryErrorCode): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GeometryError);
  expect((err as GeometryError).code).toBe(code);
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
      expectCode(() => regularGeometry(slices), 'non-uniform-spacing');
      expectCode(() => regularGeometry(slices, { allowTilt: true }), 'non-uniform-spacing');
      // The exact stack still places every slice where its header says.
      stack.order.forEach((n, k) => {
        expect(stackVoxelPosition(stack, 0, 0, k)).toEqual(slices[n].imagePositionPatient);
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
