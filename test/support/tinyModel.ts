/**
 * A tiny random-weight model exported by the committed export code
 * (models/training/ldm/export.py --tiny) into a temp dir, for engine tests.
 * The same weights are rebuilt in Python by `ldm.export.tiny_models(seed, latentFactor)`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, type LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import { createOrtRuntime, type OrtModule } from '../../extensions/geometry-ldm/src/inference/ortRuntime';
import { parseManifestText, type ModelManifest } from '../../extensions/geometry-ldm/src/model/manifest';
import type { LatentFactor } from '../../extensions/geometry-ldm/src/geometry/coordinateChannels';
import { pythonWithTorch } from '../../models/training/pythonEnv';

export const TRAINING_DIR = resolve(__dirname, '..', '..', 'models', 'training');

export interface ExportedModel {
  dir: string;
  manifest: ModelManifest;
  readFile(path: string): Uint8Array;
  remove(): void;
}

export function exportTinyModel(seed = 0, latentFactor: LatentFactor = 8): ExportedModel {
  const python = pythonWithTorch();
  if (!python)
    throw new Error('Debian python3 with torch is required (apt-get install python3-torch; .ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'gldm-tiny-'));
  const args = [
    '-m',
    'ldm.export',
    '--tiny',
    '--seed',
    String(seed),
    '--latent-factor',
    String(latentFactor),
  ];
  const r = spawnSync(python, [...args, '--out', dir], {
    cwd: TRAINING_DIR,
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`tiny export failed: ${r.stderr}`);
  return {
    dir,
    manifest: parseManifestText(readFileSync(join(dir, 'model.json'), 'utf8')),
    readFile: (p: string) => new Uint8Array(readFileSync(join(dir, p))),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * An exported model loaded on onnxruntime-node (1 thread: deterministic and
 * light on the 2-core CI), the way the CLI loads it. Pass the test file's own
 * `import * as ort from 'onnxruntime-node'` (jest loads it in the ort environment).
 */
export async function loadOnOrtNode(exported: ExportedModel, ort: unknown): Promise<LoadedModel> {
  const runtime = createOrtRuntime(ort as OrtModule, {
    library: 'onnxruntime-node',
    executionProvider: 'cpu',
    threads: 1,
  });
  return loadModel(exported.manifest, runtime, async (_part, file) => exported.readFile(file.path));
}

/**
 * For a jest describe block: a tiny model (`exportTinyModel(seed, latentFactor)`) loaded on
 * onnxruntime-node and, when `scratchPrefix` is given, an empty scratch folder; made before its
 * tests and removed after them. Read `model`, `modelDir` (the exported files) and `dir` inside
 * the tests (they exist once beforeAll has run).
 */
export function withTinyModelOnOrtNode(
  ort: unknown,
  options: {
    readonly scratchPrefix?: string;
    readonly latentFactor?: LatentFactor;
    readonly seed?: number;
  } = {},
): { readonly model: LoadedModel; readonly modelDir: string; readonly dir: string } {
  let exported: ExportedModel | undefined;
  let model: LoadedModel | undefined;
  let dir = '';
  beforeAll(async () => {
    exported = exportTinyModel(options.seed ?? 0, options.latentFactor ?? 8);
    model = await loadOnOrtNode(exported, ort);
    if (options.scratchPrefix) dir = mkdtempSync(join(tmpdir(), options.scratchPrefix));
  }, 180000);
  afterAll(async () => {
    await model?.release();
    exported?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const made = <T>(value: T | undefined, what: string): T => {
    if (value === undefined || value === '') throw new Error(`the tiny model's ${what} is made in beforeAll`);
    return value;
  };
  return {
    get model(): LoadedModel {
      return made(model, 'session');
    },
    get modelDir(): string {
      return made(exported, 'export').dir;
    },
    get dir(): string {
      return made(dir, 'scratch folder (pass scratchPrefix)');
    },
  };
}
