/**
 * One noise schedule per language, checked against the other over the whole table: the
 * Python training code (ldm/schedule.py, Schedule.from_json) and the TypeScript runtime
 * (diffusion/schedule.ts) build betas and alpha_bar from the same model.json `scheduler`
 * (the shipped demo model's, plus a linear one), and must agree at every t = 0..T-1.
 * Skipped (with a warning) only when Debian's python3 with torch is not available.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSchedule, validateScheduleConfig } from '../../extensions/geometry-ldm/src/diffusion/schedule';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import { pythonWithTorch } from './pythonEnv';
import { TORCH } from '../../test/support/requirements';

const python = pythonWithTorch();
const TRAINING = __dirname;
const demo = parseManifestText(
  readFileSync(join(__dirname, '..', 'geometry-ldm-demo', 'model.json'), 'utf8'),
);

function pythonTable(scheduler: object): { betas: number[]; alphaBar: number[] } {
  const code = [
    'import json, sys',
    'from ldm.schedule import Schedule',
    's = Schedule.from_json(json.loads(sys.argv[1]))',
    'print(json.dumps({"betas": s.betas.tolist(), "alphaBar": s.alpha_bar.tolist()}))',
  ].join('\n');
  const r = spawnSync(python!, ['-c', code, JSON.stringify(scheduler)], { cwd: TRAINING, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const cases: [string, object][] = [
  ['the demo model.json scheduler', demo.scheduler],
  [
    'a linear schedule, T = 500',
    { ...demo.scheduler, betaSchedule: 'linear', numTrainTimesteps: 500, betaStart: 0.0001, betaEnd: 0.02 },
  ],
];

TORCH().describe('noise schedule: Python and TypeScript agree at every timestep', () => {
  test.each(cases)('%s', (_name, scheduler) => {
    const py = pythonTable(scheduler);
    const ts = createSchedule(validateScheduleConfig(scheduler));
    expect(py.betas).toHaveLength(ts.numTrainTimesteps);
    let worst = 0;
    for (let t = 0; t < ts.numTrainTimesteps; t++) {
      worst = Math.max(worst, Math.abs(py.betas[t] - ts.betas[t]) / ts.betas[t]);
      worst = Math.max(worst, Math.abs(py.alphaBar[t] - ts.alphaBar[t]) / ts.alphaBar[t]);
    }
    expect(worst).toBeLessThan(1e-14);
  });

  test('the table really depends on the manifest (a changed betaEnd changes it)', () => {
    const a = pythonTable(demo.scheduler);
    const b = pythonTable({ ...demo.scheduler, betaEnd: 0.02 });
    expect(b.betas[b.betas.length - 1]).not.toBe(a.betas[a.betas.length - 1]);
  });
});
