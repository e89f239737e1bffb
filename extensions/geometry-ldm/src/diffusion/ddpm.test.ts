import { DDPMScheduler } from './ddpm';
import { createSchedule, PAPER_SCHEDULE_CONFIG } from './schedule';
import { expectDiffusionError, expectStepClose, goldenInputs, loadGolden } from './__fixtures__/golden';

const golden = loadGolden();
const { sample, eps, noise } = goldenInputs(golden);

describe('DDPM against the Python reference', () => {
  test.each(golden.ddpm.plans.map((p) => [String(p.numInferenceSteps ?? 'default'), p] as const))(
    'plan with %s steps',
    (_k, ref) => {
      const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
      if (ref.numInferenceSteps !== null) s.setTimesteps(ref.numInferenceSteps);
      expect(Array.from(s.timesteps)).toEqual(ref.timesteps);
      expect(s.numInferenceSteps).toBe(ref.timesteps.length);
    },
  );

  test('a fresh scheduler plans the full chain T-1 .. 0', () => {
    const full = golden.ddpm.plans.find((p) => p.numInferenceSteps === null);
    expect(Array.from(new DDPMScheduler(PAPER_SCHEDULE_CONFIG).timesteps)).toEqual(full?.timesteps);
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setTimesteps(7);
    s.setTimesteps();
    expect(Array.from(s.timesteps)).toEqual(full?.timesteps);
  });

  test.each(
    golden.ddpm.steps.map(
      (r) => [String(r.numInferenceSteps ?? 'all'), r.varianceType, r.t, r.prev, r] as const,
    ),
  )('plan %s, %s, step %i -> %i', (_k, varianceType, t, prev, ref) => {
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG, { varianceType });
    if (ref.numInferenceSteps !== null) s.setTimesteps(ref.numInferenceSteps);
    expect(s.prevTimestep(t)).toBe(prev);
    expectStepClose(s.step(eps, t, sample, noise), ref.out);
  });
});

describe('DDPM properties (no fixture)', () => {
  const sched = createSchedule();

  test('the full chain computes the paper formula literally (bit-exact)', () => {
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    for (const t of [999, 998, 731, 500, 100, 37, 2, 1]) {
      const beta = sched.betas[t];
      const alpha = sched.alphas[t];
      const ab = sched.alphaBar[t];
      const expected = Float32Array.from(
        sample,
        (x, i) => (x - (beta / Math.sqrt(1 - ab)) * eps[i]) / Math.sqrt(alpha) + Math.sqrt(beta) * noise[i],
      );
      expect(s.prevTimestep(t)).toBe(t - 1);
      expect(Array.from(s.step(eps, t, sample, noise))).toEqual(Array.from(expected));
    }
  });

  test('the last step (t = 0) adds no noise, whatever noise is passed', () => {
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    const beta = sched.betas[0];
    const expected = Float32Array.from(
      sample,
      (x, i) => (x - (beta / Math.sqrt(1 - sched.alphaBar[0])) * eps[i]) / Math.sqrt(sched.alphas[0]),
    );
    expect(s.prevTimestep(0)).toBe(-1);
    expect(Array.from(s.step(eps, 0, sample))).toEqual(Array.from(expected));
    expect(Array.from(s.step(eps, 0, sample, noise))).toEqual(Array.from(expected));
  });

  test('setTimesteps(T) is the full chain; fixed_small only changes the noise term', () => {
    const a = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    const b = new DDPMScheduler(PAPER_SCHEDULE_CONFIG, { varianceType: 'fixed_small' });
    b.setTimesteps(1000);
    expect(Array.from(b.timesteps)).toEqual(Array.from(a.timesteps));
    const zero = new Float32Array(sample.length);
    expect(Array.from(b.step(eps, 500, sample, zero))).toEqual(Array.from(a.step(eps, 500, sample, zero)));
    const ca = a.coefficients(500);
    const cb = b.coefficients(500);
    expect(ca.variance).toBe(sched.betas[500]);
    expect(cb.variance).toBeCloseTo(
      ((1 - sched.alphaBar[499]) / (1 - sched.alphaBar[500])) * sched.betas[500],
      17,
    );
    expect(cb.variance).toBeLessThan(ca.variance);
  });

  test('strided steps jump with alpha = alphaBar_t / alphaBar_prev', () => {
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setTimesteps(50);
    const c = s.coefficients(500);
    expect(c.prev).toBe(480);
    expect(c.alpha).toBe(sched.alphaBar[500] / sched.alphaBar[480]);
    expect(c.beta).toBe(1 - c.alpha);
    expect(c.variance).toBe(c.beta);
    expect(s.coefficients(0)).toEqual({
      t: 0,
      prev: -1,
      alpha: sched.alphas[0],
      beta: sched.betas[0],
      variance: 0,
    });
  });

  test('errors are typed', () => {
    expectDiffusionError(
      () => new DDPMScheduler(PAPER_SCHEDULE_CONFIG, { varianceType: 'learned' as never }),
      'invalid-config',
    );
    expectDiffusionError(() => new DDPMScheduler({ ...PAPER_SCHEDULE_CONFIG, betaEnd: 2 }), 'invalid-config');
    const s = new DDPMScheduler(PAPER_SCHEDULE_CONFIG);
    for (const k of [0, -1, 1001, 2.5, NaN]) expectDiffusionError(() => s.setTimesteps(k), 'invalid-plan');
    expectDiffusionError(() => s.step(eps, 1000, sample, noise), 'invalid-timestep');
    expectDiffusionError(() => s.step(eps, 10, sample), 'noise-required');
    expectDiffusionError(() => s.step(eps, 10, sample.subarray(1), noise), 'shape-mismatch');
    expectDiffusionError(() => s.step(eps, 10, sample, noise.subarray(1)), 'shape-mismatch');
    s.setTimesteps(50);
    expectDiffusionError(() => s.step(eps, 999, sample, noise), 'timestep-not-in-plan');
    expectDiffusionError(() => s.prevTimestep(21), 'timestep-not-in-plan');
  });
});
