/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * The committed demo model (models/geometry-ldm-demo): manifest valid against
 * the schema, every file's sha256 and size as stated, and every ONNX output
 * equal to the golden outputs recorded from PyTorch at export time, with
 * onnxruntime-node and with onnxruntime-web (wasm backend, in Node).
 * Golden cases: golden/golden.json (every part; its UNet latent is 2x2x3, so the
 * bottleneck is 1x1x1 and attention sees one token) and golden/unet-attention.json
 * (the UNet on a 12x16x20 latent: 2x2x3 = 12 bottleneck tokens, so the 8-head
 * attention mixes tokens). For this committed model the second file was recorded
 * from PyTorch modules rebuilt from configs/demo.json with the weights read back
 * from the ONNX files (ldm/demo_golden.py, which first reproduces golden.json).
 * Tolerance: manifest.golden.toleranceAbs (1e-4 for fp32 weights; fp16-weight
 * exports record PyTorch outputs with the same fp16-rounded weights and use 2e-4).
 * LDM_MODEL_DIR overrides the directory (e.g. a fresh export).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import {
  MODEL_PARTS,
  parseManifestText,
  scheduleConfig,
  sha256Hex,
  verifyModelFile,
  type ModelManifest,
} from '../extensions/geometry-ldm/src/model/manifest';
import { createSchedule } from '../extensions/geometry-ldm/src/diffusion/schedule';
import {
  checkGolden,
  readAttentionGolden,
  readGolden,
  readRefinerGolden,
  type AttentionGoldenFile,
  type GoldenFile,
  type OrtLike,
  type SessionLike,
} from './training/goldenCheck';

const DIR = process.env.LDM_MODEL_DIR ?? join(__dirname, 'geometry-ldm-demo');
// The demo model is committed: its absence is a failure, not a skip.
if (!existsSync(join(DIR, 'model.json'))) throw new Error(`demoModel.test: no model at ${DIR}`);

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? dirBytes(p) : s.size;
  }
  return total;
}

