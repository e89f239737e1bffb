import { approxDuration, estimatedDuration, formatDuration } from './format';

test('approximate durations read as words: never "about < 1 s"', () => {
  expect(approxDuration(0.3)).toBe('about 0.3 s');
  expect(approxDuration(0.01, 'roughly')).toBe('roughly 0.1 s');
  expect(approxDuration(45)).toBe('about 45 s');
  expect(approxDuration(200, 'roughly')).toBe('roughly 3 min 20 s');
  expect(formatDuration(0.3)).toBe('< 1 s'); // exact uses (e.g. "done in < 1 s") keep the symbol
});

test('an estimated stage time below a second is given in tenths, never "< 1 s"', () => {
  expect(estimatedDuration(0.24)).toBe('0.2 s');
  expect(estimatedDuration(0.001)).toBe('0.1 s');
  expect(estimatedDuration(1.4)).toBe('1 s');
  expect(estimatedDuration(75)).toBe('1 min 15 s');
});
