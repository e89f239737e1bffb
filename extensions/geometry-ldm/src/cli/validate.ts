/**
 * Checks made before the CLI reads a series, loads a model or writes anything: every bad
 * argument and an unusable output location end in one line and exit 2 with nothing
 * written. Maxima are documented in docs/cli.md ("Limits").
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { ModelManifest } from '../model/manifest';
import { UsageError } from './exitCodes';

export const CLI_LIMITS = {
  /** Super-resolution samples (each one is a full run; the std map needs a few, not thousands). */
  samples: 64,
  /** Super-resolution noise/denoise cycles. */
  cycles: 50,
  /** Generated volumes in one command (a batch job shards larger sets). */
  count: 100000,
  /** Instances per STOW-RS request (a PACS or proxy may cap request sizes). */
  stowBatch: 1000,
} as const;

/** Cores onnxruntime may use: more threads than cores only thrash (1000 threads never finished a 32^3 sample). */
export function coreCount(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
}

export function checkAtMost(n: number | undefined, max: number, what: string): void {
  if (n !== undefined && n > max) throw new UsageError(`${what} ${n} is more than the maximum ${max}`);
}

/** DDIM/DDPM steps and the SR start timestep within the model's schedule. */
export function checkSchedule(
  manifest: ModelManifest,
  opts: { steps?: number; stepsWhat?: string; tStart?: number },
): void {
  const T = manifest.scheduler.numTrainTimesteps;
  if (opts.steps !== undefined && opts.steps > T)
    throw new UsageError(
      `${opts.stepsWhat ?? '--steps'} ${opts.steps}: the model ${manifest.name} has ${T} timesteps, so at most ${T} steps`,
    );
  if (opts.tStart !== undefined && opts.tStart > T - 1)
    throw new UsageError(`--t ${opts.tStart}: the model has ${T} timesteps, so --t is at most ${T - 1}`);
}

/**
 * --out must be a folder that exists or can be made: an existing file, a parent that is a
 * file or a parent that is not writable is refused without creating anything.
 */
export function checkOutDir(out: string | undefined): void {
  if (!out) return;
  const dir = resolve(out);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${out} is a file, not a folder`);
    writable(dir, out);
    return;
  }
  let parent = dirname(dir);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new UsageError(`--out ${out}: ${parent} is a file, not a folder`);
  writable(parent, out);
}

function writable(dir: string, out: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`--out ${out}: ${dir} is not writable`);
  }
  if (dir === '/proc' || dir.startsWith('/proc/') || dir === '/sys' || dir.startsWith('/sys/'))
    throw new UsageError(`--out ${out}: ${dir} is a kernel file system, not storage`);
}