describe('committed demo model', () => {
  let manifest: ModelManifest;
  let golden: GoldenFile;
  let attention: AttentionGoldenFile;
  beforeAll(() => {
    manifest = parseManifestText(readFileSync(join(DIR, 'model.json'), 'utf8'));
    if (!manifest.golden) throw new Error('manifest has no golden outputs');
    golden = readGolden(join(DIR, manifest.golden.path));
    attention = readAttentionGolden(join(DIR, 'golden', 'unet-attention.json'));
  });

  it('is for research, names its held-out scan, and states its contract', () => {
    expect(manifest.intendedUse).toBe('research, not for diagnosis');
    if (!process.env.LDM_MODEL_DIR) expect(manifest.trainingData.heldOut).toContain('lidc-idri-0001');
    expect(manifest.latent.factor).toBe(8);
    expect(manifest.scheduler.numTrainTimesteps).toBe(1000);
    // the diffusion super-resolution's cycles: one for the demo model since 0.6.1 (chosen on
    // validation scans, BENCHMARKS.md "One cycle"), the paper's five where a config says nothing
    if (!process.env.LDM_MODEL_DIR) expect(manifest.superResolution.cycles).toBe(1);
    expect(Number.isInteger(manifest.superResolution.cycles)).toBe(true);
  });

  it("starts the diffusion super-resolution at 0.4.0's signal-to-noise ratio (docs/method.md)", () => {
    // The paper's t = 100 assumes unit-variance latents; 0.4.0's UNet saw latents of std 1.305 at
    // t = 100. 0.5.0's latents have unit variance, so its tStart is the timestep whose SNR,
    // abar / (1 - abar), is nearest 1.305^2 times the SNR at t = 100.
    if (process.env.LDM_MODEL_DIR) return;
    const { alphaBar } = createSchedule(scheduleConfig(manifest));
    const snr = (t: number) => alphaBar[t] / (1 - alphaBar[t]);
    const target = 1.305 ** 2 * snr(100);
    let best = 1;
    for (let t = 1; t < alphaBar.length; t++)
      if (Math.abs(snr(t) - target) < Math.abs(snr(best) - target)) best = t;
    expect(manifest.superResolution.tStart).toBe(best);
  });

  it('files match their sha256 and byte size', async () => {
    for (const part of MODEL_PARTS) {
      await expect(
        verifyModelFile(manifest, part, readFileSync(join(DIR, manifest.files[part].path))),
      ).resolves.toBeUndefined();
    }
    const g = readFileSync(join(DIR, manifest.golden!.path));
    expect(g.byteLength).toBe(manifest.golden!.bytes);
    expect(await sha256Hex(g)).toBe(manifest.golden!.sha256);
  });

  it('has a refiner whose file matches its sha256 and whose golden case onnxruntime-node reproduces', async () => {
    const file = manifest.files.refiner;
    if (!file) throw new Error('the demo model has no refiner (files.refiner)');
    const bytes = readFileSync(join(DIR, file.path));
    await expect(verifyModelFile(manifest, 'refiner', bytes)).resolves.toBeUndefined();
    expect(manifest.superResolution.mode).toBe('ai');
    const g = readRefinerGolden(join(DIR, 'golden', 'refiner.json'));
    const session = await ortNode.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    expect([...session.inputNames]).toEqual(['planes', 'acquisition']);
    const report = await checkGolden(
      ortNode as unknown as OrtLike,
      session as unknown as SessionLike,
      g.refiner,
    );
    for (const r of Object.values(report)) {
      expect(r.dims).toEqual(r.expectedDims);
      expect(r.maxAbs).toBeGreaterThan(0);
      expect(r.maxAbsDiff).toBeLessThan(g.toleranceAbs);
    }
  });

  it('models/ stays under 40 MB', () => {
    const models = join(__dirname);
    let total = 0;
    for (const name of readdirSync(models)) {
      if (['checkpoints', '.data-cache', '.gpu-data', 'node_modules'].includes(name)) continue; // git-ignored
      const p = join(models, name);
      total += statSync(p).isDirectory() ? dirBytes(p) : statSync(p).size;
    }
    expect(total).toBeLessThan(40 * 1024 * 1024);
  });

  for (const part of MODEL_PARTS) {
    it(`${part}: onnxruntime-node reproduces the PyTorch golden outputs`, async () => {
      const session = await ortNode.InferenceSession.create(
        readFileSync(join(DIR, manifest.files[part].path)),
        {
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
        },
      );
      expect([...session.inputNames]).toEqual(manifest.onnx[part].inputs.map((t) => t.name));
      expect([...session.outputNames]).toEqual(manifest.onnx[part].outputs.map((t) => t.name));
      const report = await checkGolden(
        ortNode as unknown as OrtLike,
        session as unknown as SessionLike,
        golden[part],
      );
      for (const r of Object.values(report)) {
        expect(r.dims).toEqual(r.expectedDims);
        expect(r.maxAbsDiff).toBeLessThan(manifest.golden!.toleranceAbs);
      }
    });
  }

  it('unet: onnxruntime-node reproduces PyTorch on a multi-token bottleneck (attention mixes tokens)', async () => {
    expect(attention.bottleneckTokens).toBeGreaterThan(1);
    expect(attention.bottleneckDims.reduce((a, b) => a * b, 1)).toBe(attention.bottleneckTokens);
    expect(attention.attentionHeads).toBe(8);
    expect(attention.unet.inputs.z_t.shape.slice(2)).toEqual(attention.latentDims);
    // eps would move this much if tokens did not attend to each other: far beyond the tolerance
    expect(attention.maxAbsDiffSelfOnlyAttention).toBeGreaterThan(100 * manifest.golden!.toleranceAbs);
    const session = await ortNode.InferenceSession.create(readFileSync(join(DIR, manifest.files.unet.path)), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    const report = await checkGolden(
      ortNode as unknown as OrtLike,
      session as unknown as SessionLike,
      attention.unet,
    );
    expect(Object.keys(report)).toEqual(['eps']);
    for (const r of Object.values(report)) {
      expect(r.dims).toEqual(r.expectedDims);
      expect(r.maxAbs).toBeGreaterThan(0);
      expect(r.maxAbsDiff).toBeLessThan(manifest.golden!.toleranceAbs);
    }
  });

  it('onnxruntime-web (wasm backend, in Node) reproduces the PyTorch golden outputs', () => {
    // a child process: jest's VM cannot do the dynamic import() of ort-web's wasm glue
    const r = spawnSync(process.execPath, [join(__dirname, 'training', 'ortWebGolden.mjs'), DIR], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`ortWebGolden.mjs failed: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as Record<
      string,
      Record<string, { maxAbsDiff: number; dims: number[]; expectedDims: number[] }>
    >;
    expect(Object.keys(report).sort()).toEqual(['decoder', 'encoder', 'refiner', 'unet', 'unetAttention']);
    for (const part of [...MODEL_PARTS, 'unetAttention', 'refiner']) {
      for (const out of Object.values(report[part])) {
        expect(out.dims).toEqual(out.expectedDims);
        expect(out.maxAbsDiff).toBeLessThan(manifest.golden!.toleranceAbs);
      }
    }
  });
});
