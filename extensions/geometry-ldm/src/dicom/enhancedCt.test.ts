import type { DicomJsonDataset } from './dicomJson';
import { expandEnhancedFrames } from './enhancedCt';
import { parseInstanceMetadata } from './instanceMetadata';

const seq = (...items: DicomJsonDataset[]) => ({ vr: 'SQ', Value: items });
const ds = (v: Record<string, unknown[]>, vr = 'DS'): DicomJsonDataset =>
  Object.fromEntries(Object.entries(v).map(([k, x]) => [k, { vr, Value: x }]));

function enhanced(frames: number, perFrameItems = frames): DicomJsonDataset {
  return {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2.1'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.4'] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00280008': { vr: 'IS', Value: [frames] },
    '00281053': { vr: 'DS', Value: [9] }, // top level: used only where no functional group says otherwise
    '52009229': seq({
      '00289110': seq(ds({ '00280030': [0.5, 0.6], '00180050': [2] })),
      '00209116': seq(ds({ '00200037': [1, 0, 0, 0, 1, 0] })),
      '00289145': seq(ds({ '00281052': [-1024], '00281053': [1] })),
    }),
    '52009230': seq(
      ...Array.from({ length: perFrameItems }, (_, k) => ({
        '00209113': seq(ds({ '00200032': [0, 0, 10 - 2 * k] })),
        ...(k === 1 ? { '00289145': seq(ds({ '00281052': [-1000], '00281053': [2] })) } : {}),
        '00189329': seq(ds({ '00089007': ['ORIGINAL', 'PRIMARY', k === 2 ? 'LOCALIZER' : 'AXIAL'] }, 'CS')),
      })),
    ),
  };
}

test('each frame: its own functional groups first, then the shared ones', () => {
  const frames = expandEnhancedFrames(parseInstanceMetadata(enhanced(3)));
  expect(frames.map((f) => f.frameNumber)).toEqual([1, 2, 3]);
  expect(frames.map((f) => f.imagePositionPatientMm)).toEqual([
    [0, 0, 10],
    [0, 0, 8],
    [0, 0, 6],
  ]);
  expect(frames.map((f) => [f.rescaleSlope, f.rescaleIntercept])).toEqual([
    [1, -1024],
    [2, -1000],
    [1, -1024],
  ]);
  expect(frames[0].pixelSpacingMm).toEqual([0.5, 0.6]);
  expect(frames[0].sliceThicknessMm).toBe(2);
  expect(frames[0].imageOrientationPatient).toEqual([1, 0, 0, 0, 1, 0]);
  expect(frames[2].imageType[2]).toBe('LOCALIZER'); // FrameType: the reader leaves it out
});

test('per-frame items that do not match NumberOfFrames: missing-geometry naming both counts', () => {
  expect(() => expandEnhancedFrames(parseInstanceMetadata(enhanced(4, 3)))).toThrow(
    expect.objectContaining({
      code: 'missing-geometry',
      message: expect.stringMatching(/NumberOfFrames is 4 .* 3 items/),
    }),
  );
});

test('a single-frame CT instance is left as it is', () => {
  const h = parseInstanceMetadata({ '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] } });
  expect(expandEnhancedFrames(h)).toEqual([h]);
});
