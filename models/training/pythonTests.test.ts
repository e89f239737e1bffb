/**
 * Runs the Python unit tests of the training code (models/training/tests) so
 * that `npm test` covers them: every module `unittest discover` would find
 * (test*.py), each as
 *   /usr/bin/python3 -m unittest discover -s models/training/tests -p <module>
 * on one thread, two at a time (or one on a 1-core machine): jest runs this suite alone,
 * and one module on one thread would leave the CI's second core idle.
 * Without python3 + torch: skipped with a warning locally, a failure under CI
 * (test/support/requirements.ts); under CI a skipped Python test fails too.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pythonWithTorch } from './pythonEnv';
import { IN_CI, TORCH } from '../../test/support/requirements';

const python = pythonWithTorch();
const torch = TORCH();
const repo = join(__dirname, '..', '..');
const testDir = join(__dirname, 'tests');

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

// unittest discover's default pattern; the largest files first, so that the long modules
// do not start last and leave one core idle at the end
const modules = readdirSync(testDir)
  .filter((f) => /^test.*\.py$/.test(f))
  .sort((a, b) => statSync(join(testDir, b)).size - statSync(join(testDir, a)).size);

function runModule(file: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      python as string,
      ['-m', 'unittest', 'discover', '-s', 'models/training/tests', '-p', file],
      {
        cwd: repo,
        env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Runs every module, at most `width` at a time, in the given order: each starts when a running
 * one ends (a static split into lanes took 63 s against 58 s: the longest module held one lane up).
 */
function runPool(files: string[], width: number): Map<string, Promise<Outcome>> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const inTurn = async (file: string): Promise<Outcome> => {
    while (running >= width) await new Promise<void>((wake) => waiting.push(wake));
    running++;
    try {
      return await runModule(file);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
  return new Map(files.map((f) => [f, inTurn(f)]));
}

let results: Map<string, Promise<Outcome>>;
beforeAll(() => {
  if (torch.available) results = runPool(modules, Math.max(1, Math.min(2, availableParallelism())));
});

describe('Python training code', () => {
  test('unittest discover finds the test modules', () => {
    expect(modules.length).toBeGreaterThan(10);
  });

  for (const file of modules) {
    torch.test(
      `${file} passes`,
      async () => {
        const r = await results.get(file)!;
        if (r.status !== 0) {
          throw new Error(`python unittest ${file} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
        }
        expect(r.stderr).toMatch(/Ran [1-9]\d* tests? in/);
        expect(r.stderr).toMatch(/\nOK/);
        // under CI a skipped Python test (missing shared data, no CUDA aside) is a failure, not a pass
        if (IN_CI) expect(r.stderr.replace(/skipped=\d+.*CUDA.*/g, '')).not.toMatch(/OK \(skipped=/);
      },
      600000,
    );
  }
});
