/**
 * Runs the Python unit tests of the training code (models/training/tests) so
 * that `npm test` covers them:
 *   /usr/bin/python3 -m unittest discover -s models/training/tests
 * Skipped with a warning only when no python3 with torch is available.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pythonWithTorch } from './pythonEnv';

const python = pythonWithTorch();
if (!python) console.warn('pythonTests.test: no python3 with torch importable; Python tests skipped');
const maybe = python ? it : it.skip;

describe('Python training code', () => {
  maybe(
    'unittest discover -s models/training/tests passes',
    () => {
      const repo = join(__dirname, '..', '..');
      const r = spawnSync(python as string, ['-m', 'unittest', 'discover', '-s', 'models/training/tests'], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
        maxBuffer: 16 * 1024 * 1024,
      });
      if (r.status !== 0) {
        throw new Error(`python unittest failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
      }
      expect(r.stderr).toMatch(/OK/);
    },
    600000,
  );
});
