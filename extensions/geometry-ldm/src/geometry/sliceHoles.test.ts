import { median, sliceHoles } from './sliceHoles';

const at = (...d: number[]): number[] => d;

test('a regular stack has no holes', () => {
  expect(sliceHoles(at(0, 8, 16, 24, 32), [8, 8, 8, 8, 8])).toEqual([]);
});

test('one missing 8 mm slice: a 16 mm hole between the slices at 16 and 32 mm', () => {
  expect(sliceHoles(at(0, 8, 16, 32, 40), [8, 8, 8, 8, 8])).toEqual([
    { k: 2, gapMm: 16, medianGapMm: 8, fromMm: 16, toMm: 32 },
  ]);
});

test('two missing slices: 24 mm', () => {
  const h = sliceHoles(at(0, 8, 16, 24, 48, 56, 64), Array(7).fill(8));
  expect(h.map((x) => [x.k, x.gapMm])).toEqual([[3, 24]]);
});

test('spacing that follows the thickness (4 mm slices then 7 mm slices) is not a hole', () => {
  const d = [0, 4, 8, 12, 16, 17.08, 24.08, 31.08, 38.08, 45.08];
  const t = [4, 4, 4, 4, 4, 7, 7, 7, 7, 7];
  expect(median(d.slice(1).map((x, k) => x - d[k]))).toBe(4);
  expect(sliceHoles(d, t)).toEqual([]);
});

test('thin slices far apart with one wider gap: the thickness rule does not hide it', () => {
  expect(sliceHoles(at(0, 5, 10, 15, 30), [1, 1, 1, 1, 1]).map((h) => h.gapMm)).toEqual([15]);
});

test('absent thickness counts as the median gap; fewer than 3 slices: no judgement', () => {
  expect(sliceHoles(at(0, 2, 4, 10), [null, null, null, null]).map((h) => h.k)).toEqual([2]);
  expect(sliceHoles(at(0, 50), [1, 1])).toEqual([]);
});
