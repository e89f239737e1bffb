/**
 * The committed demo model runs on onnxruntime-web's WebGPU execution provider
 * (headless Debian chromium, --enable-unsafe-webgpu: SwiftShader, software, slow)
 * and reproduces the PyTorch golden outputs (golden.json, plus the UNet on a
 * multi-token bottleneck: golden/unet-attention.json; the refiner: golden/refiner.json). The decoder has no ConvTranspose
 * (WebGPU EP: "Only Conv2d or Conv1d are supported" for ConvTranspose); its
 * upsampling is Conv3d + voxel shuffle, and the test checks from ort's debug log
 * that 3D convolutions were compiled as WebGPU shaders (not a CPU fallback).
 * LDM_MODEL_DIR overrides the model directory. Skipped (with a warning) without chromium.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHROMIUM_PATH, launchChromium, type LaunchedBrowser } from '../test/support/browser';
import { requirement } from '../test/support/requirements';

const DIR = process.env.LDM_MODEL_DIR ?? join(__dirname, 'geometry-ldm-demo');
const ready = requirement(
  `chromium at ${CHROMIUM_PATH} and a model at ${DIR}`,
  existsSync(join(DIR, 'model.json')) && existsSync(CHROMIUM_PATH),
  'apt install chromium',
);
const maybe = ready.describe;
const ORIGIN = 'http://localhost:9'; // localhost is a secure context (navigator.gpu); all requests are routed here

type Outputs = Record<string, { maxAbsDiff: number; dims: number[] }>;
type Report = Record<string, { error?: string; outputs?: Outputs }>;

/** Runs in the page. */
async function runInPage(): Promise<{ adapter: boolean; report: Report }> {
  const g = globalThis as unknown as {
    ort: {
      env: { wasm: { numThreads: number; wasmPaths: string }; debug: boolean; logLevel: string };
      InferenceSession: {
        create(
          b: Uint8Array,
          o: object,
        ): Promise<{
          run(f: object): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
          release(): Promise<void>;
        }>;
      };
      Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown;
    };
    navigator: { gpu?: { requestAdapter(): Promise<unknown> } };
  };
  const ort = g.ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = 'http://localhost:9/dist/';
  ort.env.debug = true;
  ort.env.logLevel = 'verbose';
  const adapter = !!(await g.navigator.gpu?.requestAdapter());
  const manifest = await (await fetch('http://localhost:9/model/model.json')).json();
  const golden = await (await fetch('http://localhost:9/model/' + manifest.golden.path)).json();
  const decode = (t: { base64: string }) => {
    const b = Uint8Array.from(atob(t.base64), (c) => c.charCodeAt(0));
    return new Float32Array(b.buffer);
  };
  // The UNet's second case: a latent grid whose bottleneck has several tokens (attention mixes them).
  const attention = await (await fetch('http://localhost:9/model/golden/unet-attention.json')).json();
  const cases: [string, string, typeof golden.unet][] = [
    ['encoder', 'encoder', golden.encoder],
    ['decoder', 'decoder', golden.decoder],
    ['unet', 'unet', golden.unet],
    ['unet-attention', 'unet', attention.unet],
  ];
  // the super-resolution refiner (Conv2d only), when the model has one
  if (manifest.files.refiner)
    cases.push([
      'refiner',
      'refiner',
      (await (await fetch('http://localhost:9/model/golden/refiner.json')).json()).refiner,
    ]);
  const report: Report = {};
  for (const [name, part, gold] of cases) {
    try {
      const bytes = new Uint8Array(
        await (await fetch('http://localhost:9/model/' + manifest.files[part].path)).arrayBuffer(),
      );
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
      const feeds: Record<string, unknown> = {};
      for (const [n, t] of Object.entries(gold.inputs) as [string, { base64: string; shape: number[] }][]) {
        feeds[n] = new ort.Tensor('float32', decode(t), t.shape);
      }
      const results = await session.run(feeds);
      const r: Record<string, { maxAbsDiff: number; dims: number[] }> = {};
      for (const [n, t] of Object.entries(gold.outputs) as [string, { base64: string }][]) {
        const e = decode(t);
        const got = results[n].data;
        let m = got.length === e.length ? 0 : Infinity;
        for (let i = 0; i < e.length && m !== Infinity; i++) m = Math.max(m, Math.abs(got[i] - e[i]));
        r[n] = { maxAbsDiff: m, dims: [...results[n].dims] };
      }
      report[name] = { outputs: r };
      await session.release();
    } catch (e) {
      report[name] = { error: String(e) };
    }
  }
  return { adapter, report };
}

