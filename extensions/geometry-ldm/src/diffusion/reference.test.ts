/**
 * The committed golden fixture must be exactly what the reference script
 * produces: nobody edits one without the other. Needs /usr/bin/python3 with
 * torch and numpy (CI installs them). When that interpreter cannot import
 * torch the test FAILS under CI (process.env.CI set) and is reported as
 * skipped (with a warning) otherwise.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { GOLDEN_PATH } from './__fixtures__/golden';

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve(__dirname, '../../../../test/reference/diffusion_reference.py');

function hasTorch(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0;
}

const TORCH = hasTorch();
const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const NO_TORCH =
  `${PYTHON} cannot import torch + numpy, so the golden fixture was not regenerated ` +
  `and compared (${SCRIPT}). Install python3-torch / python3-numpy to run this check.`;
if (!TORCH && !IN_CI) console.warn(`SKIPPED: ${NO_TORCH}`);

// Without torch: a visible skip locally, a failure in CI (the check must not vanish there).
(TORCH || IN_CI ? test : test.skip)(
  'test/reference/diffusion_reference.py reproduces the committed fixture exactly',
  () => {
    if (!TORCH) throw new Error(`CI is set but ${NO_TORCH}`);
    const dir = mkdtempSync(join(tmpdir(), 'diffusion-golden-'));
    try {
      const out = join(dir, 'golden.json');
      const r = spawnSync(PYTHON, [SCRIPT, '--out', out], { encoding: 'utf8', timeout: 120000 });
      if (r.status !== 0) throw new Error(`reference script failed (${r.status}):\n${r.stderr}`);
      // Values, not bytes: the committed file is formatted by prettier. Numbers are
      // compared exactly (Python writes shortest round-trip reprs).
      const fresh: unknown = JSON.parse(readFileSync(out, 'utf8'));
      const committed: unknown = JSON.parse(readFileSync(GOLDEN_PATH, 'utf8'));
      expect(committed).toEqual(fresh);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
