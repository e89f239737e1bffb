/**
 * Runs the Python unit tests of the training code (models/training/tests) so
 * that `npm test` covers them:
 *   /usr/bin/python3 -m unittest discover -s models/training/tests
 * Without python3 + torch: skipped with a warning locally, a failure under CI
 * (test/support/requirements.ts); under CI a skipped Python test fails too.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pythonWithTorch } from './pythonEnv';
import { IN_CI, TORCH } from '../../test/support/requirements';

const python = pythonWithTorch();
const maybe = TORCH().test;

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
      // under CI a skipped Python test (missing shared data, no CUDA aside) is a failure, not a pass
      if (IN_CI) expect(r.stderr.replace(/skipped=\d+.*CUDA.*/g, '')).not.toMatch(/OK \(skipped=/);
    },
    600000,
  );
});
