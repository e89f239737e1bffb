/**
 * The layer rule (eslint.config.js, no-restricted-imports per layer) really fails a wrong-way
 * import and lets a downward one through: ESLint's own API lints probe sources as if they were
 * files of each layer.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const SRC = 'extensions/geometry-ldm/src';

/** ESLint's CLI (the repo's flat config, as `npm run lint` runs it) on a probe source. */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, 'node_modules', 'eslint', 'bin', 'eslint.js'),
      '--stdin',
      '--stdin-filename',
      join(SRC, file),
      '-f',
      'json',
    ],
    { cwd: REPO, input: code, encoding: 'utf8' },
  );
  const [result] = JSON.parse(r.stdout) as { messages: { ruleId: string | null; message: string }[] }[];
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test.each([
  [
    'geometry/probe.ts',
    "import { planGenerate } from '../panels/generateModel';\nexport const x = planGenerate;\n",
    /pure math/,
  ],
  [
    'dicom/probe.ts',
    "import { planSuperResolution } from '../planning/superResolvePlan';\nexport const x = planSuperResolution;\n",
    /the core/,
  ],
  [
    'cli/probe.ts',
    "import { runSuperResolution } from '../panels/jobs';\nexport const x = runSuperResolution;\n",
    /the CLI never imports the panels/,
  ],
  [
    'panels/probe.ts',
    "import { runSuperResolve } from '../cli/superResolveCommand';\nexport const x = runSuperResolve;\n",
    /the panels never import the CLI/,
  ],
])('a wrong-way import in %s is an error', async (file, code, why) => {
  const errors = await layerErrors(file, code);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(why);
});

test.each([
  [
    'panels/probe.ts',
    "import { planSuperResolution } from '../planning/superResolvePlan';\nexport const x = planSuperResolution;\n",
  ],
])('a downward import in %s passes', async (file, code) => {
  expect(await layerErrors(file, code)).toEqual([]);
});
