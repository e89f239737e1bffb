/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * Acceptance: the committed export code exports a tiny random-weight model
 * (in a temp dir, by spawning Python) and onnxruntime-node reproduces
 * PyTorch's outputs on fixed inputs within 1e-4: every part on the small golden
 * grid, and the UNet on a latent grid whose bottleneck has 12 tokens (so the
 * 8-head self-attention mixes tokens; the small grid's bottleneck is 1x1x1).
 * The same export with fp16-stored weights is checked within the tolerance its
 * manifest states (2e-4; PyTorch ran with the same fp16-rounded weights).
 * Skipped (with a warning) only when Debian's python3 with torch is not available.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import {
  checkGolden,
  readAttentionGolden,
  readGolden,
  readRefinerGolden,
  type AttentionGoldenFile,
  type GoldenFile,
} from './goldenCheck';
import { pythonWithTorch } from './pythonEnv';
import { TORCH } from '../../test/support/requirements';

const python = pythonWithTorch();
const maybe = TORCH().describe;

function exportTiny(extraArgs: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'ldm-export-'));
  const r = spawnSync(python as string, ['-m', 'ldm.export', '--tiny', '--out', dir, ...extraArgs], {
    cwd: __dirname,
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`export failed: ${r.stderr}`);
  return dir;
}

