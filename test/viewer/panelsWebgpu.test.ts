/**
 * The Generate panel on WebGPU in the real viewer: the prebuilt OHIF 3.13 app
 * served by platform-config/server.mjs (app-config.js prefers WebGPU), the
 * extension, mode and worker bundles, a real Orthanc behind the proxy seeded
 * with a real CT series, the committed demo model, in Debian's chromium with
 * `--enable-unsafe-webgpu` (the SwiftShader software adapter: 60-130x slower
 * than wasm, so the smallest grid the model accepts and two DDIM steps).
 *
 * Checks: by default ('Automatic') the panel runs on wasm and says why (chromium's only
 * adapter is SwiftShader, a software renderer); choosing "WebGPU, even on a software
 * adapter" runs there, is never labelled GPU and is remembered after a reload (per origin);
 * a fallback to wasm during the job fails the test with its reason; the job completes and
 * the result slice is a real image; the same seed generated on wasm in the same panel
 * gives the same slices within the WebGPU/wasm tolerance; every request of the page and
 * its workers went to the
 * viewer's own origin. Screenshots: test-artifacts/panels/webgpu-*.png.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { demoModel } from '../support/demoModel';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seedSeries, type SeededSeries } from '../support/seed';
import type { ExportedModel } from '../support/tinyModel';
import { REPO, runScript, spawnViewerServer, type ServerProcess } from './stack';

const ARTIFACTS = path.join(REPO, 'test-artifacts', 'panels');
const PANEL = 'geometry-ldm-generate';
const SEED = 7;

/**
 * Grey levels of the slice canvases (soft-tissue window, 400 HU over 255
 * levels: 1.57 HU a level). WebGPU and wasm agree within 1e-3 model units
 * (2 HU for the demo model's 2000 HU window; test/browser/engineWorker.test.ts),
 * so at most 2 levels after rounding.
 */
const TOL_LEVELS = 2;

let dir: string;
let orthanc: OrthancInstance;
let seeded: SeededSeries;
let model: ExportedModel;
let server: ServerProcess;
let browser: LaunchedBrowser;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const pageErrors: string[] = [];
let onGpu: Record<string, ShownSlice> = {};

const panel = () => page.locator(`[data-testid="${PANEL}"]`);

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `webgpu-${name}.png`) });
}

async function setNumber(label: string, value: number): Promise<void> {
  await panel().getByLabel(label, { exact: true }).fill(String(value));
}

/** What the panel says about its backend: the badge, the fallback reason and any error. */
async function backendState(): Promise<{ badge: string; fallback: string | null; alert: string | null }> {
  return panel().evaluate((el) => ({
    badge: el.querySelector('.gldm-badge')?.textContent ?? '',
    fallback:
      Array.from(el.querySelectorAll('.gldm-hint'))
        .map((h) => h.textContent ?? '')
        .find((t) => t.startsWith('On the CPU because')) ?? null,
    alert: el.querySelector('[role="alert"]')?.textContent ?? null,
  }));
}

/** Opens the study in the Synthesis mode, shows the Generate panel and waits for its backend. */
async function openGeneratePanel(): Promise<void> {
  await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
  // The mode is entered once the default (Super-resolve) panel is on screen.
  await page.locator('[data-testid="geometry-ldm-super-resolve"]').waitFor({ timeout: 120000 });
  await page.evaluate(() =>
    (
      window as unknown as {
        services: { panelService: { activatePanel(id: string, force: boolean): void } };
      }
    ).services.panelService.activatePanel('@geometry-ldm/extension.panelModule.generate', true),
  );
  await panel().waitFor({ timeout: 120000 });
  await waitForBackend();
}

/** Waits until the engine has settled (ready on some backend, or failed). */
async function waitForBackend(): Promise<void> {
  await page.waitForFunction(
    (sel) => {
      const t = document.querySelector(`${sel} .gldm-badge`)?.textContent ?? '';
      return t !== '' && !/loading|not started/.test(t);
    },
    `[data-testid="${PANEL}"]`,
    { timeout: 180000 },
  );
}

interface ShownSlice {
  /** The canvas's accessible name: sample, derived seed, plane, slice. */
  readonly label: string;
  readonly grey: number[];
}

