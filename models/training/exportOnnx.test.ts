/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Acceptance: the committed export code exports a tiny random-weight model
 * (in a temp dir, by spawning Python) and onnxruntime-node reproduces
 * PyTorch's outputs on fixed inputs within 1e-4. Skipped (with a warning)
 * only when Debian's python3 with torch is not available.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import { checkGolden, readGolden, type GoldenFile } from './goldenCheck';
import { pythonWithTorch } from './pythonEnv';

const python = pythonWithTorch();
const maybe = python ? describe : describe.skip;
if (!python) console.warn('exportOnnx.test: no python3 with torch; ONNX export test skipped');

maybe('tiny random-weight export: ONNX (onnxruntime-node) vs PyTorch', () => {
  let dir = '';
  let golden: GoldenFile;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ldm-export-'));
    const r = spawnSync(python as string, ['-m', 'ldm.export', '--tiny', '--out', dir], {
      cwd: __dirname,
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    if (r.status !== 0) throw new Error(`export failed: ${r.stderr}`);
    golden = readGolden(join(dir, 'golden', 'golden.json'));
  }, 120000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const part of ['encoder', 'decoder', 'unet'] as const) {
    it(`${part} matches PyTorch within 1e-4`, async () => {
      const session = await ort.InferenceSession.create(join(dir, `${part}.onnx`), {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      });
      const report = await checkGolden(ort, session, golden[part]);
      for (const r of Object.values(report)) {
        expect(r.dims).toEqual(r.expectedDims);
        expect(r.maxAbs).toBeGreaterThan(0);
        expect(r.maxAbsDiff).toBeLessThan(1e-4);
      }
    });
  }

  it('decoder has no ConvTranspose, and the manifest lists the files', () => {
    const bytes = readFileSync(join(dir, 'decoder.onnx'));
    expect(bytes.includes(Buffer.from('ConvTranspose'))).toBe(false);
    expect(bytes.includes(Buffer.from('Conv'))).toBe(true);
    const manifest = parseManifestText(readFileSync(join(dir, 'model.json'), 'utf8')); // schema-valid
    expect(Object.keys(manifest.files).sort()).toEqual(['decoder', 'encoder', 'unet']);
    expect(manifest.onnx.opset).toBe(17);
  });

  it('accepts another grid (dynamic axes)', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'decoder.onnx'));
    const latent = new ort.Tensor('float32', new Float32Array(2 * 8 * 3 * 1 * 2).fill(0.1), [2, 8, 3, 1, 2]);
    const out = await session.run({ latent });
    expect(out.image.dims).toEqual([2, 1, 24, 8, 16]);
    const unet = await ort.InferenceSession.create(join(dir, 'unet.onnx'));
    const z = new ort.Tensor('float32', new Float32Array(8 * 5 * 3 * 7).fill(0.2), [1, 8, 5, 3, 7]);
    const t = new ort.Tensor('float32', new Float32Array([500]), [1]);
    const c = new ort.Tensor('float32', new Float32Array(3 * 5 * 3 * 7).fill(0.5), [1, 3, 5, 3, 7]);
    const eps = await unet.run({ z_t: z, t, coords: c });
    expect(eps.eps.dims).toEqual([1, 8, 5, 3, 7]);
  });
});
