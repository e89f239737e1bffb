import type { DicomJsonDataset } from './dicomJson';
import { parseInstanceMetadata, validateCtSlices } from './instanceMetadata';

function slice(z: number, patch: Record<string, unknown> = {}): DicomJsonDataset {
  const ds: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [`1.2.3.${z + 1}`] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '0020000D': { vr: 'UI', Value: ['1.2.3'] },
    '0020000E': { vr: 'UI', Value: ['1.2.3.4'] },
    '00200032': { vr: 'DS', Value: [0, 0, z] },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00280030': { vr: 'DS', Value: [0.5, 0.5] },
    '00280010': { vr: 'US', Value: [4] },
    '00280011': { vr: 'US', Value: [4] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280103': { vr: 'US', Value: [0] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
    '00281052': { vr: 'DS', Value: [-1024] },
    '00281053': { vr: 'DS', Value: [1] },
  };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete ds[k];
    else ds[k] = v as DicomJsonDataset[string];
  }
  return ds;
}

const check =
  (sets: DicomJsonDataset[]): (() => void) =>
  () =>
    validateCtSlices(sets.map(parseInstanceMetadata));

test('a valid CT series passes', () => {
  expect(check([slice(0), slice(1), slice(2)])).not.toThrow();
});

test.each([
  [
    'not-ct',
    [
      slice(0, {
        '00080060': { vr: 'CS', Value: ['MR'] },
        '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] },
      }),
    ],
  ],
  [
    'not-image',
    [
      slice(0, {
        '00080060': { vr: 'CS', Value: ['SR'] },
        '00280010': undefined,
        '00280011': undefined,
        '00280100': undefined,
      }),
    ],
  ],
  ['multi-frame', [slice(0, { '00280008': { vr: 'IS', Value: [3] } })]],
  ['multi-frame', [slice(0, { '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2.1'] } })]],
  ['missing-uid', [slice(0, { '00080018': { vr: 'UI' } })]],
  ['missing-uid', [slice(0, { '0020000D': { vr: 'UI', Value: [''] } })]],
  ['missing-geometry', [slice(0), slice(1, { '00200037': undefined })]],
  ['missing-geometry', [slice(0, { '00280030': { vr: 'DS', Value: [0.5] } })]],
  ['mixed-series', [slice(0), slice(1, { '00280010': { vr: 'US', Value: [8] } })]],
  ['mixed-series', [slice(0), slice(1, { '00080018': { vr: 'UI', Value: ['1.2.3.1'] } })]],
])('%s', (code, sets) => {
  expect(check(sets)).toThrow(expect.objectContaining({ code }));
});

test('pixel module: BitsStored beyond BitsAllocated or an unusual HighBit is a typed error naming the tag', () => {
  const over = [slice(0), slice(1, { '00280101': { vr: 'US', Value: [17] } })];
  expect(check(over)).toThrow(expect.objectContaining({ code: 'not-image' }));
  const highBit = [slice(0), slice(1, { '00280102': { vr: 'US', Value: [15] } })];
  try {
    validateCtSlices(highBit.map(parseInstanceMetadata));
    throw new Error('no error');
  } catch (e) {
    expect(e).toMatchObject({ code: 'not-image', details: { instance: '1.2.3.2', tags: ['HighBit'] } });
  }
  // BitsStored differing between instances is fine (each frame is decoded with its own)
  const mixed = [
    slice(0),
    slice(1, { '00280101': { vr: 'US', Value: [16] }, '00280102': { vr: 'US', Value: [15] } }),
  ];
  expect(check(mixed)).not.toThrow();
});

describe('rescale (Type 1 in CT): absent, not a number or implausible is refused, counting the instances', () => {
  const err = (
    sets: DicomJsonDataset[],
  ): { code: string; message: string; details: Record<string, unknown> } => {
    try {
      validateCtSlices(sets.map(parseInstanceMetadata));
    } catch (e) {
      return e as { code: string; message: string; details: Record<string, unknown> };
    }
    throw new Error('no error');
  };
  test('intercept missing on every slice', () => {
    const e = err([0, 1, 2].map((z) => slice(z, { '00281052': undefined })));
    expect(e.code).toBe('invalid-rescale');
    expect(e.message).toMatch(/^RescaleIntercept is missing on 3 of 3 instances \(first: 1\.2\.3\.1\)/);
  });
  test('slope missing on some slices: the count and the first one', () => {
    const e = err([0, 1, 2, 3].map((z) => slice(z, z >= 2 ? { '00281053': undefined } : {})));
    expect(e.code).toBe('invalid-rescale');
    expect(e.message).toMatch(/^RescaleSlope is missing on 2 of 4 instances \(first: 1\.2\.3\.3\)/);
    expect(e.details.instances).toEqual(['1.2.3.3', '1.2.3.4']);
  });
  test('"NaN", an empty value, 0 and 1e30 are refused', () => {
    expect(err([slice(0, { '00281053': { vr: 'DS', Value: ['NaN'] } }), slice(1)]).message).toMatch(
      /RescaleSlope is not a number \("NaN"\) on 1 of 2/,
    );
    expect(err([slice(0, { '00281052': { vr: 'DS' } }), slice(1)]).message).toMatch(
      /RescaleIntercept is missing/,
    );
    expect(err([slice(0, { '00281053': { vr: 'DS', Value: [0] } }), slice(1)]).message).toMatch(
      /RescaleSlope is 0 on/,
    );
    expect(err([slice(0, { '00281053': { vr: 'DS', Value: [1e30] } }), slice(1)]).message).toMatch(
      /RescaleSlope is 1e\+30 on/,
    );
  });
});
