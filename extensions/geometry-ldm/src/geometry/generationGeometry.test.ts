import { applyPoint, applyVector, compose, invert, maxAbsDifference, type Affine } from './affine';
import type { Vec3 } from './conventions';
import { GeometryError, type GeometryErrorCode } from './errors';
import { fovOf, resolveGeometry } from './generationGeometry';
import {
  anatomicalGroupSpace,
  groupToPatient,
  indexToGroup,
  patientToGroup,
  scanExtentGroupSpace,
  type GroupSpace,
} from './groupSpace';

const body: GroupSpace = { kind: 'anatomical', originMm: [-250, -200, -900], extentMm: [500, 400, 900] };

describe('group space', () => {
  it('patient <-> group are inverse and map the box corners to 0 and 1', () => {
    expect(applyPoint(patientToGroup(body), [-250, -200, -900])).toEqual([0, 0, 0]);
    expect(applyPoint(patientToGroup(body), [250, 200, 0])).toEqual([1, 1, 1]);
    expect(
      maxAbsDifference(
        compose(groupToPatient(body), patientToGroup(body)),
        [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      ),
    ).toBeLessThan(1e-12);
  });

  it('scan-extent puts the first and last voxel centres of an axis-aligned scan at 0 and 1', () => {
    const a: Affine = [0.7, 0, 0, -180, 0, 0.7, 0, -170, 0, 0, 2.5, -300, 0, 0, 0, 1];
    const dims = [512, 512, 133] as const;
    const g = scanExtentGroupSpace(dims, a);
    const ig = indexToGroup(a, g);
    applyPoint(ig, [0, 0, 0]).forEach((v) => expect(v).toBeCloseTo(0, 12));
    applyPoint(ig, [511, 511, 132]).forEach((v) => expect(v).toBeCloseTo(1, 12));
    expect(applyPoint(ig, [511, 0, 66])[2]).toBeCloseTo(0.5, 12);
  });

  it('scan-extent of a scan stored feet-last (k towards the feet) still has w = 0 at the feet', () => {
    const a: Affine = [0.7, 0, 0, -180, 0, 0.7, 0, -170, 0, 0, -2.5, 0, 0, 0, 0, 1];
    const ig = indexToGroup(a, scanExtentGroupSpace([4, 4, 11], a));
    expect(applyPoint(ig, [0, 0, 0])[2]).toBeCloseTo(1, 12); // k = 0 is the head end
    expect(applyPoint(ig, [0, 0, 10])[2]).toBeCloseTo(0, 12);
  });

  it('anatomical placement puts the anchor where asked', () => {
    const g = anatomicalGroupSpace([500, 400, 900], [0.5, 0.5, 1], [0, 0, 100], 'upper leg to neck');
    expect(applyPoint(patientToGroup(g), [0, 0, 100])).toEqual([0.5, 0.5, 1]);
    expect(applyPoint(patientToGroup(g), [0, 0, -800])[2]).toBeCloseTo(0, 12);
  });
});

describe('resolveGeometry', () => {
  it('FOV spec: centres span the FOV and spacing follows from extent / (n - 1)', () => {
    const r = resolveGeometry(
      {
        kind: 'fov',
        dims: [11, 21, 41],
        fov: [
          [0.1, 0.6],
          [0, 1],
          [0.5, 1],
        ],
      },
      body,
    );
    expect(r.spacingMm[0]).toBeCloseTo((0.5 * 500) / 10, 12);
    expect(r.spacingMm[1]).toBeCloseTo(400 / 20, 12);
    expect(r.spacingMm[2]).toBeCloseTo((0.5 * 900) / 40, 12);
    const f = fovOf(r);
    expect(f[0][0]).toBeCloseTo(0.1, 12);
    expect(f[0][1]).toBeCloseTo(0.6, 12);
    expect(f[2][0]).toBeCloseTo(0.5, 12);
    expect(f[2][1]).toBeCloseTo(1, 12);
    // patient placement agrees with the group space
    expect(applyPoint(r.indexToPatient, [0, 0, 40])[2]).toBeCloseTo(0, 9);
  });

  it('spacing spec is the same grid as the equivalent FOV spec', () => {
    const a = resolveGeometry(
      { kind: 'spacing', dims: [11, 21, 41], spacingMm: [25, 20, 11.25], fovCentre: [0.35, 0.5, 0.75] },
      body,
    );
    const b = resolveGeometry(
      {
        kind: 'fov',
        dims: [11, 21, 41],
        fov: [
          [0.1, 0.6],
          [0, 1],
          [0.5, 1],
        ],
      },
      body,
    );
    expect(maxAbsDifference(a.indexToGroup, b.indexToGroup)).toBeLessThan(1e-12);
  });

  it('rotates physically (in mm) about the FOV centre', () => {
    const dims = [16, 16, 16] as const;
    const r = resolveGeometry({ kind: 'fov', dims, rotationDeg: [0, 0, 30] }, body);
    const centre = applyPoint(r.indexToGroup, [7.5, 7.5, 7.5]);
    centre.forEach((v) => expect(v).toBeCloseTo(0.5, 12));
    // In patient mm the i axis is the unrotated spacing vector turned by 30 degrees about z.
    const s = 500 / 15;
    const e = applyVector(r.indexToPatient, [1, 0, 0]);
    expect(e[0]).toBeCloseTo(s * Math.cos(Math.PI / 6), 9);
    expect(e[1]).toBeCloseTo(s * Math.sin(Math.PI / 6), 9);
    expect(e[2]).toBeCloseTo(0, 12);
  });

  it('a full affine (with shear) is passed through unchanged', () => {
    const a: Affine = [0.02, 0.005, 0, 0.1, 0, 0.03, 0.002, 0.2, 0.001, 0, 0.01, 0.3, 0, 0, 0, 1];
    const r = resolveGeometry({ kind: 'affine', dims: [8, 8, 8], indexToGroup: a }, body);
    expect(maxAbsDifference(r.indexToGroup, a)).toBeLessThan(1e-15);
    expect(maxAbsDifference(compose(patientToGroup(body), r.indexToPatient), a)).toBeLessThan(1e-15);
    expect(
      maxAbsDifference(
        compose(invert(r.indexToPatient), r.indexToPatient),
        [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      ),
    ).toBeLessThan(1e-9);
  });

  const singular: Affine = [0.02, 0, 0.04, 0.1, 0, 0.03, 0, 0.2, 0.01, 0, 0.02, 0.3, 0, 0, 0, 1]; // col k = 2 * col i
  const flat: Affine = [0.02, 0, 0, 0.1, 0, 0.03, 0, 0.2, 0, 0, 0, 0.3, 0, 0, 0, 1]; // k axis collapsed
  const withNaN: Affine = [0.02, 0, 0, 0.1, 0, NaN, 0, 0.2, 0, 0, 0.01, 0.3, 0, 0, 0, 1];
  const withInf: Affine = [0.02, 0, 0, Infinity, 0, 0.03, 0, 0.2, 0, 0, 0.01, 0.3, 0, 0, 0, 1];
  const huge: Affine = [0.02, 0, 0, 1e308, 0, 0.03, 0, 0.2, 0, 0, 0.01, 0.3, 0, 0, 0, 1]; // x 500 mm overflows
  const projective: Affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0.5, 1];

  it.each<[unknown, GeometryErrorCode]>([
    [{ kind: 'fov', dims: [0, 8, 8] }, 'invalid-spec'],
    [{ kind: 'fov', dims: [8.5, 8, 8] }, 'invalid-spec'],
    [
      {
        kind: 'fov',
        dims: [8, 8, 8],
        fov: [
          [0.5, 0.2],
          [0, 1],
          [0, 1],
        ],
      },
      'invalid-spec',
    ],
    [
      {
        kind: 'fov',
        dims: [8, 8, 8],
        fov: [
          [0.5, 0.5],
          [0, 1],
          [0, 1],
        ],
      },
      'invalid-spec',
    ],
    [{ kind: 'spacing', dims: [8, 8, 8], spacingMm: [1, -1, 1] }, 'invalid-spec'],
    [{ kind: 'spacing', dims: [8, 8, 8], spacingMm: [1, NaN, 1] }, 'invalid-spec'],
    [{ kind: 'spacing', dims: [8, 8, 8], spacingMm: [1e308, 1, 1] }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: [1, 2, 3] }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: withNaN }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: withInf }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: projective }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: huge }, 'invalid-spec'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: singular }, 'singular-affine'],
    [{ kind: 'affine', dims: [8, 8, 8], indexToGroup: flat }, 'singular-affine'],
    [{ kind: 'nonsense', dims: [8, 8, 8] }, 'invalid-spec'],
  ])('rejects an invalid spec %j with a typed error', (spec, code) => {
    expect(() => resolveGeometry(spec as never, body)).toThrow(GeometryError);
    let err: unknown;
    try {
      resolveGeometry(spec as never, body);
    } catch (e) {
      err = e;
    }
    expect((err as GeometryError).code).toBe(code);
  });

  it('spacing reported equals the column norms of index -> patient', () => {
    const r = resolveGeometry(
      { kind: 'spacing', dims: [8, 8, 8], spacingMm: [1.6, 1.6, 2.5], rotationDeg: [12, 34, 56] },
      body,
    );
    const want: Vec3 = [1.6, 1.6, 2.5];
    r.spacingMm.forEach((s, a) => expect(s).toBeCloseTo(want[a], 12));
  });
});
