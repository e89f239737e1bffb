/**
 * The markers are checked on what the writers really write (their headers read back), not
 * on strings typed here; real scanner headers are not product output.
 */
import { readSeriesHeaders } from '../../../../test/support/sharedData';
import { readPart10Raw } from './part10';
import { makeVolume } from '../volume/volume';
import { buildDerivedSeries } from './writeDerivedSeries';
import { buildSyntheticStudy } from './writeSyntheticStudy';
import { parseInstanceMetadata } from './instanceMetadata';
import { str, TAG } from './dicomJson';
import { productOutputReason } from './productOutput';

function markersOf(bytes: Uint8Array): { manufacturer: string | null; seriesDescription: string | null } {
  const ds = readPart10Raw(bytes).dict as Parameters<typeof str>[0];
  return { manufacturer: str(ds, TAG.Manufacturer), seriesDescription: str(ds, '0008103E') };
}

const volume = makeVolume(
  [8, 8, 4],
  [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1],
  new Float32Array(256).fill(40),
  'HU',
);

function syntheticSeries() {
  return buildSyntheticStudy({
    volume,
    generation: {
      grid: [8, 8, 4],
      spacingMm: [1, 1, 2],
      fov: null,
      rotationDeg: [0, 0, 0],
      seed: 1,
      sampler: 'ddim',
      model: { name: 'm', version: '0' },
    },
  });
}

test('super-resolution results, std maps and synthetic CT are product output (description and Manufacturer each suffice)', () => {
  const synthetic = syntheticSeries();
  const m = markersOf(synthetic.series.instances[0].bytes);
  expect(productOutputReason(m)).toMatch(/written by this product/);
  expect(productOutputReason({ manufacturer: m.manufacturer })).toMatch(/Manufacturer geometry-ldm/);
  expect(productOutputReason({ seriesDescription: m.seriesDescription })).toMatch(/written by this product/);
});

test('derived series (result and std map) read back from their bytes are product output', () => {
  const synthetic = syntheticSeries();
  const source = synthetic.series.instances.map((i) =>
    parseInstanceMetadata(readPart10Raw(i.bytes).dict as never),
  );
  const built = buildDerivedSeries({
    source,
    result: volume,
    uncertainty: makeVolume(volume.dims, volume.affine, new Float32Array(256).fill(3), 'HU-std'),
    model: { name: 'm', version: '0' },
    label: 'x2',
    existingSeriesNumbers: [],
  });
  for (const s of [built.result, built.uncertainty!]) {
    const m = markersOf(s.instances[0].bytes);
    expect(productOutputReason({ seriesDescription: m.seriesDescription })).toMatch(
      /written by this product/,
    );
    expect(productOutputReason({ manufacturer: m.manufacturer })).toMatch(/Manufacturer/);
  }
});

test('real scanner series are not product output', () => {
  for (const name of ['lung-pet-ct-dx-a0002', 'lidc-idri-0001'] as const) {
    const d = readSeriesHeaders(name)[0].dataset as { Manufacturer?: string; SeriesDescription?: string };
    expect(
      productOutputReason({ manufacturer: d.Manufacturer, seriesDescription: d.SeriesDescription }),
    ).toBeNull();
  }
});
