import { approxDuration, formatDuration } from './format';

test('approximate durations read as words: never "about < 1 s"', () => {
  expect(approxDuration(0.3)).toBe('about 0.3 s');
  expect(approxDuration(0.01, 'roughly')).toBe('roughly 0.1 s');
  expect(approxDuration(45)).toBe('about 45 s');
  expect(approxDuration(200, 'roughly')).toBe('roughly 3 min 20 s');
  expect(formatDuration(0.3)).toBe('< 1 s'); // exact uses (e.g. "done in < 1 s") keep the symbol
});
