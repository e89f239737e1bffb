/**
 * The geometry-ldm command: the viewer's pipelines and DICOM I/O, headless,
 * on onnxruntime-node. Exit codes: see exitCodes.ts.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import {
  fovAxesGiven,
  parseDims,
  parseFov,
  parsePositiveInt,
  parseRegion,
  parseRotation,
  parseScale,
  parseShard,
  parseVec3,
} from './args';
import { EXIT, UsageError, exitCodeFor } from './exitCodes';
import { runGenerate } from './generateCommand';
import { modelsInfo, modelsVerify } from './modelsCommand';
import { parseDevice } from './nodeModel';
import { createReporter } from './output';
import { pacsConfig } from './pacs';
import { runSuperResolve } from './superResolveCommand';
import type { SuperResolutionMode } from '../model/manifest';
import { checkAtMost, CLI_LIMITS, coreCount } from './validate';
import { SLICE_MODEL_CHOICES, type SliceModelChoice } from '../volume/seriesAcquisition';

/** The demo model shipped in the repository (the bin launcher sets the variable to its path). */
export const DEFAULT_MODEL_DIR =
  process.env.GEOMETRY_LDM_DEFAULT_MODEL ?? resolve('models', 'geometry-ldm-demo');

const HELP = `geometry-ldm: resolution- and field-of-view-invariant latent diffusion for CT (research, not for diagnosis)

  geometry-ldm super-resolve --pacs URL --study UID [--series UID] (--spacing X,Y,Z | --scale S | --scale X,Y,Z)
        [--region fit | --region axis=start:end ...]
        [--mode ai|classical|diffusion] [--slice-profile auto|box|gaussian|point|none] [--slice-thickness MM]
        [--samples N --cycles C --t T --steps K --seed S --std-map] [--bridge-gaps] [--no-memory-check]
        [--model DIR] (--out DIR | --stow [--job FILE] [--stow-batch N])
  geometry-ldm generate [--pacs URL] --grid X,Y,Z [--spacing X,Y,Z] [--fov axis=a:b ...] [--rotate axis=deg ...]
        [--count N --seed S --sampler ddim|ddpm --steps K --eta E] [--model DIR] (--out DIR | --stow)
        [--job FILE] [--batch-id ID] [--shard INDEX/COUNT] [--no-memory-check]
  geometry-ldm models verify DIR | models info DIR

Common: --json (JSON lines on stdout), --config FILE (PACS URL + credentials), --threads N,
        --device cpu|cuda (cuda: needs onnxruntime-node's CUDA provider; untested in this project).
Credentials: GEOMETRY_LDM_PACS_USER / GEOMETRY_LDM_PACS_PASSWORD or GEOMETRY_LDM_PACS_TOKEN, or --config.
Axes: x = columns (patient left), y = rows (posterior), z = slices (head); FOV in group units [0, 1].
Exit codes: 0 ok, 2 bad input, 3 PACS error, 4 model error, 130 cancelled.`;

const OPTIONS = {
  pacs: { type: 'string' },
  config: { type: 'string' },
  study: { type: 'string' },
  series: { type: 'string' },
  spacing: { type: 'string' },
  scale: { type: 'string' },
  samples: { type: 'string' },
  mode: { type: 'string' },
  'slice-profile': { type: 'string' },
  'slice-thickness': { type: 'string' },
  cycles: { type: 'string' },
  t: { type: 'string' },
  steps: { type: 'string' },
  seed: { type: 'string' },
  'std-map': { type: 'boolean' },
  'bridge-gaps': { type: 'boolean' },
  'stow-batch': { type: 'string' },
  'no-memory-check': { type: 'boolean' },
  region: { type: 'string', multiple: true },
  model: { type: 'string' },
  out: { type: 'string' },
  stow: { type: 'boolean' },
  grid: { type: 'string' },
  fov: { type: 'string', multiple: true },
  rotate: { type: 'string', multiple: true },
  count: { type: 'string' },
  sampler: { type: 'string' },
  eta: { type: 'string' },
  job: { type: 'string' },
  'batch-id': { type: 'string' },
  shard: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function atMost(n: number, max: number, what: string): number {
  checkAtMost(n, max, what);
  return n;
}

function parseMode(value: string | undefined): SuperResolutionMode | undefined {
  if (value === undefined) return undefined;
  if (value !== 'ai' && value !== 'classical' && value !== 'diffusion')
    throw new UsageError(`--mode ${value}: expected ai, classical or diffusion`);
  return value;
}

function parseSliceProfile(value: string | undefined): SliceModelChoice {
  if (value === undefined) return 'auto';
  if (!(SLICE_MODEL_CHOICES as readonly string[]).includes(value))
    throw new UsageError(`--slice-profile ${value}: expected ${SLICE_MODEL_CHOICES.join(', ')}`);
  return value as SliceModelChoice;
}

function parseEta(value: string): number {
  const n = Number(value);
  if (!(value.trim() !== '' && n >= 0 && n <= 1))
    throw new UsageError(`--eta ${value}: expected a number from 0 (deterministic) to 1`);
  return n;
}

function parsePositiveMm(value: string, what: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0))
    throw new UsageError(`${what} ${value}: expected a positive number of mm`);
  return n;
}