async function session(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

type GoldenCase = Parameters<typeof checkGolden>[2];

/** Each (part, case) run on the exported part's ONNX: the golden shapes, non-trivial outputs, within `tolerance`. */
async function expectGoldenCases(
  dir: string,
  cases: readonly (readonly [string, GoldenCase])[],
  tolerance: number,
): Promise<void> {
  for (const [part, c] of cases) {
    const report = await checkGolden(ort, await session(join(dir, `${part}.onnx`)), c);
    for (const r of Object.values(report)) {
      expect(r.dims).toEqual(r.expectedDims);
      expect(r.maxAbs).toBeGreaterThan(0);
      expect(r.maxAbsDiff).toBeLessThan(tolerance);
    }
  }
}

maybe('tiny random-weight export: ONNX (onnxruntime-node) vs PyTorch', () => {
  let dir = '';
  let golden: GoldenFile;
  let attention: AttentionGoldenFile;
  beforeAll(() => {
    dir = exportTiny();
    golden = readGolden(join(dir, 'golden', 'golden.json'));
    attention = readAttentionGolden(join(dir, 'golden', 'unet-attention.json'));
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

  it('unet with a multi-token bottleneck (attention mixes 12 tokens) matches PyTorch within 1e-4', async () => {
    expect(attention.latentDims).toEqual([12, 16, 20]);
    expect(attention.bottleneckDims).toEqual([2, 2, 3]);
    expect(attention.bottleneckTokens).toBe(12);
    expect(attention.attentionHeads).toBe(8);
    expect(attention.unet.inputs.z_t.shape).toEqual([2, 8, 12, 16, 20]);
    // the recorded eps depends on the tokens attending to each other, far beyond the tolerance
    expect(attention.maxAbsDiffSelfOnlyAttention).toBeGreaterThan(100 * 1e-4);
    const report = await checkGolden(ort, await session(join(dir, 'unet.onnx')), attention.unet);
    expect(Object.keys(report)).toEqual(['eps']);
    for (const r of Object.values(report)) {
      expect(r.dims).toEqual(r.expectedDims);
      expect(r.maxAbs).toBeGreaterThan(0);
      expect(r.maxAbsDiff).toBeLessThan(1e-4);
    }
  });

  it('refiner matches PyTorch within 1e-4 and accepts other plane sizes', async () => {
    const g = readRefinerGolden(join(dir, 'golden', 'refiner.json'));
    expect(g.toleranceAbs).toBe(1e-4);
    const s = await session(join(dir, 'refiner.onnx'));
    const report = await checkGolden(ort, s, g.refiner);
    expect(Object.keys(report)).toEqual(['refined']);
    for (const r of Object.values(report)) {
      expect(r.dims).toEqual([2, 1, 20, 24]);
      expect(r.maxAbs).toBeGreaterThan(0);
      expect(r.maxAbsDiff).toBeLessThan(1e-4);
    }
    const planes = new ort.Tensor('float32', new Float32Array(3 * 3 * 7 * 33).fill(0.1), [3, 3, 7, 33]);
    const acquisition = new ort.Tensor('float32', new Float32Array(3 * 12).fill(0.25), [3, 12]);
    const out = await s.run({ planes, acquisition });
    expect(out.refined.dims).toEqual([3, 1, 7, 33]);
  });

  it('decoder has no ConvTranspose, and the manifest lists the files', () => {
    const bytes = readFileSync(join(dir, 'decoder.onnx'));
    expect(bytes.includes(Buffer.from('ConvTranspose'))).toBe(false);
    expect(bytes.includes(Buffer.from('Conv'))).toBe(true);
    const manifest = parseManifestText(readFileSync(join(dir, 'model.json'), 'utf8')); // schema-valid
    expect(Object.keys(manifest.files).sort()).toEqual(['decoder', 'encoder', 'refiner', 'unet']);
    expect(manifest.superResolution.mode).toBe('ai');
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

maybe('tiny random-weight export with fp16 weights: ONNX (onnxruntime-node) vs PyTorch', () => {
  let dir = '';
  beforeAll(() => {
    dir = exportTiny(['--fp16']);
  }, 120000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('manifest states fp16 weights and the 2e-4 tolerance', () => {
    const manifest = parseManifestText(readFileSync(join(dir, 'model.json'), 'utf8'));
    for (const part of ['encoder', 'decoder', 'unet'] as const)
      expect(manifest.files[part].weights).toBe('float16');
    expect(manifest.files.refiner?.weights).toBe('float16');
    expect(manifest.golden?.toleranceAbs).toBe(2e-4);
  });

  it('every part and the multi-token UNet case match PyTorch (fp16-rounded weights) within 2e-4', async () => {
    const golden = readGolden(join(dir, 'golden', 'golden.json'));
    const attention = readAttentionGolden(join(dir, 'golden', 'unet-attention.json'));
    const cases = [
      ['encoder', golden.encoder],
      ['decoder', golden.decoder],
      ['unet', golden.unet],
      ['unet', attention.unet],
      ['refiner', readRefinerGolden(join(dir, 'golden', 'refiner.json')).refiner],
    ] as const;
    await expectGoldenCases(dir, cases, 2e-4);
  });
});

maybe('tiny random-weight export at latent factor 4: ONNX (onnxruntime-node) vs PyTorch', () => {
  let dir = '';
  beforeAll(() => {
    dir = exportTiny(['--latent-factor', '4']);
  }, 120000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the manifest states factor 4 and the encoder and decoder scale by 4 per axis', async () => {
    const manifest = parseManifestText(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.latent.factor).toBe(4);
    expect(manifest.onnx.encoder.outputs[0].shape).toEqual(['B', 8, 'D/4', 'H/4', 'W/4']);
    const golden = readGolden(join(dir, 'golden', 'golden.json'));
    // golden grid [nx, ny, nz] = [24, 16, 16] -> latent [D, H, W] = [4, 4, 6]
    expect(golden.encoder.outputs.latent.shape).toEqual([1, 8, 4, 4, 6]);
    const decoder = await session(join(dir, 'decoder.onnx'));
    const latent = new ort.Tensor('float32', new Float32Array(8 * 3 * 1 * 2).fill(0.1), [1, 8, 3, 1, 2]);
    expect((await decoder.run({ latent })).image.dims).toEqual([1, 1, 12, 4, 8]);
  });

  it('every part and the multi-token UNet case match PyTorch within 1e-4', async () => {
    const golden = readGolden(join(dir, 'golden', 'golden.json'));
    const attention = readAttentionGolden(join(dir, 'golden', 'unet-attention.json'));
    // the attention case's image grid is 4x its latent grid: 80 x 64 x 48 voxels
    expect(attention.dims).toEqual([80, 64, 48]);
    const cases = [
      ['encoder', golden.encoder],
      ['decoder', golden.decoder],
      ['unet', golden.unet],
      ['unet', attention.unet],
    ] as const;
    await expectGoldenCases(dir, cases, 1e-4);
  });
});
