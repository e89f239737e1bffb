/**
 * The two panels in the real viewer: the prebuilt OHIF 3.13 app served by
 * platform-config/server.mjs with the extension and mode bundles
 * (build-extension.mjs), a real Orthanc behind the server's proxy seeded with
 * a real CT series, the demo model (models/geometry-ldm-demo; the tiny
 * random-weight model with the same architecture when the demo model has not
 * been trained in this checkout) run by the real inference worker on the wasm
 * backend, in Debian's chromium.
 *
 * Super-resolve: the model card and an approximate time estimate are in view
 * from the start; configure a small target, measure this machine; drive the
 * panel by keyboard alone (Tab, type, Enter on the run button, Space on
 * Cancel) at OHIF's default panel width, seeing the ETA and the job stop with
 * the panel back to idle; run (progress, result); before saving, the result is
 * in the viewer next to the source, from memory and marked unsaved (scrolling
 * it scrolls the source, the std map fused over it in colour, "NOT FOR
 * DIAGNOSTIC USE" over it) while Orthanc holds no new series and nothing was
 * sent; save: the derived series appears in the study browser and in Orthanc
 * (QIDO), replaces the unsaved copy next to the source and carries "NOT FOR
 * DIAGNOSTIC USE" over its viewport. Every request
 * of the browser context from its creation (page, its dedicated workers and
 * any service worker: page load, model download, inference, STOW) goes to the
 * viewer's own origin. A non-CT series added to the study is refused with an
 * OHIF notification in plain words. Generate: a preview while sampling, cancel;
 * run, save as a synthetic study, which Orthanc holds, the viewer shows with
 * the warning overlay, and the study browser lists when opened.
 * Screenshots of each step go to test-artifacts/panels/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import {
  OVERLAY_TEST_ID,
  OVERLAY_TEXT,
  UNSAVED_TEST_ID,
  UNSAVED_TEXT,
} from '../../extensions/geometry-ldm/src/ohif/viewportOverlay';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seedSeries, type SeededSeries } from '../support/seed';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';
import { NON_CT_DESCRIPTION, seedNonCtSeries } from './nonCtSeries';
import { REPO, runScript, spawnViewerServer, type ServerProcess } from './stack';

const ARTIFACTS = path.join(REPO, 'test-artifacts', 'panels');

let dir: string;
let orthanc: OrthancInstance;
let seeded: SeededSeries;
let model: ExportedModel | null = null;
let modelDir = '';
let modelName = '';
let server: ServerProcess;
let browser: LaunchedBrowser;
let context: BrowserContext;
let page: Page;

/** Every request of the browser context since its creation (pages, their workers, service workers). */
interface RecordedRequest {
  readonly url: string;
  readonly method: string;
  readonly resourceType: string;
  readonly fromServiceWorker: boolean;
}
const requests: RecordedRequest[] = [];
/** Scripts of the dedicated and service workers the context started. */
const workers: string[] = [];
const consoleErrors: string[] = [];

/** OHIF's default right panel width (3.13 ViewerLayout: rightPanelInitialExpandedWidth). */
const OHIF_DEFAULT_PANEL_WIDTH = 280;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** The OHIF services the app exposes on window (read-only checks). */
async function viewportState(): Promise<{ ids: string[]; displaySets: string[][] }> {
  return page.evaluate(() => {
    const s = (window as unknown as { services: { viewportGridService: { getState(): unknown } } }).services;
    const st = s.viewportGridService.getState() as {
      viewports: Map<string, { displaySetInstanceUIDs?: string[] }>;
    };
    return {
      ids: [...st.viewports.keys()],
      displaySets: [...st.viewports.values()].map((v) => v.displaySetInstanceUIDs ?? []),
    };
  });
}

async function setNumber(panel: string, label: string, value: number | string): Promise<void> {
  const input = page.locator(`[data-testid="${panel}"]`).getByLabel(label, { exact: true });
  await input.fill(String(value));
}

/** The focused element: its accessible label (label[for], aria-label or text) and whether it is in `panel`. */
async function focused(panel: string): Promise<{ label: string; inPanel: boolean; tag: string }> {
  return page.evaluate((testId) => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { label: '', inPanel: false, tag: '' };
    const byFor = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null;
    const label = (byFor?.textContent ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    return { label, inPanel: !!el.closest(`[data-testid="${testId}"]`), tag: el.tagName.toLowerCase() };
  }, panel);
}

/** Presses Tab (or Shift+Tab) until a control of `panel` labelled `label` has the focus. */
async function tabTo(panel: string, label: string, options: { back?: boolean; max?: number } = {}) {
  const key = options.back ? 'Shift+Tab' : 'Tab';
  for (let n = 0; n < (options.max ?? 250); n++) {
    await page.keyboard.press(key);
    const f = await focused(panel);
    if (f.inPanel && f.label === label) return f;
  }
  throw new Error(`"${label}" in ${panel} was not reached with ${key}`);
}

/** Replaces the focused number input's text by typing (select all, type). */
async function typeInFocused(value: string): Promise<void> {
  await page.keyboard.press('Control+A');
  await page.keyboard.type(value);
}

/** The geometry of a locator's elements, and whether their text is cut (scrolling) or hidden. */
async function boxes(locator: Locator) {
  return locator.evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      const cs = getComputedStyle(e);
      return {
        x: r.x,
        y: r.y,
        width: r.width,
        height: r.height,
        text: (e.textContent ?? '').trim(),
        cut: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1,
        shown: cs.visibility === 'visible' && cs.display !== 'none' && Number(cs.opacity) > 0.9,
      };
    }),
  );
}

function inside(
  b: { x: number; y: number; width: number; height: number },
  c: { x: number; y: number; width: number; height: number },
): boolean {
  return b.x >= c.x && b.y >= c.y && b.x + b.width <= c.x + c.width && b.y + b.height <= c.y + c.height;
}