/** --job FILE; a `$(VAR)` left in it is a Kubernetes variable that did not expand (not in the container's env). */
function jobPathArg(value: string): string {
  if (/\$\(/.test(value))
    throw new UsageError(
      `--job ${value}: contains an unexpanded $(...) variable (declare it in the container's env)`,
    );
  return resolve(value);
}

export async function main(argv: string[], signal?: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`geometry-ldm: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  const { values: v, positionals } = parsed;
  const reporter = createReporter(Boolean(v.json));
  if (v.help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return positionals.length === 0 && !v.help ? EXIT.badInput : EXIT.ok;
  }
  try {
    const [command, sub, dir] = positionals;
    const modelDir = resolve(v.model ?? DEFAULT_MODEL_DIR);
    const askedThreads = v.threads === undefined ? 0 : parsePositiveInt(v.threads, '--threads', 1);
    const threads = Math.min(askedThreads, coreCount());
    if (askedThreads > threads)
      reporter.info(`--threads ${askedThreads}: this machine has ${threads} cores; using ${threads}`);
    const device = parseDevice(v.device);
    if (command === 'models') {
      if (!dir || (sub !== 'verify' && sub !== 'info'))
        throw new UsageError('usage: geometry-ldm models verify|info DIR');
      if (sub === 'verify') await modelsVerify(dir, reporter, device);
      else await modelsInfo(dir, reporter);
    } else if (command === 'generate') {
      if (!v.grid) throw new UsageError('--grid X,Y,Z is required');
      const sampler = v.sampler ?? 'ddim';
      if (sampler !== 'ddim' && sampler !== 'ddpm')
        throw new UsageError(`--sampler must be ddim or ddpm, got "${sampler}"`);
      if (v.eta !== undefined && sampler !== 'ddim') throw new UsageError('--eta is for --sampler ddim');
      // DDIM without --eta takes the model's (generation.ddimEta)
      const eta = v.eta === undefined ? undefined : parseEta(v.eta);
      await runGenerate(
        {
          grid: parseDims(v.grid, '--grid'),
          spacingMm: v.spacing ? parseVec3(v.spacing, '--spacing', { positive: true }) : undefined,
          fov: parseFov(v.fov ?? []),
          fovGiven: fovAxesGiven(v.fov ?? []),
          rotationDeg: parseRotation(v.rotate ?? []),
          count: atMost(parsePositiveInt(v.count, '--count', 1), CLI_LIMITS.count, '--count'),
          seed: v.seed ?? '0',
          sampler:
            sampler === 'ddim'
              ? {
                  kind: 'ddim',
                  steps: parsePositiveInt(v.steps, '--steps', 50),
                  ...(eta === undefined ? {} : { eta }),
                }
              : { kind: 'ddpm', steps: parsePositiveInt(v.steps, '--steps', 1000) },
          modelDir,
          out: v.out ? resolve(v.out) : undefined,
          pacs: v.stow ? pacsConfig(v.pacs, v.config) : undefined,
          jobPath: v.job ? jobPathArg(v.job) : undefined,
          batchId: v['batch-id'],
          shard: parseShard(
            v.shard ??
              (process.env.JOB_COMPLETION_INDEX !== undefined && process.env.GEOMETRY_LDM_SHARDS
                ? `${process.env.JOB_COMPLETION_INDEX}/${process.env.GEOMETRY_LDM_SHARDS}`
                : undefined),
          ),
          threads,
          device,
          skipMemoryCheck: Boolean(v['no-memory-check']),
        },
        reporter,
        signal,
      );
    } else if (command === 'super-resolve') {
      if (!v.study) throw new UsageError('--study UID is required');
      await runSuperResolve(
        {
          pacs: pacsConfig(v.pacs, v.config),
          study: v.study,
          series: v.series,
          spacingMm: v.spacing ? parseVec3(v.spacing, '--spacing', { positive: true }) : undefined,
          scale: v.scale === undefined ? undefined : parseScale(v.scale),
          region: parseRegion(v.region ?? []),
          samples:
            v.samples === undefined
              ? undefined
              : atMost(parsePositiveInt(v.samples, '--samples', 1), CLI_LIMITS.samples, '--samples'),
          mode: parseMode(v.mode),
          sliceProfile: parseSliceProfile(v['slice-profile']),
          sliceThicknessMm:
            v['slice-thickness'] === undefined
              ? undefined
              : parsePositiveMm(v['slice-thickness'], '--slice-thickness'),
          cycles:
            v.cycles === undefined
              ? undefined
              : atMost(parsePositiveInt(v.cycles, '--cycles', 1), CLI_LIMITS.cycles, '--cycles'),
          tStart: v.t === undefined ? undefined : parsePositiveInt(v.t, '--t', 1),
          steps: v.steps === undefined ? undefined : parsePositiveInt(v.steps, '--steps', 1),
          seed: v.seed ?? '0',
          stdMap: Boolean(v['std-map']),
          bridgeGaps: Boolean(v['bridge-gaps']),
          modelDir,
          out: v.out ? resolve(v.out) : undefined,
          stow: Boolean(v.stow),
          jobPath: v.job ? resolve(jobPathArg(v.job)) : undefined,
          skipMemoryCheck: Boolean(v['no-memory-check']),
          stowBatch:
            v['stow-batch'] === undefined
              ? undefined
              : atMost(
                  parsePositiveInt(v['stow-batch'], '--stow-batch', 1),
                  CLI_LIMITS.stowBatch,
                  '--stow-batch',
                ),
          threads,
          device,
        },
        reporter,
        signal,
      );
    } else {
      throw new UsageError(`unknown command "${command}" (try --help)`);
    }
    return EXIT.ok;
  } catch (e) {
    const code = exitCodeFor(e);
    const err = e as { message?: string; code?: string };
    // One line, plain words; the code names the class of failure.
    reporter.error((err.message ?? String(e)).split('\n')[0], { code: err.code ?? 'internal', exit: code });
    return code;
  }
}
