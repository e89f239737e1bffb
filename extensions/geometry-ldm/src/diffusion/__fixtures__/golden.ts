/**
 * Test-only helpers: the typed golden fixture written by
 * test/reference/diffusion_reference.py, and tolerance checks.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { DiffusionError, type DiffusionErrorCode } from '../errors';
import type { ScheduleConfig } from '../schedule';
import type { TimestepSpacing } from '../timesteps';
import type { VarianceType } from '../ddpm';

export const GOLDEN_PATH = join(__dirname, 'diffusion-golden.json');

export interface GoldenSchedule {
  name: string;
  config: ScheduleConfig;
  t: number[];
  betas: number[];
  alphas: number[];
  alphaBar: number[];
  sums: { betas: number; alphas: number; alphaBar: number };
}

export interface GoldenDDIMPlanRef {
  kind: 'full' | 'partial';
  spacing?: TimestepSpacing;
  tStart?: number;
  k: number;
}

export interface Golden {
  inputs: { n: number; sample: number[]; eps: number[]; noise: number[]; z0: number[] };
  schedules: GoldenSchedule[];
  addNoise: { t: number; out: number[] }[];
  ddpm: {
    plans: { numInferenceSteps: number | null; timesteps: number[] }[];
    steps: {
      numInferenceSteps: number | null;
      varianceType: VarianceType;
      t: number;
      prev: number;
      out: number[];
    }[];
  };
  ddim: {
    plans: (GoldenDDIMPlanRef & { timesteps: number[] })[];
    steps: { plan: GoldenDDIMPlanRef; eta: number; t: number; prev: number; out: number[] }[];
  };
  rng: {
    streams: {
      seed: number | string;
      seed32: number;
      uint32: number[];
      float64: number[];
      gaussians: number[];
    }[];
    deriveSeed: { base: number | string; path: (string | number)[]; seed: number }[];
    log: { x: number; log: number }[];
  };
}

export function loadGolden(path = GOLDEN_PATH): Golden {
  return JSON.parse(readFileSync(path, 'utf8')) as Golden;
}

/** The fixed inputs as Float32Array (their JSON values are exact float32s). */
export function goldenInputs(g: Golden): {
  sample: Float32Array;
  eps: Float32Array;
  noise: Float32Array;
  z0: Float32Array;
} {
  const f32 = (a: number[]): Float32Array => {
    const out = Float32Array.from(a);
    // Guard: the fixture must hold exact float32 values, or the comparison would be off by the rounding.
    out.forEach((v, i) => {
      if (v !== a[i]) throw new Error(`fixture input ${i} = ${a[i]} is not a float32`);
    });
    return out;
  };
  return {
    sample: f32(g.inputs.sample),
    eps: f32(g.inputs.eps),
    noise: f32(g.inputs.noise),
    z0: f32(g.inputs.z0),
  };
}

/**
 * Index of the first element where |actual - expected| > abs + rel * |expected|,
 * or -1; with a message for expect().
 */
export function firstMismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  abs: number,
): { index: number; message: string } {
  if (actual.length !== expected.length) {
    return { index: 0, message: `length ${actual.length} != expected ${expected.length}` };
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= abs + rel * Math.abs(e))) {
      return { index: i, message: `element ${i}: got ${a}, expected ${e} (rel ${rel}, abs ${abs})` };
    }
  }
  return { index: -1, message: 'ok' };
}

/** Asserts every element matches within abs + rel * |expected|. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  abs: number,
): void {
  const { message } = firstMismatch(actual, expected, rel, abs);
  expect(message).toBe('ok');
}

/**
 * Float32 step outputs against float64 reference values: |a - e| <= 1e-5 * max(1, |e|)
 * (the outputs are O(1..10); float32 rounding alone is ~6e-8 relative).
 */
export function expectStepClose(actual: Float32Array, expected: number[]): void {
  expectClose(actual, expected, 1e-5, 1e-5);
}

const bitsView = new DataView(new ArrayBuffer(8));

/** Distance in units in the last place between two finite float64 of the same sign. */
export function ulpDistance(a: number, b: number): number {
  if (a === b) return 0;
  bitsView.setFloat64(0, a);
  const ba = bitsView.getBigInt64(0);
  bitsView.setFloat64(0, b);
  const bb = bitsView.getBigInt64(0);
  if (ba < 0n !== bb < 0n) return Number.POSITIVE_INFINITY;
  const d = ba - bb;
  return Number(d < 0n ? -d : d);
}

/** Asserts that fn throws a DiffusionError with the given code. */
export function expectDiffusionError(fn: () => unknown, code: DiffusionErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DiffusionError);
  expect((caught as DiffusionError).code).toBe(code);
}