/** The warning overlays lying wholly inside the viewport `viewportId`. */
async function warningOverlaysIn(viewportId: string, testId = OVERLAY_TEST_ID) {
  const vp = (await page.locator(`[data-viewport-uid="${viewportId}"]`).boundingBox())!;
  return (await boxes(page.locator(`[data-testid="${testId}"]`))).filter((b) => b.width > 0 && inside(b, vp));
}

/** What the display sets are (OHIF's displaySetService on window, read-only). */
async function displaySetInfo(uids: string[]) {
  return page.evaluate((list) => {
    const s = (
      window as unknown as {
        services: {
          displaySetService: {
            getDisplaySetByUID(u: string):
              | {
                  StudyInstanceUID: string;
                  SeriesInstanceUID: string;
                  SeriesDescription?: string;
                  instances?: { imageId?: string }[];
                }
              | undefined;
          };
        };
      }
    ).services;
    return list.map((u) => {
      const d = s.displaySetService.getDisplaySetByUID(u);
      return d
        ? {
            study: d.StudyInstanceUID,
            series: d.SeriesInstanceUID,
            description: d.SeriesDescription ?? '',
            imageId: d.instances?.[0]?.imageId ?? '',
          }
        : null;
    });
  }, uids);
}

/** The layers of the fused result viewport: volume id, VOI range and colour map of each actor. */
async function resultLayers() {
  return page.evaluate(() => {
    const s = (
      window as unknown as {
        services: {
          cornerstoneViewportService: {
            getCornerstoneViewport(id: string): {
              getActors(): { referencedId?: string; uid: string }[];
              getProperties(volumeId?: string): {
                voiRange?: { lower: number; upper: number };
                colormap?: { name?: string };
              };
            };
          };
        };
      }
    ).services.cornerstoneViewportService;
    const vp = s.getCornerstoneViewport('geometryLdm-result');
    return vp.getActors().map((a) => {
      const id = a.referencedId ?? a.uid;
      const p = vp.getProperties(id);
      return { id, voi: p.voiRange ?? null, colormap: p.colormap?.name ?? null };
    });
  });
}

/** The "W: L:" text OHIF's overlay shows in a viewport (the item inside its box), as numbers. */
async function overlayWindow(viewportId: string): Promise<{ width: number; level: number } | null> {
  return page.evaluate((id) => {
    const box = document.querySelector(`[data-viewport-uid="${id}"]`)?.getBoundingClientRect();
    if (!box) return null;
    for (const x of Array.from(document.querySelectorAll('.overlay-item'))) {
      const r = x.getBoundingClientRect();
      const inside =
        r.width > 0 &&
        r.left >= box.left &&
        r.right <= box.right &&
        r.top >= box.top &&
        r.bottom <= box.bottom;
      const m = /W:\s*(-?\d+)\s*L:\s*(-?\d+)/.exec(x.textContent ?? '');
      if (inside && m) return { width: Number(m[1]), level: Number(m[2]) };
    }
    return null;
  }, viewportId);
}

/** Brings the Generate panel to the front (OHIF's panelService). */
async function showGeneratePanel(): Promise<void> {
  await page.evaluate(() =>
    (
      window as unknown as {
        services: { panelService: { activatePanel(id: string, force: boolean): void } };
      }
    ).services.panelService.activatePanel('@geometry-ldm/extension.panelModule.generate', true),
  );
}

/** The window (VOI range) a viewport shows its grey image in. */
async function viewportVoi(viewportId: string): Promise<{ lower: number; upper: number }> {
  return page.evaluate((id) => {
    const s = (
      window as unknown as {
        services: {
          cornerstoneViewportService: {
            getCornerstoneViewport(id: string): {
              getProperties(): { voiRange: { lower: number; upper: number } };
            };
          };
        };
      }
    ).services.cornerstoneViewportService;
    return s.getCornerstoneViewport(id).getProperties().voiRange;
  }, viewportId);
}

/** The cameras' focal points of the source and result viewports. */
async function focalPoints() {
  return page.evaluate(() => {
    const s = (
      window as unknown as {
        services: {
          cornerstoneViewportService: {
            getCornerstoneViewport(id: string): { getCamera(): { focalPoint: number[] } } | undefined;
          };
        };
      }
    ).services.cornerstoneViewportService;
    return ['geometryLdm-source', 'geometryLdm-result'].map(
      (id) => s.getCornerstoneViewport(id)?.getCamera().focalPoint ?? null,
    );
  });
}

/**
 * The fused result viewport has settled: grey image + colour-mapped std layer, the grey layer in
 * the source's window, and the W/L text showing that window (what the checks below assert).
 */
async function fusedSettled(): Promise<boolean> {
  const layers = await resultLayers();
  if (layers.length !== 2 || layers[1].colormap !== 'hsv' || !layers[0].voi) return false;
  const src = await viewportVoi('geometryLdm-source');
  const wl = await overlayWindow('geometryLdm-result');
  const { lower, upper } = layers[0].voi;
  return (
    Math.abs(lower - src.lower) <= 1 &&
    Math.abs(upper - src.upper) <= 1 &&
    !!wl &&
    Math.abs(wl.width - (upper - lower)) <= 1 &&
    Math.abs(wl.level - (upper + lower) / 2) <= 1
  );
}

