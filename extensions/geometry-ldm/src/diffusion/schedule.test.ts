import type { DiffusionErrorCode } from './errors';
import {
  addNoise,
  createSchedule,
  linspace,
  PAPER_SCHEDULE_CONFIG,
  validateScheduleConfig,
} from './schedule';
import {
  expectClose,
  expectDiffusionError,
  expectStepClose,
  goldenInputs,
  loadGolden,
} from './__fixtures__/golden';

const golden = loadGolden();

/** Exactly rounded float64 sum (Shewchuk / Python's math.fsum), to compare with the fixture's fsum. */
function fsum(values: ArrayLike<number>): number {
  const partials: number[] = [];
  for (let k = 0; k < values.length; k++) {
    let x = values[k];
    let i = 0;
    for (let j = 0; j < partials.length; j++) {
      let y = partials[j];
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  return partials.reduce((a, b) => a + b, 0);
}

describe('noise schedules against the Python reference', () => {
  test.each(golden.schedules.map((s) => [s.name, s] as const))('%s', (_name, ref) => {
    const s = createSchedule(ref.config);
    expect(s.numTrainTimesteps).toBe(ref.config.numTrainTimesteps);
    expect(s.betas.length).toBe(ref.config.numTrainTimesteps);
    const pick = (a: Float64Array): number[] => ref.t.map((t) => a[t]);
    expectClose(pick(s.betas), ref.betas, 1e-12, 1e-6);
    expectClose(pick(s.alphas), ref.alphas, 1e-12, 1e-6);
    expectClose(pick(s.alphaBar), ref.alphaBar, 1e-12, 1e-6);
    // Whole-array checks: a formula change anywhere moves the (exactly rounded) sums.
    expectClose(
      [fsum(s.betas), fsum(s.alphas), fsum(s.alphaBar)],
      [ref.sums.betas, ref.sums.alphas, ref.sums.alphaBar],
      1e-12,
      0,
    );
  });

  test('the paper config is the first fixture schedule', () => {
    expect(golden.schedules[0].config).toEqual({ ...PAPER_SCHEDULE_CONFIG });
    expect(createSchedule().config).toEqual(PAPER_SCHEDULE_CONFIG);
  });
});

describe('addNoise against the Python reference', () => {
  const { z0, eps } = goldenInputs(golden);
  const s = createSchedule();
  test.each(golden.addNoise.map((r) => [r.t, r] as const))('t = %i', (t, ref) => {
    expectStepClose(addNoise(s, z0, eps, t), ref.out);
  });
});

describe('schedule properties (no fixture)', () => {
  test('paper betas are the squares of an even grid from sqrt(0.0015) to sqrt(0.0195)', () => {
    const s = createSchedule();
    expect(s.betas[0]).toBeCloseTo(0.0015, 15);
    expect(s.betas[999]).toBeCloseTo(0.0195, 15);
    const r = Array.from(s.betas, Math.sqrt);
    const step = (Math.sqrt(0.0195) - Math.sqrt(0.0015)) / 999;
    for (let t = 1; t < 1000; t++) expect(Math.abs(r[t] - r[t - 1] - step)).toBeLessThan(1e-15);
    for (let t = 1; t < 1000; t++) expect(s.alphaBar[t]).toBeLessThan(s.alphaBar[t - 1]);
  });

  test('linspace hits both ends exactly', () => {
    const l = linspace(0.1, 0.7, 7);
    expect(l[0]).toBe(0.1);
    expect(l[6]).toBe(0.7);
    expect(l[3]).toBeCloseTo(0.4, 15);
  });

  test('valid configs come back clean and frozen', () => {
    const c = validateScheduleConfig({ ...PAPER_SCHEDULE_CONFIG, extra: 1 });
    expect(c).toEqual(PAPER_SCHEDULE_CONFIG);
    expect(Object.isFrozen(c)).toBe(true);
  });

  const invalid: [string, DiffusionErrorCode, unknown][] = [
    ['not an object', 'invalid-config', null],
    ['T missing', 'invalid-config', { betaStart: 0.001, betaEnd: 0.02, betaSchedule: 'linear' }],
    ['T fractional', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, numTrainTimesteps: 999.5 }],
    ['T = 1', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, numTrainTimesteps: 1 }],
    ['T as a string', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, numTrainTimesteps: '1000' }],
    ['betaStart 0', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, betaStart: 0 }],
    ['betaEnd 1', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, betaEnd: 1 }],
    ['betaEnd NaN', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, betaEnd: NaN }],
    ['betaEnd < betaStart', 'invalid-config', { ...PAPER_SCHEDULE_CONFIG, betaStart: 0.02, betaEnd: 0.01 }],
    ['betaSchedule missing', 'invalid-config', { numTrainTimesteps: 1000, betaStart: 0.001, betaEnd: 0.02 }],
    [
      'cosine schedule',
      'unsupported-schedule',
      { ...PAPER_SCHEDULE_CONFIG, betaSchedule: 'squaredcos_cap_v2' },
    ],
  ];
  test.each(invalid)('%s -> %s', (_what, code, config) => {
    expectDiffusionError(() => validateScheduleConfig(config), code);
    expectDiffusionError(() => createSchedule(config as never), code);
  });

  test('addNoise checks t and lengths', () => {
    const s = createSchedule();
    const a = new Float32Array(4);
    expectDiffusionError(() => addNoise(s, a, a, 1000), 'invalid-timestep');
    expectDiffusionError(() => addNoise(s, a, a, -1), 'invalid-timestep');
    expectDiffusionError(() => addNoise(s, a, a, 1.5), 'invalid-timestep');
    expectDiffusionError(() => addNoise(s, a, new Float32Array(3), 5), 'shape-mismatch');
  });
});
