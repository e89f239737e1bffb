/**
 * One series -> affine specification for the viewer's reader and the training loader: the
 * TypeScript rules (regularGeometry) reproduce, case for case, what the Python loader's rules
 * (models/training/ldm/dicom_geometry.py) wrote into the shared fixture: the same affine within
 * 1e-9 mm, or a refusal with the same code. Cases: the real DICOM series of the shared data and
 * crafted edge cases (tilt, gaps, a shifted slice, non-square pixels, oblique, duplicates, ...).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { regularGeometry, type SliceGeometryInput } from './dicomGeometry';
import { GeometryError } from './errors';

interface Case {
  name: string;
  options: { allowTilt?: boolean; allowSingleSlice?: boolean };
  slices: (SliceGeometryInput & { sliceThickness?: number | null })[];
  expected: { error: string } | { dims: number[]; affine: number[] };
}

const fixture = JSON.parse(readFileSync(join(__dirname, '__fixtures__', 'series-affine.json'), 'utf8')) as {
  cases: Case[];
};

test('the fixture covers real series, refusals and accepted edge cases', () => {
  const names = fixture.cases.map((c) => c.name);
  expect(names.filter((n) => n.startsWith('real: ')).length).toBeGreaterThanOrEqual(4);
  const codes = new Set(fixture.cases.map((c) => ('error' in c.expected ? c.expected.error : 'ok')));
  for (const code of ['ok', 'gantry-tilt', 'non-uniform-spacing', 'misaligned-slice', 'duplicate-position'])
    expect(codes).toContain(code);
});

test.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  let got: { error: string } | { dims: number[]; affine: number[] };
  try {
    const g = regularGeometry(c.slices, c.options);
    got = { dims: [...g.dims], affine: [...g.affine] };
  } catch (e) {
    if (!(e instanceof GeometryError)) throw e;
    got = { error: e.code };
  }
  if ('error' in c.expected) {
    expect(got).toEqual(c.expected);
    return;
  }
  if ('error' in got) throw new Error(`TypeScript refused (${got.error}) what Python accepted`);
  expect(got.dims).toEqual(c.expected.dims);
  const worst = Math.max(
    ...got.affine.map((v, n) => Math.abs(v - (c.expected as { affine: number[] }).affine[n])),
  );
  expect(worst).toBeLessThan(1e-9);
});