/** Polls `ready` (state in the page) until it holds: no fixed sleeps for things that can be observed. */
async function pollUntil(ready: () => Promise<boolean>, what: string, timeoutMs = 60000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Scrolls the mouse wheel over the result viewport; returns the focal points before and after. */
async function scrollResult(steps: number) {
  const before = await focalPoints();
  const box = (await page.locator('[data-viewport-uid="geometryLdm-result"]').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let n = 0; n < steps; n++) {
    await page.mouse.wheel(0, 120);
    await page.waitForTimeout(150);
  }
  await page.waitForTimeout(500);
  return { before, after: await focalPoints() };
}

/** A series description in OHIF's study browser (not elsewhere on the page, e.g. a viewport overlay). */
function studyBrowserSeries(description: RegExp): Locator {
  return page
    .locator('[data-cy="studyBrowser-panel"] [data-cy="series-description-label"]')
    .filter({ hasText: description });
}

function ownOrigin(url: string): boolean {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  return new URL(url).origin === new URL(server.url).origin;
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gldm-panels-'));
  const demo = path.join(REPO, 'models', 'geometry-ldm-demo');
  if (fs.existsSync(path.join(demo, 'model.json'))) {
    modelDir = demo;
  } else {
    model = exportTinyModel(0);
    modelDir = model.dir;
    console.warn('models/geometry-ldm-demo is missing: the panels run the tiny random-weight model');
  }
  const card = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as {
    name: string;
    version: string;
    superResolution: { tStart: number };
  };
  modelName = `${card.name} ${card.version}`;
  orthanc = await startOrthanc();
  seeded = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
  const bundlesDir = path.join(dir, 'bundles');
  runScript('platform-config/scripts/build-extension.mjs', ['--out', bundlesDir, '--no-minify']);
  const viewerDir = runScript('platform-config/scripts/fetch-viewer.mjs').trim().split('\n').pop()!;
  server = await spawnViewerServer({
    orthancUrl: orthanc.url,
    authorization: orthanc.authorization,
    viewerDir,
    bundlesDir,
    modelDir,
  });
  browser = await launchChromium();
  context = await browser.browser.newContext({ viewport: { width: 1600, height: 1000 } });
  // Context-level, from before the first page exists: the page, its dedicated workers (inference
  // engine, onnxruntime's wasm threads, OHIF's decoders; playwright-core reports their requests on
  // the page and the context) and service workers (reported on the context only).
  context.on('request', (r) =>
    requests.push({
      url: r.url(),
      method: r.method(),
      resourceType: r.resourceType(),
      fromServiceWorker: r.serviceWorker() !== null,
    }),
  );
  context.on('serviceworker', (w) => workers.push(w.url()));
  context.on('page', (p) => p.on('worker', (w) => workers.push(w.url())));
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
}, 300000);

