/**
 * Determinism across runtimes for super-resolution: the same superResolve job (same seed, tiny
 * random-weight model, small grid) on onnxruntime-web's wasm backend in Node (through
 * inference/webRuntime) and on onnxruntime-node, untiled and tiled, gives the same mean and std.
 * Both runtimes run in a child process (jest's VM cannot import ort-web's wasm glue).
 *
 * Stated tolerance: 1e-5 model units for the mean and the std (the tiny model's window is 2000 HU
 * per model unit, so 0.02 HU). Measured on the 2-core CI machine: 1.2e-7 (mean) and 8.6e-8 (std)
 * model units, untiled and tiled alike; the margin is for other CPUs' kernels (float
 * reassociation in wasm SIMD vs MLAS), through 1 encoder pass, 2 x 2 x 2 UNet calls and 2
 * decoder passes. Measured values are logged.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ORT_WEB_DIST } from '../browser/engineHarness';
import { bundleNodeDriver } from '../support/nodeDriver';
import { smoothCtPhantom } from '../support/phantom';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';

const TOL_MODEL = 1e-5;

const SETTINGS = { samples: 2, cycles: 2, ddimSteps: 2, tStart: 100, seed: 'sr-runtimes-1' };
const RUNS = [
  { name: 'whole', options: SETTINGS },
  // 4 tiles per encoder/decoder pass (latent 5 x 5 x 4, tiles 3 x 3 x 4, overlap 1)
  {
    name: 'tiled',
    options: { ...SETTINGS, tiling: { maxImageVoxelsPerCall: 3 * 3 * 4 * 512, overlapLatent: 1 } },
  },
];

describe('superResolve: onnxruntime-web wasm (Node) vs onnxruntime-node, same seed', () => {
  let exported: ExportedModel;
  let dir: string;
  let report: Record<string, { backend: { library: string; executionProvider: string }; dims: number[] }>;
  let huPerModel: number;

  beforeAll(async () => {
    exported = exportTinyModel(0);
    const i = exported.manifest.intensity;
    huPerModel = (i.huMax - i.huMin) / (i.modelMax - i.modelMin);
    dir = mkdtempSync(join(tmpdir(), 'gldm-sr-runtimes-'));
    const driver = await bundleNodeDriver(
      join(__dirname, 'superResolveRuntimesDriver.ts'),
      'sr-runtimes-driver',
    );
    const src = smoothCtPhantom();
    writeFileSync(join(dir, 'source.f32'), Buffer.from(src.data.buffer));
    const jobFile = join(dir, 'job.json');
    writeFileSync(
      jobFile,
      JSON.stringify({
        modelDir: exported.dir,
        outDir: dir,
        wasmPaths: pathToFileURL(ORT_WEB_DIST + '/').href,
        source: { file: join(dir, 'source.f32'), dims: src.dims, affine: src.affine },
        target: { kind: 'scale', factor: 2 },
        runs: RUNS,
      }),
    );
    try {
      const r = spawnSync(process.execPath, [driver, jobFile], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1' },
        maxBuffer: 16 * 1024 * 1024,
      });
      if (r.status !== 0) throw new Error(`superResolve runtimes driver failed (${r.status}): ${r.stderr}`);
      report = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    } finally {
      rmSync(driver, { force: true });
    }
  }, 240000);

  afterAll(() => {
    exported?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const f32 = (name: string) => {
    const b = readFileSync(join(dir, `${name}.f32`));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };

  it('ran on the two runtimes', () => {
    expect(report['whole-web'].backend).toMatchObject({
      library: 'onnxruntime-web',
      executionProvider: 'wasm',
    });
    expect(report['whole-node'].backend).toMatchObject({
      library: 'onnxruntime-node',
      executionProvider: 'cpu',
    });
    expect(report['whole-web'].dims).toEqual([40, 36, 32]);
  });

  it.each(RUNS.map((r) => r.name))('%s: mean and std agree within 1e-5 model units', (name) => {
    for (const what of ['mean', 'std']) {
      const web = f32(`${name}-web-${what}`);
      const node = f32(`${name}-node-${what}`);
      expect(web.length).toBe(40 * 36 * 32);
      expect(node.length).toBe(web.length);
      let max = 0;
      let maxAbs = 0;
      for (let n = 0; n < web.length; n++) {
        max = Math.max(max, Math.abs(web[n] - node[n]));
        maxAbs = Math.max(maxAbs, Math.abs(node[n]));
      }
      console.log(
        `superResolve ${name} ${what}: max |ort-web - ort-node| = ${max.toExponential(2)} HU = ${(max / huPerModel).toExponential(2)} model units (max |value| ${maxAbs.toFixed(1)} HU)`,
      );
      expect(web.every(Number.isFinite)).toBe(true);
      // not trivially zero (the std of two samples with their own noise included)
      expect(maxAbs).toBeGreaterThan(what === 'std' ? 1e-2 : 10);
      expect(max / huPerModel).toBeLessThan(TOL_MODEL);
    }
  });
});
