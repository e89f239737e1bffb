/**
 * The `generate` examples of README.md and docs/cli.md do what their comments
 * say: each command, as written (only the count, the steps, the destination
 * and the PACS changed to a local folder), runs with the default (demo) model,
 * and the field of view it asks for with --fov is what the written DICOM files
 * cover: voxel centres from ImagePositionPatient / ImageOrientationPatient /
 * PixelSpacing, mapped into the model's group space, within half a voxel.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import dcmjs from 'dcmjs';
import { generationGroupSpace } from '../../extensions/geometry-ldm/src/inference/generate';
import { patientPointToGroup } from '../../extensions/geometry-ldm/src/geometry/groupSpace';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import type { Vec3 } from '../../extensions/geometry-ldm/src/geometry/conventions';

const REPO = resolve(__dirname, '..', '..');
const BIN = resolve(REPO, 'extensions', 'geometry-ldm', 'bin', 'geometry-ldm.mjs');
const manifest = parseManifestText(
  readFileSync(resolve(REPO, 'models', 'geometry-ldm-demo', 'model.json'), 'utf8'),
);
const group = generationGroupSpace(manifest);

/** `npx geometry-ldm generate ...` commands of the bash blocks of a Markdown file (continuations joined). */
function generateExamples(file: string): string[][] {
  const text = readFileSync(resolve(REPO, file), 'utf8');
  const blocks = [...text.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
  const commands: string[][] = [];
  for (const block of blocks) {
    const joined = block.replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) {
      const m = /^npx geometry-ldm (generate .*)$/.exec(line.trim());
      if (m)
        commands.push(
          m[1]
            .replace(/\s+#.*$/, '')
            .trim()
            .split(/\s+/),
        );
    }
  }
  return commands;
}

/** The example made local and fast: no PACS, one item, one step, files into `out`. */
function localised(args: string[], out: string): string[] {
  const drop = new Set(['--stow']);
  const withValue = new Set(['--pacs', '--job', '--out', '--count', '--steps']);
  const kept: string[] = [];
  for (let n = 0; n < args.length; n++) {
    if (drop.has(args[n])) continue;
    if (withValue.has(args[n])) {
      n++;
      continue;
    }
    kept.push(args[n]);
  }
  return [...kept, '--count', '1', '--steps', '1', '--out', out, '--threads', '1', '--json'];
}

function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, n) => (args[n - 1] === flag ? [a] : []));
}

/** Group-space range per axis of all voxel centres of the written series, and the spacing per axis in group units. */
function coveredRange(dir: string): { lo: Vec3; hi: Vec3 } {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.dcm'))) {
    const buf = readFileSync(join(dir, f));
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength))
        .dict,
    );
    const ipp = (ds.ImagePositionPatient as number[]).map(Number);
    const iop = (ds.ImageOrientationPatient as number[]).map(Number);
    const [rowSpacing, colSpacing] = (ds.PixelSpacing as number[]).map(Number);
    const rows = Number(ds.Rows);
    const cols = Number(ds.Columns);
    for (const i of [0, cols - 1])
      for (const j of [0, rows - 1]) {
        const p = [0, 1, 2].map(
          (c) => ipp[c] + iop[c] * colSpacing * i + iop[3 + c] * rowSpacing * j,
        ) as unknown as Vec3;
        const g = patientPointToGroup(group, p);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], g[a]);
          hi[a] = Math.max(hi[a], g[a]);
        }
      }
  }
  return { lo: lo as unknown as Vec3, hi: hi as unknown as Vec3 };
}

const examples = [
  ...generateExamples('README.md').map((args) => ['README.md', args] as const),
  ...generateExamples('docs/cli.md').map((args) => ['docs/cli.md', args] as const),
];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gldm-docs-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('finds the documented examples, among them the "upper half of the body" ones', () => {
  expect(examples.length).toBeGreaterThanOrEqual(4);
  expect(examples.filter(([, a]) => a.includes('z=0.5:1')).map(([f]) => f)).toEqual([
    'README.md',
    'docs/cli.md',
  ]);
});

it.each(examples.map(([file, args], n) => [file, args.join(' '), n] as const))(
  '%s: generate %s',
  (_file, line, n) => {
    const args = line.split(' ');
    const out = join(work, String(n));
    const r = spawnSync(process.execPath, [BIN, ...localised(args, out)], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const fov = valuesOf(args, '--fov');
    const rotated = valuesOf(args, '--rotate');
    if (fov.length === 0) return;
    const { lo, hi } = coveredRange(join(out, 'item-00000'));
    const grid = valuesOf(args, '--grid')[0].split(',').map(Number);
    for (const f of fov) {
      const m = /^([xyz])=([-0-9.]+):([-0-9.]+)$/.exec(f) as RegExpExecArray;
      const a = 'xyz'.indexOf(m[1]);
      // A rotation about another axis tilts this one: only axes the rotations leave alone are checked.
      if (rotated.some((x) => !x.startsWith(`${m[1]}=`))) continue;
      const halfVoxel = (Number(m[3]) - Number(m[2])) / (grid[a] - 1) / 2 + 1e-6;
      expect(Math.abs(lo[a] - Number(m[2]))).toBeLessThanOrEqual(halfVoxel);
      expect(Math.abs(hi[a] - Number(m[3]))).toBeLessThanOrEqual(halfVoxel);
    }
  },
  120000,
);
