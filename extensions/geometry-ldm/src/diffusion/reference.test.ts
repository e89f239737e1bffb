/**
 * The committed golden fixture must be exactly what the reference script
 * produces: nobody edits one without the other. Needs /usr/bin/python3 with
 * torch and numpy (CI installs them). When that interpreter cannot import
 * torch the test FAILS under CI (process.env.CI set) and is reported as
 * skipped (with a warning) otherwise.
 */
import { TORCH } from '../../../../test/support/requirements';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { GOLDEN_PATH } from './__fixtures__/golden';

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve(__dirname, '../../../../test/reference/diffusion_reference.py');

const torch = TORCH();

torch.test('test/reference/diffusion_reference.py reproduces the committed fixture exactly', () => {
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
});