/** The middle axial and coronal slices of the shown result, as the panel drew them. */
async function resultSlices(): Promise<Record<string, ShownSlice>> {
  const out: Record<string, ShownSlice> = {};
  for (const plane of ['axial', 'coronal']) {
    await panel().getByLabel('Plane', { exact: true }).selectOption(plane);
    const img = panel().getByRole('img', { name: new RegExp(`^Sample 1 \\(seed \\d+\\), ${plane} slice`) });
    await img.waitFor();
    const label = (await img.getAttribute('aria-label')) ?? '';
    const rgba = await img.evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
    });
    out[plane] = { label, grey: rgba.filter((_, i) => i % 4 === 0) }; // grey: R = G = B
  }
  await panel().getByLabel('Plane', { exact: true }).selectOption('axial');
  return out;
}

/** The job's status line (it follows the progress bar). */
const STATUS = `[data-testid="${PANEL}"] [role="progressbar"] + [role="status"]`;

/** Clicks Generate and waits for this run's end (not the previous run's "Done"); returns its status line. */
async function generate(timeoutMs: number): Promise<string> {
  const p = panel();
  // A run starts by leaving "Done"; watch for that so that a fast run cannot be missed.
  await p.evaluate((el, sel) => {
    const w = window as unknown as { gldmRunStarted: boolean };
    w.gldmRunStarted = false;
    new MutationObserver(() => {
      const s = document.querySelector(sel)?.textContent ?? '';
      if (!s.startsWith('Done')) w.gldmRunStarted = true;
    }).observe(el, { subtree: true, childList: true, characterData: true });
  }, STATUS);
  await p.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForFunction(
    () => (window as unknown as { gldmRunStarted: boolean }).gldmRunStarted,
    undefined,
    {
      timeout: 30000,
    },
  );
  await page.waitForFunction(
    (sel) => {
      const s = document.querySelector(sel);
      return !!s && (s.textContent!.startsWith('Done') || s.classList.contains('gldm-error'));
    },
    STATUS,
    { timeout: timeoutMs },
  );
  return (await page.locator(STATUS).textContent()) ?? '';
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gldm-panels-webgpu-'));
  model = demoModel();
  orthanc = await startOrthanc();
  seeded = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
  const bundlesDir = path.join(dir, 'bundles');
  runScript('platform-config/scripts/build-extension.mjs', ['--out', bundlesDir, '--no-minify']);
  const viewerDir = runScript('platform-config/scripts/fetch-viewer.mjs').trim().split('\n').pop()!;
  // The platform's own app-config.js: preferWebGPU is on there.
  server = await spawnViewerServer({
    orthancUrl: orthanc.url,
    authorization: orthanc.authorization,
    viewerDir,
    bundlesDir,
    modelDir: model.dir,
  });
  browser = await launchChromium({ webgpu: true });
  context = await browser.browser.newContext({ viewport: { width: 1600, height: 1000 } });
  // Context-level: includes the inference worker's requests (model, ORT files).
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 300000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await orthanc?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('generate panel: backend choice and WebGPU (software adapter) in the viewer', () => {
  it("opens the study in the Synthesis mode on wasm: chromium's only adapter is SwiftShader, and the panel says so", async () => {
    await openGeneratePanel();
    const state = await backendState();
    expect(state.badge).toMatch(/^Backend: wasm \(CPU\), \d+ threads?$/);
    expect(state.fallback).toMatch(
      /^On the CPU because the only WebGPU adapter is a software renderer \(.*\)/,
    );
    expect(state.alert).toBeNull();
    expect(await panel().getByLabel('Inference backend').inputValue()).toBe('auto');
    await panel().getByText(`Model: ${model.manifest.name} ${model.manifest.version}`).waitFor();
    await shot('1-opened-auto-wasm');
  }, 300000);

  it('choosing "WebGPU, even on a software adapter" runs there, never labelled GPU, and is remembered after a reload', async () => {
    await panel().getByLabel('Inference backend').selectOption('webgpu');
    await page.waitForFunction(
      (sel) => /WebGPU/.test(document.querySelector(`${sel} .gldm-badge`)?.textContent ?? ''),
      `[data-testid="${PANEL}"]`,
      { timeout: 180000 },
    );
    const expected = {
      badge: expect.stringMatching(/^Backend: WebGPU on a software adapter \(CPU, no GPU: .+\)$/),
      fallback: null,
      alert: null,
    };
    expect(await backendState()).toEqual(expected);
    expect((await backendState()).badge).not.toMatch(/\(GPU/);
    await page.reload();
    await openGeneratePanel();
    expect(await panel().getByLabel('Inference backend').inputValue()).toBe('webgpu');
    expect(await backendState()).toEqual(expected);
    await shot('1b-webgpu-software-chosen');
  }, 420000);

  it('generates 32 × 32 × 32 with 2 DDIM steps on WebGPU and shows a real image', async () => {
    const [nx, ny, nz] = model.manifest.grid.min;
    expect([nx, ny, nz]).toEqual([32, 32, 32]); // the smallest grid the demo model accepts
    await setNumber('Grid size (voxels): x', nx);
    await setNumber('Grid size (voxels): y', ny);
    await setNumber('Grid size (voxels): z', nz);
    await panel().getByLabel('Sampler', { exact: true }).selectOption('ddim');
    await setNumber('Steps', 2);
    await setNumber('Samples', 1);
    await setNumber('Seed', SEED);
    // the planned grid (the Geometry section's summary)
    await panel()
      .locator('section[aria-label="Geometry"] dd')
      .getByText('32 × 32 × 32', { exact: true })
      .waitFor();
    const started = Date.now();
    const done = await generate(540000);
    console.log(`WebGPU (software) job: ${((Date.now() - started) / 1000).toFixed(1)} s, panel: ${done}`);
    expect(done).toMatch(/^Done in /);
    // Still on WebGPU: a failure during the job would have been retried on wasm and reported here.
    expect(await backendState()).toMatchObject({ fallback: null, alert: null });
    expect((await backendState()).badge).toMatch(/^Backend: WebGPU on a software adapter/);
    onGpu = await resultSlices();
    for (const [plane, { label, grey }] of Object.entries(onGpu)) {
      expect(label).toMatch(new RegExp(`^Sample 1 \\(seed \\d+\\), ${plane} slice 17 of 32$`));
      expect([plane, grey.length]).toEqual([plane, 32 * 32]);
      // An image, not a constant (NaN and all-zero latents render as one flat level).
      const levels = new Set(grey).size;
      // and enough of it inside the window for the comparison with wasm to mean something
      const inWindow = grey.filter((g) => g > 0 && g < 255).length;
      console.log(`${plane}: ${levels} grey levels, ${inWindow} of ${grey.length} pixels inside the window`);
      expect([plane, levels >= 16, inWindow >= 32]).toEqual([plane, true, true]);
    }
    const img = panel().getByRole('img', { name: /^Sample 1 \(seed \d+\), axial slice/ });
    await img.scrollIntoViewIfNeeded();
    await shot('2-result');
  }, 600000);

  it('the same seed on wasm gives the same slices within the WebGPU/wasm tolerance', async () => {
    expect(Object.keys(onGpu)).toEqual(['axial', 'coronal']);
    await panel().getByLabel('Inference backend').selectOption('wasm');
    await page.waitForFunction(
      (sel) => /wasm/.test(document.querySelector(`${sel} .gldm-badge`)?.textContent ?? ''),
      `[data-testid="${PANEL}"]`,
      { timeout: 180000 },
    );
    expect((await backendState()).badge).toMatch(/^Backend: wasm \(CPU\)/);
    const done = await generate(300000);
    expect(done).toMatch(/^Done in /);
    const onCpu = await resultSlices();
    for (const plane of ['axial', 'coronal']) {
      // the same sample (derived seed) and slice
      expect(onCpu[plane].label).toBe(onGpu[plane].label);
      const a = onGpu[plane].grey;
      const b = onCpu[plane].grey;
      expect(b).toHaveLength(a.length);
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      console.log(`${plane}: max |WebGPU - wasm| = ${max} grey levels`);
      expect(max).toBeLessThanOrEqual(TOL_LEVELS);
    }
    await shot('3-same-seed-on-wasm');
  }, 420000);

  it("sent every request of the page and its workers to the viewer's own origin", () => {
    const origin = new URL(server.url).origin;
    const foreign = requests.filter(
      (u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin,
    );
    expect(requests.some((u) => u.includes('/geometry-ldm/model/'))).toBe(true);
    expect(foreign).toEqual([]);
  });

  it('no uncaught page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
