/**
 * What the Super-resolve panel shows before a read, on the real Lung-PET-CT-Dx A0002 headers
 * (8 mm slices): localizers left out as the reader does, holes named (and blocking the plan
 * until bridged), too few slices refused.
 */
import type { DisplaySet, InstanceMetadata } from '../ohif/ohifTypes';
import { readSeriesHeaders } from '../../../../test/support/sharedData';
import { testManifest } from './__fixtures__/manifest';
import type { SeriesGrid } from '../planning/seriesGrid';
import { seriesInfo } from './seriesInfo';
import { defaultSettings, planSuperResolution, type SuperResolveForm } from '../planning/superResolvePlan';

/** Headers sorted along z (axial series: the normal is +z). */
function headers(): InstanceMetadata[] {
  return readSeriesHeaders('lung-pet-ct-dx-a0002')
    .map((h) => h.dataset as unknown as InstanceMetadata)
    .sort((a, b) => Number(a.ImagePositionPatient![2]) - Number(b.ImagePositionPatient![2]));
}

const ds = (instances: InstanceMetadata[]): DisplaySet => ({
  displaySetInstanceUID: 'x',
  Modality: 'CT',
  instances,
});

function gridOf(instances: InstanceMetadata[]): SeriesGrid {
  const g = seriesInfo(ds(instances)).grid;
  if ('error' in g) throw new Error(g.error);
  return g;
}

test('the whole real series: 30 slices, no holes', () => {
  const g = gridOf(headers());
  expect(g.dims[2]).toBe(30);
  expect(g.holes).toBeUndefined();
});

test('two slices missing: the 24 mm gap is named and the plan refuses until "Bridge gaps"', () => {
  const h = headers();
  h.splice(10, 2);
  const g = gridOf(h);
  expect(g.holes).toMatch(
    /^Slices are missing: a gap of 24\.0 mm after slice 10 \(3\.0x the usual 8\.0 mm\)$/,
  );
  const manifest = testManifest();
  const form: SuperResolveForm = {
    region: { start: [0, 0, 0], dims: [32, 32, 8] },
    target: { kind: 'scale', factors: [1, 1, 4] },
    settings: defaultSettings(manifest, 'classical'),
  };
  const refused = planSuperResolution(g, form, manifest);
  expect(refused.ok).toBe(false);
  expect(!refused.ok && refused.errors.join(' ')).toMatch(/Tick "Bridge gaps"/);
  const bridged = planSuperResolution(
    g,
    { ...form, settings: { ...form.settings, bridgeGaps: true } },
    manifest,
  );
  expect(bridged).toMatchObject({ ok: true });
});

test('a LOCALIZER image in the series is not a slice of the grid', () => {
  const h = headers();
  const scout: InstanceMetadata = {
    ...h[29],
    ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'],
    SOPInstanceUID: '1.2.3',
    ImagePositionPatient: [0, 0, 1000],
  };
  const g = gridOf([...h, scout]);
  expect(g.dims[2]).toBe(30);
  expect(g.holes).toBeUndefined();
});

test('three slices: "only 3 slices"', () => {
  const g = seriesInfo(ds(headers().slice(0, 3))).grid;
  expect('error' in g && g.error).toBe('only 3 slices: a volume needs at least 4');
});