maybe('demo model on onnxruntime-web WebGPU (chromium)', () => {
  let launched: LaunchedBrowser;
  beforeAll(async () => {
    launched = await launchChromium({ webgpu: true });
  });
  afterAll(async () => {
    await launched?.close();
  });

  it('encoder, decoder and unet match the PyTorch golden outputs on the WebGPU EP', async () => {
    const manifest = JSON.parse(readFileSync(join(DIR, 'model.json'), 'utf8'));
    for (const part of ['encoder', 'decoder', 'unet']) {
      expect(readFileSync(join(DIR, manifest.files[part].path)).includes(Buffer.from('ConvTranspose'))).toBe(
        false,
      );
    }
    const dist = dirname(require.resolve('onnxruntime-web'));
    const page = await launched.browser.newPage();
    const shaders: string[] = [];
    page.on('console', (m) => {
      const t = m.text();
      const hit = /WebGPU Shader code \[([A-Za-z0-9]+)/.exec(t);
      if (hit) shaders.push(hit[1]);
    });
    await page.route(`${ORIGIN}/**`, async (route) => {
      const u = new URL(route.request().url());
      let file: string | null = null;
      if (u.pathname.startsWith('/dist/')) file = join(dist, u.pathname.slice(6));
      else if (u.pathname.startsWith('/model/')) file = join(DIR, u.pathname.slice(7));
      if (!file)
        return route.fulfill({ status: 200, contentType: 'text/html', body: '<html><body></body></html>' });
      if (!existsSync(file)) return route.fulfill({ status: 404, body: '' });
      const type = file.endsWith('.wasm')
        ? 'application/wasm'
        : /\.m?js$/.test(file)
          ? 'text/javascript'
          : 'application/octet-stream';
      return route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
    });
    await page.goto(`${ORIGIN}/index.html`);
    await page.addScriptTag({ url: `${ORIGIN}/dist/ort.webgpu.min.js` });
    const { adapter, report } = (await page.evaluate(`(${runInPage.toString()})()`)) as {
      adapter: boolean;
      report: Report;
    };
    expect(adapter).toBe(true);
    // WebGPU shaders sum convolutions in a different order (and tiles) than the CPU
    // kernels: float32 rounding differs by a few 1e-4 on unit-scale outputs, so the
    // WebGPU tolerance is 1e-3 absolute (CPU runtimes: the manifest's 1e-4).
    const tol = Math.max(manifest.golden.toleranceAbs, 1e-3);
    console.log(
      `WebGPU vs PyTorch max |diff|: ${JSON.stringify(
        Object.fromEntries(
          Object.entries(report).map(([p, r]) => [
            p,
            Object.fromEntries(Object.entries(r.outputs ?? {}).map(([k, o]) => [k, o.maxAbsDiff])),
          ]),
        ),
      )}`,
    );
    for (const part of ['encoder', 'decoder', 'unet', 'unet-attention', 'refiner']) {
      expect(report[part].error).toBeUndefined();
      const outputs = Object.values(report[part].outputs ?? {});
      expect(outputs.length).toBeGreaterThan(0);
      for (const r of outputs) expect(r.maxAbsDiff).toBeLessThan(tol);
    }
    // 3D convolutions really ran as WebGPU shaders
    expect(shaders.some((s) => /Conv/.test(s))).toBe(true);
    await page.close();
  }, 600000);
});