afterAll(async () => {
  if (consoleErrors.length) console.log(`page console errors:\n${consoleErrors.slice(0, 40).join('\n')}`);
  await browser?.close();
  await server?.stop();
  await orthanc?.stop();
  model?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('super-resolve panel in the viewer', () => {
  const panel = 'geometry-ldm-super-resolve';
  let savedSeries = '';
  /** The in-memory (unsaved) result and std series shown before saving. */
  const unsavedSeries: string[] = [];

  it('opens the study in the Synthesis mode with the panel on the active CT series', async () => {
    await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.waitFor({ timeout: 120000 });
    await p.getByText('512 × 512 × 30').waitFor({ timeout: 120000 });
    await p.getByText(/Backend: wasm \(CPU\)/).waitFor({ timeout: 120000 });
    // the model card: name, version and intended use in view without any interaction
    await p.getByText(`Model: ${modelName}`).waitFor({ state: 'visible' });
    const use = p.getByText('Intended use: research, not for diagnosis', { exact: true });
    await use.waitFor({ state: 'visible' });
    expect(await use.isVisible()).toBe(true);
    expect(await p.getByText(`Model: ${modelName}`).isVisible()).toBe(true);
    // the AI mode is the default, with the words that say what it does
    expect(await p.getByLabel('Mode', { exact: true }).inputValue()).toBe('ai');
    expect(await p.getByTestId('geometry-ldm-mode-note').textContent()).toMatch(/^A 2D network sharpens/);
    // the AI mode takes the whole 512 x 512 series (planning/modeGrid.ts): no region is proposed,
    // and no model grid is shown (it runs plane by plane)
    await p.getByText('columns 1–512, rows 1–512, slices 1–30').waitFor();
    expect(await p.getByText('Model grid', { exact: true }).count()).toBe(0);
    // its time counts every voxel; the panel says the refiner skips air away from the body
    const timeNote = p.getByTestId('geometry-ldm-time-note');
    await timeNote.waitFor();
    expect(await timeNote.textContent()).toMatch(
      /^The refiner runs only near the body \(within about 32 voxels of its extent in each plane\)/,
    );
    await shot('sr-1-opened');
  }, 240000);

  it('configures a small target: x4 slices on a 32 x 32 x 8 region -> 32 x 32 x 32', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await setNumber(panel, 'Columns: first', 241);
    await setNumber(panel, 'Columns: last', 272);
    await setNumber(panel, 'Rows: first', 251);
    await setNumber(panel, 'Rows: last', 282);
    await setNumber(panel, 'Slices: first', 12);
    await setNumber(panel, 'Slices: last', 19);
    // the latent-diffusion mode first: its time estimate, calibration and a long job to cancel
    await p.getByLabel('Mode', { exact: true }).selectOption('diffusion');
    await setNumber(panel, 'Cycles', 1);
    await setNumber(panel, 'DDIM steps', 2);
    await setNumber(panel, 'Samples', 2);
    await p.getByText('32 × 32 × 32').first().waitFor();
    // a time estimate for this backend before anything was measured, labelled approximate
    const prior = p.getByText(/^roughly .+\(denoising .+\)$/);
    await prior.waitFor();
    expect(await prior.isVisible()).toBe(true);
    expect(await p.getByTestId('geometry-ldm-time-note').count()).toBe(0);
    const basis = p.getByTestId('geometry-ldm-prior-estimate');
    expect(await basis.textContent()).toMatch(
      /^Approximate \(not measured yet on this machine\): from the costs recorded in the model description with wasm, \d threads?/,
    );
    await prior.scrollIntoViewIfNeeded();
    await shot('sr-2-configured');
  });

  it('measures this machine and shows a time estimate', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: /Measure speed/ }).click();
    const time = p.getByText(/^about .+\(denoising .+\)$/);
    await time.waitFor({ timeout: 120000 });
    // the measured time replaces the approximate one
    expect(await p.getByText(/^roughly /).count()).toBe(0);
    expect(await p.getByTestId('geometry-ldm-prior-estimate').count()).toBe(0);
    await p.getByText(/^Time from a calibration on this machine/).waitFor();
    await time.scrollIntoViewIfNeeded();
    await shot('sr-2b-estimate');
  }, 180000);

  it('keyboard only, at OHIF’s default panel width: Tab to the settings, type, Enter runs, Space cancels (ETA shown, panel back to idle)', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    // the panel as OHIF lays it out by default (nobody resized it), with nothing cut off sideways
    const width = (await p.boundingBox())!.width;
    expect(width).toBeLessThanOrEqual(OHIF_DEFAULT_PANEL_WIDTH);
    expect(width).toBeGreaterThan(OHIF_DEFAULT_PANEL_WIDTH - 40);
    expect(await p.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    // a long job on the same tiny grid: cycles and samples by fill, t and DDIM steps by keyboard
    await setNumber(panel, 'Cycles', 5);
    await setNumber(panel, 'Samples', 8);
    await p.getByLabel('Series to super-resolve').focus();
    expect((await focused(panel)).tag).toBe('select');
    expect((await tabTo(panel, 'Noise level t')).tag).toBe('input');
    await typeInFocused('999');
    await tabTo(panel, 'DDIM steps');
    await typeInFocused('999');
    expect(await p.getByLabel('Noise level t', { exact: true }).inputValue()).toBe('999');
    expect(await p.getByLabel('DDIM steps', { exact: true }).inputValue()).toBe('999');
    expect((await tabTo(panel, 'Super-resolve')).tag).toBe('button');
    await page.keyboard.press('Enter');
    // running: stage, step and an ETA
    const eta = p.getByRole('status').filter({ hasText: /^Denoising — step \d+ of \d+.* — about .+ left$/ });
    await eta.waitFor({ timeout: 120000 });
    await p.getByRole('progressbar').scrollIntoViewIfNeeded();
    await shot('sr-2c-running-eta');
    // Cancel, reached by keyboard (the disabled run button may have dropped the focus: search both ways)
    await tabTo(panel, 'Cancel', { back: true }).catch(() => tabTo(panel, 'Cancel'));
    await page.keyboard.press('Space');
    await p
      .getByRole('status')
      .filter({ hasText: /^Cancelled$/ })
      .waitFor({ timeout: 60000 });
    // stopped and idle again: no Cancel, the run button and the settings usable
    const run = p.getByRole('button', { name: 'Super-resolve', exact: true });
    await page.waitForFunction(
      (testId) => {
        const root = document.querySelector(`[data-testid="${testId}"]`);
        const b = Array.from(root?.querySelectorAll('button') ?? []).find(
          (x) => x.textContent === 'Super-resolve',
        );
        return !!b && !b.disabled;
      },
      panel,
      { timeout: 60000 },
    );
    expect(await run.isEnabled()).toBe(true);
    expect(await p.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
    expect(await p.getByLabel('Cycles', { exact: true }).isEnabled()).toBe(true);
    expect(await p.getByRole('img', { name: /Super-resolved \(mean\)/ }).count()).toBe(0);
    await shot('sr-2d-cancelled');
    // back to the default mode for the run below (AI refiner, its default 2 samples)
    await p.getByLabel('Mode', { exact: true }).selectOption('ai');
    // the number field takes its new value from the panel in an effect, a frame after the change
    const samples = p.getByLabel('Samples', { exact: true });
    await pollUntil(async () => (await samples.inputValue()) === '2', 'Samples back to 2', 10000);
    expect(await samples.inputValue()).toBe('2');
    expect(await p.getByLabel('Cycles', { exact: true }).count()).toBe(0);
    await p.getByText('32 × 32 × 32').first().waitFor();
  }, 240000);

  it('runs with progress and shows the result in the panel', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    // earlier notifications gone first (they would cover the progress in the screenshot)
    await page.waitForFunction(
      () => document.querySelectorAll('[data-sonner-toast]').length === 0,
      undefined,
      {
        timeout: 60000,
      },
    );
    await p.getByRole('button', { name: 'Super-resolve', exact: true }).click();
    await p.getByRole('progressbar').waitFor();
    await p.getByRole('progressbar').scrollIntoViewIfNeeded();
    await shot('sr-3-progress');
    await p.getByText(/^Done in /).waitFor({ timeout: 180000 });
    const img = p.getByRole('img', { name: /Super-resolved \(mean\), axial slice/ });
    await img.waitFor();
    await img.scrollIntoViewIfNeeded();
    // how it was made, and what the network added over the classical projection
    expect(await p.getByTestId('geometry-ldm-method').textContent()).toMatch(
      /^AI refiner \+ projection, 2 samples; slice model .+; reproduces the acquired slices within \d+\.\d HU/,
    );
    const shows = await p.getByLabel('Show', { exact: true }).locator('option').allTextContents();
    // short names in the half-width select; the full name (with the window) is shown above the image
    expect(shows).toEqual(['Mean', 'Std (HU)', 'AI − classical', 'Classical', 'Trilinear']);
    expect(await p.getByTestId('geometry-ldm-layer-name').textContent()).toBe('Super-resolved (mean)');
    await shot('sr-4-result');
  }, 240000);

  it('before saving: the result is in the viewer next to the source, unsaved (synchronised, std overlay), and the PACS holds nothing new', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    const note = p.getByTestId('geometry-ldm-unsaved');
    await note.waitFor({ timeout: 60000 });
    expect(await note.textContent()).toBe(
      'Shown next to the source in the viewer — not saved to the PACS yet.',
    );
    // source | result in the viewport grid
    const vp = await viewportState();
    expect([...vp.ids].sort()).toEqual(['geometryLdm-result', 'geometryLdm-source']);
    const [source] = await displaySetInfo(vp.displaySets[vp.ids.indexOf('geometryLdm-source')]);
    expect(source).toMatchObject({ study: seeded.studyInstanceUid, series: seeded.seriesInstanceUid });
    // the result viewport: the result and its std map, new series of the same study, read from memory
    const fused = await displaySetInfo(vp.displaySets[vp.ids.indexOf('geometryLdm-result')]);
    expect(fused).toHaveLength(2);
    const [result, std] = fused;
    expect(result).toMatchObject({
      study: seeded.studyInstanceUid,
      description: 'AI super-resolution UNSAVED CNN x4 z - NOT FOR DIAGNOSTIC USE',
    });
    expect(std).toMatchObject({
      study: seeded.studyInstanceUid,
      description: 'AI SR uncertainty UNSAVED CNN x4 z - NOT FOR DIAGNOSTIC USE',
    });
    const origin = new URL(server.url).origin;
    for (const d of fused) expect(d!.imageId.startsWith(`wadouri:blob:${origin}/`)).toBe(true);
    unsavedSeries.push(result!.series, std!.series);
    expect(unsavedSeries).not.toContain(seeded.seriesInstanceUid);
    // the study browser lists the unsaved copy under its own name
    await studyBrowserSeries(/AI super-resolution UNSAVED CNN x4 z/)
      .first()
      .waitFor({ timeout: 60000 });
    await pollUntil(fusedSettled, 'the fused result viewport in the source window');
    // fused: the result opens in the window the source shows, the std layer colour-mapped
    const layers = await resultLayers();
    expect(layers).toHaveLength(2);
    const sourceVoi = await viewportVoi('geometryLdm-source');
    expect(Math.abs(layers[0].voi!.lower - sourceVoi.lower)).toBeLessThanOrEqual(1);
    expect(Math.abs(layers[0].voi!.upper - sourceVoi.upper)).toBeLessThanOrEqual(1);
    expect(layers[1].colormap).toBe('hsv');
    // the viewport's W/L text is the grey image's window, not the std overlay's
    const shownWl = await overlayWindow('geometryLdm-result');
    expect(shownWl).not.toBeNull();
    expect(Math.abs(shownWl!.width - (layers[0].voi!.upper - layers[0].voi!.lower))).toBeLessThanOrEqual(1);
    expect(Math.abs(shownWl!.level - (layers[0].voi!.upper + layers[0].voi!.lower) / 2)).toBeLessThanOrEqual(
      1,
    );
    // "NOT FOR DIAGNOSTIC USE" and "unsaved" over the result viewport, whole; neither over the source
    const onResult = await warningOverlaysIn('geometryLdm-result');
    expect(onResult).toHaveLength(1);
    expect(onResult[0]).toMatchObject({ text: OVERLAY_TEXT, cut: false, shown: true });
    const unsavedOnResult = await warningOverlaysIn('geometryLdm-result', UNSAVED_TEST_ID);
    expect(unsavedOnResult).toHaveLength(1);
    expect(unsavedOnResult[0]).toMatchObject({ text: UNSAVED_TEXT, cut: false, shown: true });
    expect(await warningOverlaysIn('geometryLdm-source')).toEqual([]);
    expect(await warningOverlaysIn('geometryLdm-source', UNSAVED_TEST_ID)).toEqual([]);
    await shot('sr-4b-unsaved-side-by-side');
    // scrolling the result scrolls the source to the same position
    const { before, after } = await scrollResult(5);
    expect(before.every((f) => f !== null)).toBe(true);
    const [src0, res0] = before as number[][];
    const [src1, res1] = after as number[][];
    expect(Math.abs(res1[2] - res0[2])).toBeGreaterThan(0.5);
    expect(Math.abs(src1[2] - res1[2])).toBeLessThan(1e-3);
    expect(Math.abs(src0[2] - res0[2])).toBeLessThan(1e-3);
    await shot('sr-4c-unsaved-synchronised-scroll');
    // nothing was stored: Orthanc holds the seeded series only (QIDO, directly), and nothing was sent
    const series = await searchSeries(orthancTransport(orthanc), seeded.studyInstanceUid);
    expect(series.map((s) => s.seriesInstanceUid)).toEqual([seeded.seriesInstanceUid]);
    expect(requests.filter((r) => r.method === 'POST' && r.url.includes('/dicom-web/'))).toEqual([]);
  }, 120000);

  it('saves to the PACS: the series appears in the study browser and in Orthanc, next to the source', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: 'Save to PACS and show next to the source' }).click();
    const saved = p.getByText(/^Saved: series /);
    await saved.waitFor({ timeout: 120000 });
    savedSeries = /series ([\d.]+)/.exec((await saved.textContent()) ?? '')![1];
    // the study browser (its own element, not the viewport overlay) lists the new series without a reload
    await studyBrowserSeries(/AI super-resolution CNN x4 z/)
      .first()
      .waitFor({ timeout: 60000 });
    // Orthanc holds it (QIDO, directly, not through the viewer)
    const series = await searchSeries(orthancTransport(orthanc), seeded.studyInstanceUid);
    expect(series.map((s) => s.seriesInstanceUid)).toContain(savedSeries);
    // laid out side by side: our two viewports
    await page.waitForFunction(
      () => {
        const s = (window as unknown as { services: { viewportGridService: { getState(): unknown } } })
          .services;
        const st = s.viewportGridService.getState() as { viewports: Map<string, unknown> };
        return st.viewports.has('geometryLdm-source') && st.viewports.has('geometryLdm-result');
      },
      undefined,
      { timeout: 60000 },
    );
    const vp = await viewportState();
    expect([...vp.ids].sort()).toEqual(['geometryLdm-result', 'geometryLdm-source']);
    // the result viewport fuses the result and its std map
    expect(vp.displaySets[vp.ids.indexOf('geometryLdm-result')]).toHaveLength(2);
    // ... as stored in the PACS: the saved series replaced the unsaved copy, which left the viewer
    const fused = await displaySetInfo(vp.displaySets[vp.ids.indexOf('geometryLdm-result')]);
    expect(fused[0]).toMatchObject({
      series: savedSeries,
      description: 'AI super-resolution CNN x4 z - NOT FOR DIAGNOSTIC USE',
    });
    expect(fused[1]!.description).toBe('AI SR uncertainty CNN x4 z - NOT FOR DIAGNOSTIC USE');
    for (const d of fused) expect(d!.imageId.startsWith('wadors:')).toBe(true);
    expect(series.map((s) => s.seriesInstanceUid)).toContain(fused[1]!.series);
    const left = await page.evaluate(
      (uids) =>
        (
          window as unknown as {
            services: { displaySetService: { getActiveDisplaySets(): { SeriesInstanceUID: string }[] } };
          }
        ).services.displaySetService
          .getActiveDisplaySets()
          .filter((d) => uids.includes(d.SeriesInstanceUID)).length,
      unsavedSeries,
    );
    expect(left).toBe(0);
    expect(await studyBrowserSeries(/UNSAVED/).count()).toBe(0);
    expect(await p.getByTestId('geometry-ldm-unsaved').count()).toBe(0);
    await pollUntil(
      async () => (await resultLayers()).length === 2,
      'the saved result in the fused viewport',
    );
    // the fused viewport: the saved result opens in the source's current window too, the std
    // layer is colour-mapped
    const layers = await resultLayers();
    expect(layers).toHaveLength(2);
    const sourceVoi = await viewportVoi('geometryLdm-source');
    expect(Math.abs(layers[0].voi!.lower - sourceVoi.lower)).toBeLessThanOrEqual(1);
    expect(Math.abs(layers[0].voi!.upper - sourceVoi.upper)).toBeLessThanOrEqual(1);
    expect(layers[1].colormap).toBe('hsv');
    // the viewport's W/L text is the grey image's window, not the std overlay's
    const shownWl = await overlayWindow('geometryLdm-result');
    expect(shownWl).not.toBeNull();
    expect(Math.abs(shownWl!.width - (layers[0].voi!.upper - layers[0].voi!.lower))).toBeLessThanOrEqual(1);
    expect(Math.abs(shownWl!.level - (layers[0].voi!.upper + layers[0].voi!.lower) / 2)).toBeLessThanOrEqual(
      1,
    );
    // "NOT FOR DIAGNOSTIC USE" over the result viewport, whole (not cut), and not over the source
    const onResult = await warningOverlaysIn('geometryLdm-result');
    expect(onResult).toHaveLength(1);
    expect(onResult[0]).toMatchObject({ text: OVERLAY_TEXT, cut: false, shown: true });
    expect(await warningOverlaysIn('geometryLdm-source')).toEqual([]);
    // saved: no "unsaved" mark any more
    expect(await warningOverlaysIn('geometryLdm-result', UNSAVED_TEST_ID)).toEqual([]);
    // AI output is not offered as a source (the result and its std map are in the viewer now)
    const offered = await p
      .getByLabel('Series to super-resolve')
      .evaluate((el) => Array.from((el as HTMLSelectElement).options).map((o) => o.textContent ?? ''));
    expect(offered.filter((t) => /AI super-resolution|AI SR uncertainty|SYNTHETIC/.test(t))).toEqual([]);
    expect(offered.some((t) => /CT, 30 images/.test(t))).toBe(true);
    expect(await p.getByTestId('geometry-ldm-hidden-outputs').textContent()).toMatch(
      /^\d+ series written by this product .* not offered/,
    );
    await shot('sr-5-saved-side-by-side');
  }, 240000);

  it('scrolling the result scrolls the source to the same position (synchronised cameras)', async () => {
    const { before, after } = await scrollResult(5);
    expect(before.every((f) => f !== null)).toBe(true);
    const [src0, res0] = before as number[][];
    const [src1, res1] = after as number[][];
    // the result moved along z, and the source followed to the same patient position
    expect(Math.abs(res1[2] - res0[2])).toBeGreaterThan(0.5);
    expect(Math.abs(src1[2] - res1[2])).toBeLessThan(1e-3);
    expect(Math.abs(src0[2] - res0[2])).toBeLessThan(1e-3);
    await shot('sr-6-synchronised-scroll');
  }, 60000);

  it('the classical mode runs on the whole 512 x 512 series (x2 slices): no region to fit, a 512 x 512 x 60 result', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: 'Whole series', exact: true }).click();
    await p.getByLabel('Preset', { exact: true }).selectOption('x2-slices');
    await p.getByLabel('Mode', { exact: true }).selectOption('classical');
    await p.getByText('columns 1–512, rows 1–512, slices 1–30').waitFor();
    await p.getByText('512 × 512 × 60').first().waitFor();
    await p.getByRole('button', { name: 'Super-resolve', exact: true }).click();
    await p
      .getByTestId('geometry-ldm-method')
      .filter({
        hasText: /^classical back-projection \(no AI\); slice model .+; reproduces the acquired slices/,
      })
      .waitFor({ timeout: 180000 });
    const shows = await p.getByLabel('Show', { exact: true }).locator('option').allTextContents();
    expect(shows).toEqual(['Mean', 'Trilinear']);
    await p.getByRole('img', { name: /Super-resolved \(mean\), axial slice/ }).waitFor();
  }, 240000);

  it('every request from the browser context’s creation to here (page load, model download, worker, STOW) went to the viewer’s own origin', () => {
    const origin = new URL(server.url).origin;
    const urls = requests.map((r) => r.url);
    // the record covers the whole super-resolution, workers included
    expect(urls).toContain(`${origin}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
    expect(urls).toContain(`${origin}/app-config.js`);
    for (const part of ['model.json', 'encoder.onnx', 'unet.onnx', 'decoder.onnx']) {
      expect(urls).toContain(`${origin}/geometry-ldm/model/${part}`); // fetched by the inference worker
    }
    expect(urls.some((u) => u.startsWith(`${origin}/geometry-ldm/ort/`) && u.endsWith('.wasm'))).toBe(true);
    expect(workers.some((w) => w.startsWith(`${origin}/geometry-ldm/bundles/`))).toBe(true);
    expect(requests.some((r) => r.method === 'POST' && r.url.startsWith(`${origin}/dicom-web/studies`))).toBe(
      true,
    ); // STOW of the derived series
    // and nothing went anywhere else
    expect(requests.filter((r) => !ownOrigin(r.url))).toEqual([]);
    expect(workers.filter((w) => !ownOrigin(w))).toEqual([]);
  });

  it('a non-CT series of the study is refused with an OHIF notification in plain words', async () => {
    await seedNonCtSeries(orthancTransport(orthanc), seeded.files[0].file);
    await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByText('512 × 512 × 30').waitFor({ timeout: 120000 });
    const select = p.getByLabel('Series to super-resolve');
    const mr = await select
      .locator('option')
      .filter({ hasText: NON_CT_DESCRIPTION })
      .getAttribute('value', { timeout: 60000 });
    await select.selectOption(mr!);
    const toast = page.locator('[data-sonner-toast]').filter({ hasText: 'Not a CT series' });
    await toast.waitFor({ timeout: 30000 });
    expect(await toast.textContent()).toContain(
      'This series cannot be used: the series is MR, not CT. Choose a CT image series.',
    );
    // the panel says so too, and does not offer to run
    await p.getByText('the series is MR, not CT', { exact: true }).waitFor();
    expect(await p.getByRole('button', { name: 'Super-resolve', exact: true }).isDisabled()).toBe(true);
    await shot('sr-7-not-ct-notification');
  }, 240000);
});

describe('generate panel in the viewer', () => {
  const panel = 'geometry-ldm-generate';
  let studyUid = '';

  it('shows a preview of the estimate while sampling; Cancel stops the job', async () => {
    await showGeneratePanel();
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.waitFor({ timeout: 60000 });
    await setNumber(panel, 'Grid size (voxels): x', 32);
    await setNumber(panel, 'Grid size (voxels): y', 32);
    await setNumber(panel, 'Grid size (voxels): z', 40);
    // long enough to look at (4 x 1000 steps on the tiny grid); previews every 250 steps
    await setNumber(panel, 'Steps', 1000);
    await setNumber(panel, 'Samples', 4);
    await p.getByRole('button', { name: 'Generate', exact: true }).click();
    const preview = p.getByRole('img', { name: 'Preview of the current estimate (middle slice)' });
    await preview.waitFor({ timeout: 120000 });
    // the preview is a drawn slice, not an empty canvas
    const drawn = await preview.evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let lit = 0;
      for (let q = 0; q < d.length; q += 4) if (d[q] + d[q + 1] + d[q + 2] > 0) lit++;
      return { width: canvas.width, height: canvas.height, lit };
    });
    expect(drawn.width * drawn.height).toBeGreaterThan(0);
    expect(drawn.lit).toBeGreaterThan(0);
    // the not-for-diagnostic notice sits above the preview, covering none of it
    const notice = await preview
      .locator('xpath=..')
      .locator('.gldm-ndu')
      .evaluate((n) => n.getBoundingClientRect().bottom);
    const image = await preview.evaluate((c) => c.getBoundingClientRect().top);
    expect(notice).toBeLessThanOrEqual(image + 0.5);
    await preview.scrollIntoViewIfNeeded();
    await shot('gen-0-preview');
    await p.getByRole('button', { name: 'Cancel', exact: true }).click();
    await p
      .getByRole('status')
      .filter({ hasText: /^Cancelled$/ })
      .waitFor({ timeout: 60000 });
    expect(await p.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
    expect(await preview.count()).toBe(0);
  }, 240000);

  it('a reload during a generation: the browser asks first; after it, the panel says the job was lost and the settings are back', async () => {
    await showGeneratePanel();
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.waitFor({ timeout: 60000 });
    await setNumber(panel, 'Grid size (voxels): x', 64);
    await setNumber(panel, 'Grid size (voxels): y', 64);
    await setNumber(panel, 'Grid size (voxels): z', 64);
    await setNumber(panel, 'Steps', 50);
    await setNumber(panel, 'Samples', 1);
    await setNumber(panel, 'Seed', 4242);
    await p.getByRole('button', { name: 'Generate', exact: true }).click();
    await p.getByRole('progressbar').waitFor();
    const dialogs: string[] = [];
    page.once('dialog', (d) => {
      dialogs.push(d.type());
      void d.accept(); // leave anyway
    });
    await page.reload();
    expect(dialogs).toEqual(['beforeunload']);
    await page.locator('[data-testid="geometry-ldm-super-resolve"]').waitFor({ timeout: 120000 });
    await showGeneratePanel();
    await p.waitFor({ timeout: 60000 });
    await expect(p.getByTestId('geometry-ldm-lost-job').textContent()).resolves.toMatch(
      /^The generation of 1 sample \(64 × 64 × 64\) started at \d\d:\d\d was lost: the page was reloaded or closed while it ran\. Its settings are restored below/,
    );
    expect(await p.getByLabel('Seed', { exact: true }).inputValue()).toBe('4242');
    expect(await p.getByLabel('Steps', { exact: true }).inputValue()).toBe('50');
    await shot('gen-0-lost-job-after-reload');
    // nothing running and nothing unsaved now: leaving asks nothing
    await p.getByRole('button', { name: 'Dismiss' }).click();
  }, 300000);

  it('generates a small volume with progress and a result', async () => {
    await showGeneratePanel();
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.waitFor({ timeout: 60000 });
    await setNumber(panel, 'Grid size (voxels): x', 32);
    await setNumber(panel, 'Grid size (voxels): y', 32);
    await setNumber(panel, 'Grid size (voxels): z', 40);
    await setNumber(panel, 'Steps', 2);
    await setNumber(panel, 'Samples', 1);
    await setNumber(panel, 'Seed', 5);
    await shot('gen-1-configured');
    await p.getByRole('button', { name: 'Generate', exact: true }).click();
    await p.getByRole('progressbar').waitFor();
    await p.getByText(/^Done in /).waitFor({ timeout: 180000 });
    const img = p.getByRole('img', { name: /Sample 1 \(seed \d+\), axial slice/ });
    await img.waitFor();
    // the half-width "Show" select names the sample only (its seed is listed above and in the image's name)
    expect(await p.getByLabel('Show', { exact: true }).locator('option:checked').textContent()).toBe(
      'Sample 1',
    );
    await img.scrollIntoViewIfNeeded();
    await shot('gen-2-result');
    // leaving the mode by OHIF's return-to-study-list button asks first; "stay" keeps the result
    const urlBefore = page.url();
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    await page.locator('[data-cy="return-to-work-list"]').click();
    expect(asked).toEqual(['confirm: Leave the viewer? The unsaved generated volume will be lost.']);
    await page.waitForTimeout(500);
    expect(page.url()).toBe(urlBefore);
    expect(await img.isVisible()).toBe(true);
  }, 240000);

  it('saves a synthetic study: Orthanc holds it; it never enters this patient’s session; its own link opens it alone, marked', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    const before = await viewportState();
    await p.getByRole('button', { name: 'Save to PACS as a synthetic study' }).click();
    const saved = p.getByText(/^Saved as synthetic study /);
    await saved.waitFor({ timeout: 120000 });
    studyUid = /study ([\d.]+)/.exec((await saved.textContent()) ?? '')![1];
    expect(await saved.textContent()).toMatch(/It opens on its own, never in this patient's session\.$/);
    const studies = await searchStudies(orthancTransport(orthanc), { StudyInstanceUID: studyUid });
    expect(studies).toHaveLength(1);
    await page.waitForTimeout(2000);
    // this session still shows the real patient only: same viewports, no display set of the synthetic study
    expect(await viewportState()).toEqual(before);
    const studiesInSession = await page.evaluate(() =>
      (
        window as unknown as {
          services: { displaySetService: { getActiveDisplaySets(): { StudyInstanceUID: string }[] } };
        }
      ).services.displaySetService
        .getActiveDisplaySets()
        .map((d) => d.StudyInstanceUID),
    );
    expect(studiesInSession).not.toContain(studyUid);
    expect(await studyBrowserSeries(/SYNTHETIC AI-generated CT/).count()).toBe(0);
    await shot('gen-3-saved-not-mixed');
    const link = p.getByRole('link', { name: 'Open the synthetic study (new tab)' });
    expect(await link.getAttribute('target')).toBe('_blank');
    const href = (await link.getAttribute('href'))!;
    // opened at a given instance of the study's one series (which one: checked in the viewer below)
    const seriesOfStudy = await searchSeries(orthancTransport(orthanc), studyUid);
    expect(seriesOfStudy).toHaveLength(1);
    const url = new URL(href, server.url);
    expect(url.pathname).toBe('/synthesis');
    expect(url.searchParams.get('StudyInstanceUIDs')).toBe(studyUid);
    expect(url.searchParams.get('initialSeriesInstanceUID')).toBe(seriesOfStudy[0].seriesInstanceUid);
    expect(url.searchParams.get('initialSOPInstanceUID')).toBeTruthy();
    await page.goto(`${server.url}${href}`);
    await studyBrowserSeries(/SYNTHETIC AI-generated CT/)
      .first()
      .waitFor({ timeout: 120000 });
    const own = await page.evaluate(() =>
      (
        window as unknown as {
          services: { displaySetService: { getActiveDisplaySets(): { StudyInstanceUID: string }[] } };
        }
      ).services.displaySetService
        .getActiveDisplaySets()
        .map((d) => d.StudyInstanceUID),
    );
    expect(new Set(own)).toEqual(new Set([studyUid]));
    // it opens at the middle slice, not at the edge of the field of view
    const at = async () =>
      page.evaluate(() => {
        const s = (
          window as unknown as {
            services: {
              viewportGridService: { getState(): { viewports: Map<string, unknown> } };
              cornerstoneViewportService: {
                getCornerstoneViewport(
                  id: string,
                ): { getCurrentImageIdIndex(): number; getImageIds(): string[] } | undefined;
              };
            };
          }
        ).services;
        const id = [...s.viewportGridService.getState().viewports.keys()][0];
        const v = s.cornerstoneViewportService.getCornerstoneViewport(id);
        return v ? { index: v.getCurrentImageIdIndex(), count: v.getImageIds().length } : null;
      });
    for (let t = 0; t < 120 && !((await at())?.count ?? 0); t++) await page.waitForTimeout(500);
    await page.waitForTimeout(1000); // the jump to the initial instance follows the first render
    const { index, count } = (await at())!;
    expect(count).toBeGreaterThan(8);
    expect(Math.abs(index - (count - 1) / 2)).toBeLessThanOrEqual(0.5);
    await shot('gen-4-synthetic-study');
  }, 240000);

  it('no uncaught page errors', () => {
    expect(consoleErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  });

  it('every request of the whole session, generation included, went to the viewer’s own origin', () => {
    expect(requests.filter((r) => !ownOrigin(r.url))).toEqual([]);
    expect(workers.filter((w) => !ownOrigin(w))).toEqual([]);
  });
});
