import { DDIMScheduler, ddimSigma, ddimStepTo } from './ddim';
import { DDPMScheduler } from './ddpm';
import { addNoise, createSchedule, PAPER_SCHEDULE_CONFIG } from './schedule';
import { roundHalfEven, TimestepPlan } from './timesteps';
import {
  expectClose,
  expectDiffusionError,
  expectStepClose,
  goldenInputs,
  loadGolden,
  type GoldenDDIMPlanRef,
} from './__fixtures__/golden';

const golden = loadGolden();
const { sample, eps, noise, z0 } = goldenInputs(golden);
const sched = createSchedule();

function planned(ref: GoldenDDIMPlanRef): DDIMScheduler {
  const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
  if (ref.kind === 'partial') s.setPartialTimesteps(ref.tStart as number, ref.k);
  else s.setTimesteps(ref.k, { spacing: ref.spacing });
  return s;
}

function planName(ref: GoldenDDIMPlanRef): string {
  return ref.kind === 'partial' ? `partial tStart=${ref.tStart} k=${ref.k}` : `${ref.spacing} k=${ref.k}`;
}

describe('DDIM against the Python reference', () => {
  test.each(golden.ddim.plans.map((p) => [planName(p), p] as const))('plan %s', (_name, ref) => {
    const s = planned(ref);
    expect(Array.from(s.timesteps)).toEqual(ref.timesteps);
    expect(s.numInferenceSteps).toBe(ref.k);
  });

  test.each(golden.ddim.steps.map((r) => [planName(r.plan), r.eta, r.t, r.prev, r] as const))(
    '%s, eta %d, step %i -> %i',
    (_name, eta, t, prev, ref) => {
      const s = planned(ref.plan);
      expect(s.prevTimestep(t)).toBe(prev);
      const opts = eta > 0 ? { eta, noise } : { eta };
      expectStepClose(s.step(eps, t, sample, opts), ref.out);
      expectStepClose(s.stepTo(eps, t, prev, sample, opts), ref.out);
      expectStepClose(ddimStepTo(sched, eps, t, prev, sample, eta, eta > 0 ? noise : undefined), ref.out);
    },
  );
});

describe('DDIM properties (no fixture)', () => {
  test('the super-resolution plan from the method: tStart 100, 10 steps', () => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setPartialTimesteps(100, 10);
    expect(Array.from(s.timesteps)).toEqual([100, 90, 80, 70, 60, 50, 40, 30, 20, 10]);
    expect(s.prevTimestep(100)).toBe(90);
    expect(s.prevTimestep(10)).toBe(-1);
  });

  test.each([10, 5, 1, 3, 8, 100])('eta = 0 with the exact eps recovers z0 from t = 100 in %i steps', (k) => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setPartialTimesteps(100, k);
    let x = s.addNoise(z0, eps, 100);
    for (const t of s.timesteps) x = s.step(eps, t, x);
    expectClose(x, z0, 0, 1e-5);
  });

  test('the step to the clean sample returns the predicted x0', () => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setTimesteps(10);
    const ab = sched.alphaBar[0];
    const x0 = Float32Array.from(sample, (x, i) => (x - Math.sqrt(1 - ab) * eps[i]) / Math.sqrt(ab));
    expect(s.prevTimestep(0)).toBe(-1);
    expect(Array.from(s.step(eps, 0, sample))).toEqual(Array.from(x0));
    expect(ddimSigma(sched, 0, -1, 1)).toBe(0);
  });

  test('eta = 1 on a strided plan is the DDPM step with the posterior variance', () => {
    const ddim = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    ddim.setTimesteps(50);
    const ddpm = new DDPMScheduler(PAPER_SCHEDULE_CONFIG, { varianceType: 'fixed_small' });
    ddpm.setTimesteps(50);
    for (const t of [980, 500, 20]) {
      expect(ddimSigma(sched, t, t - 20, 1) ** 2).toBeCloseTo(ddpm.coefficients(t).variance, 15);
      expectClose(ddim.step(eps, t, sample, { eta: 1, noise }), ddpm.step(eps, t, sample, noise), 1e-5, 1e-5);
    }
  });

  test('addNoise is sqrt(ab) z0 + sqrt(1 - ab) eps', () => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    const ab = sched.alphaBar[100];
    const expected = Float32Array.from(z0, (z, i) => Math.sqrt(ab) * z + Math.sqrt(1 - ab) * eps[i]);
    expect(Array.from(s.addNoise(z0, eps, 100))).toEqual(Array.from(expected));
    expect(Array.from(addNoise(sched, z0, eps, 100))).toEqual(Array.from(expected));
  });

  test('roundHalfEven rounds like numpy', () => {
    expect([0.5, 1.5, 2.5, 937.5, 812.5, 2.4, 2.6, 3].map(roundHalfEven)).toEqual([
      0, 2, 2, 938, 812, 2, 3, 3,
    ]);
  });

  test('plans are validated', () => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    expectDiffusionError(() => s.step(eps, 10, sample), 'no-plan');
    expectDiffusionError(() => s.prevTimestep(10), 'no-plan');
    expect(s.timesteps.length).toBe(0);
    for (const [tStart, k] of [
      [100, 0],
      [100, 101],
      [1000, 10],
      [0, 1],
      [-5, 1],
      [100.5, 10],
      [100, 2.5],
    ]) {
      expectDiffusionError(() => s.setPartialTimesteps(tStart, k), 'invalid-plan');
    }
    for (const k of [0, 1001, -3, 4.5]) expectDiffusionError(() => s.setTimesteps(k), 'invalid-plan');
    expectDiffusionError(() => s.setTimesteps(10, { spacing: 'linspace' as never }), 'invalid-plan');
    expectDiffusionError(() => new TimestepPlan(1000, [100, 100, 50]), 'invalid-plan');
    expectDiffusionError(() => new TimestepPlan(1000, [50, 100]), 'invalid-plan');
    expectDiffusionError(() => new TimestepPlan(1000, [1000, 10]), 'invalid-plan');
    expectDiffusionError(() => new TimestepPlan(1000, []), 'invalid-plan');
    s.setPartialTimesteps(100, 10);
    expectDiffusionError(() => s.step(eps, 95, sample), 'timestep-not-in-plan');
    expectDiffusionError(() => s.step(eps, 1000, sample), 'invalid-timestep');
  });

  test('steps are validated', () => {
    const s = new DDIMScheduler(PAPER_SCHEDULE_CONFIG);
    s.setPartialTimesteps(100, 10);
    expectDiffusionError(() => s.step(eps, 100, sample, { eta: 0.5 }), 'noise-required');
    for (const eta of [-0.1, 1.5, NaN, Infinity]) {
      expectDiffusionError(() => s.step(eps, 100, sample, { eta, noise }), 'invalid-eta');
    }
    expectDiffusionError(() => s.step(eps.subarray(2), 100, sample), 'shape-mismatch');
    expectDiffusionError(
      () => s.step(eps, 100, sample, { eta: 0.5, noise: noise.subarray(2) }),
      'shape-mismatch',
    );
    expectDiffusionError(() => ddimStepTo(sched, eps, 100, 100, sample), 'invalid-timestep');
    expectDiffusionError(() => ddimStepTo(sched, eps, 100, 200, sample), 'invalid-timestep');
    expectDiffusionError(() => ddimStepTo(sched, eps, 100, -2, sample), 'invalid-timestep');
    expectDiffusionError(() => ddimStepTo(sched, eps, 1000, -1, sample), 'invalid-timestep');
  });
});
