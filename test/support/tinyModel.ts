/**
 * A tiny random-weight model exported by the committed export code
 * (models/training/ldm/export.py --tiny) into a temp dir, for engine tests.
 * The same weights are rebuilt in Python by `ldm.export.tiny_models(seed)`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseManifestText, type ModelManifest } from '../../extensions/geometry-ldm/src/model/manifest';
import { pythonWithTorch } from '../../models/training/pythonEnv';

export const TRAINING_DIR = resolve(__dirname, '..', '..', 'models', 'training');

export interface ExportedModel {
  dir: string;
  manifest: ModelManifest;
  readFile(path: string): Uint8Array;
  remove(): void;
}

export function exportTinyModel(seed = 0): ExportedModel {
  const python = pythonWithTorch();
  if (!python)
    throw new Error('Debian python3 with torch is required (apt-get install python3-torch; .ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'gldm-tiny-'));
  const r = spawnSync(python, ['-m', 'ldm.export', '--tiny', '--seed', String(seed), '--out', dir], {
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
