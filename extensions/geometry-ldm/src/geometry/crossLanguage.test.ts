/**
 * Cross-language check: models/training/ldm/geometry.py (Python, used for
 * training) and this module (TypeScript, used at inference) must compute the
 * same index -> group affines, coordinate channels and latent conditioning.
 * The fixture is written by models/training/tests/make_geometry_fixture.py.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Affine } from './affine';
import type { Dims3, Vec3 } from './conventions';
import {
  avgPool,
  coordinateChannels,
  latentAffine,
  latentConditioning,
  pooledDims,
} from './coordinateChannels';
import { resolveGeometry, type GenerationGeometrySpec } from './generationGeometry';
import { scanExtentGroupSpace, type GroupSpace } from './groupSpace';

interface FixtureCase {
  name: string;
  scan: { dims: Dims3; indexToPatient: Affine } | null;
  groupSpace: { kind: 'scan-extent' | 'anatomical'; originMm: Vec3; extentMm: Vec3; label?: string };
  spec: GenerationGeometrySpec;
  expected: {
    dims: Dims3;
    indexToGroup: Affine;
    indexToPatient: Affine;
    spacingMm: Vec3;
    centreGroup: Vec3;
    latentDims: Dims3;
    latentAffine: Affine;
    channels: number[];
    latentConditioning: number[];
  };
}

const fixture = JSON.parse(readFileSync(join(__dirname, '__fixtures__', 'coords-python.json'), 'utf8')) as {
  cases: FixtureCase[];
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let n = 0; n < a.length; n++) m = Math.max(m, Math.abs(a[n] - b[n]));
  return m;
}

describe('geometry: Python fixture reproduced by TypeScript', () => {
  it('has the expected cases (rotation, partial FOV, shear, tilt, anatomical)', () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(6);
    const kinds = new Set(fixture.cases.map((c) => c.spec.kind));
    expect([...kinds].sort()).toEqual(['affine', 'fov', 'spacing']);
  });

  for (const c of fixture.cases) {
    describe(c.name, () => {
      const group: GroupSpace = c.scan
        ? scanExtentGroupSpace(c.scan.dims, c.scan.indexToPatient)
        : { kind: c.groupSpace.kind, originMm: c.groupSpace.originMm, extentMm: c.groupSpace.extentMm };

      it('derives the same group space', () => {
        expect(group.kind).toBe(c.groupSpace.kind);
        expect(maxAbsDiff(group.originMm, c.groupSpace.originMm)).toBeLessThan(1e-9);
        expect(maxAbsDiff(group.extentMm, c.groupSpace.extentMm)).toBeLessThan(1e-9);
      });

      const resolved = resolveGeometry(c.spec, group);

      it('resolves the same affines', () => {
        expect([...resolved.dims]).toEqual(c.expected.dims);
        expect(maxAbsDiff(resolved.indexToGroup, c.expected.indexToGroup)).toBeLessThan(1e-9);
        // patient affines are in mm: relative 1e-12 of ~500 mm
        expect(maxAbsDiff(resolved.indexToPatient, c.expected.indexToPatient)).toBeLessThan(1e-9);
        expect(maxAbsDiff(resolved.spacingMm, c.expected.spacingMm)).toBeLessThan(1e-9);
        expect(maxAbsDiff(resolved.centreGroup, c.expected.centreGroup)).toBeLessThan(1e-9);
        expect(maxAbsDiff(latentAffine(resolved.indexToGroup), c.expected.latentAffine)).toBeLessThan(1e-9);
      });

      it('computes the same coordinate channels (1e-6)', () => {
        const channels = coordinateChannels(resolved.dims, resolved.indexToGroup);
        expect(maxAbsDiff(channels, c.expected.channels)).toBeLessThan(1e-6);
      });

      it('computes the same latent conditioning (1e-6), equal to AvgPool3d(8) of the channels', () => {
        expect([...pooledDims(resolved.dims)]).toEqual(c.expected.latentDims);
        const latent = latentConditioning(resolved.dims, resolved.indexToGroup);
        expect(maxAbsDiff(latent, c.expected.latentConditioning)).toBeLessThan(1e-6);
        const pooled = avgPool(coordinateChannels(resolved.dims, resolved.indexToGroup), resolved.dims, 3);
        expect(maxAbsDiff(pooled, c.expected.latentConditioning)).toBeLessThan(1e-6);
      });
    });
  }
});
