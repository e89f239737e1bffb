/**
 * The two panels in the real viewer: the prebuilt OHIF 3.13 app served by
 * platform-config/server.mjs with the extension and mode bundles
 * (build-extension.mjs), a real Orthanc behind the server's proxy seeded with
 * a real CT series, the demo model (models/geometry-ldm-demo; the tiny
 * random-weight model with the same architecture when the demo model has not
 * been trained in this checkout) run by the real inference worker on the wasm
 * backend, in Debian's chromium.
 *
 * Super-resolve: configure a small target, run (progress, result), save; the
 * derived series appears in the study browser and in Orthanc (QIDO), and is
 * laid out next to the source. Every request the page makes goes to the
 * viewer's own origin. Generate: run, save as a synthetic study, which Orthanc
 * holds, the viewer shows, and the study browser lists when opened.
 * Screenshots of each step go to test-artifacts/panels/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seedSeries, type SeededSeries } from '../support/seed';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';
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
let page: Page;
const requests: string[] = [];
const consoleErrors: string[] = [];

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
  const context = await browser.browser.newContext({ viewport: { width: 1600, height: 1000 } });
  page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
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

  it('opens the study in the Synthesis mode with the panel on the active CT series', async () => {
    await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.waitFor({ timeout: 120000 });
    await p.getByText('512 × 512 × 30').waitFor({ timeout: 120000 });
    await p.getByText(/Backend: wasm \(CPU\)/).waitFor({ timeout: 120000 });
    await p.getByText(`Model: ${modelName}`).waitFor();
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
    await setNumber(panel, 'Cycles', 1);
    await setNumber(panel, 'DDIM steps', 2);
    await setNumber(panel, 'Samples', 2);
    await p.getByText('32 × 32 × 32').first().waitFor();
    await shot('sr-2-configured');
  });

  it('measures this machine and shows a time estimate', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: /Measure speed/ }).click();
    const time = p.getByText(/^about .+\(denoising .+\)$/);
    await time.waitFor({ timeout: 120000 });
    await time.scrollIntoViewIfNeeded();
    await shot('sr-2b-estimate');
  }, 180000);

  it('runs with progress and shows the result in the panel', async () => {
    requests.length = 0;
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: 'Super-resolve', exact: true }).click();
    await p.getByRole('progressbar').waitFor();
    await p.getByRole('progressbar').scrollIntoViewIfNeeded();
    await shot('sr-3-progress');
    await p.getByText(/^Done in /).waitFor({ timeout: 180000 });
    const img = p.getByRole('img', { name: /Super-resolved \(mean\), axial slice/ });
    await img.waitFor();
    await img.scrollIntoViewIfNeeded();
    await shot('sr-4-result');
  }, 240000);

  it('saves to the PACS: the series appears in the study browser and in Orthanc, next to the source', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: 'Save to PACS and show next to the source' }).click();
    const saved = p.getByText(/^Saved: series /);
    await saved.waitFor({ timeout: 120000 });
    savedSeries = /series ([\d.]+)/.exec((await saved.textContent()) ?? '')![1];
    // the study browser lists the new series without a reload
    await page
      .getByText(/AI super-resolution x4 z/)
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
    await page.waitForTimeout(3000);
    // the fused viewport: the result keeps its own soft-tissue window, the std layer is colour-mapped
    const layers = await page.evaluate(() => {
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
    expect(layers).toHaveLength(2);
    // window 40/400 as written in the series (cornerstone's DICOM linear VOI: [-160, 239])
    expect(Math.abs(layers[0].voi!.lower + 160)).toBeLessThanOrEqual(1);
    expect(Math.abs(layers[0].voi!.upper - 240)).toBeLessThanOrEqual(1);
    expect(layers[1].colormap).toBe('hsv');
    await shot('sr-5-saved-side-by-side');
  }, 240000);

  it('scrolling the result scrolls the source to the same position (synchronised cameras)', async () => {
    const focal = () =>
      page.evaluate(() => {
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
    const before = await focal();
    expect(before.every((f) => f !== null)).toBe(true);
    const box = (await page.locator('[data-viewport-uid="geometryLdm-result"]').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let n = 0; n < 5; n++) {
      await page.mouse.wheel(0, 120);
      await page.waitForTimeout(150);
    }
    await page.waitForTimeout(500);
    const after = await focal();
    const [src0, res0] = before as number[][];
    const [src1, res1] = after as number[][];
    // the result moved along z, and the source followed to the same patient position
    expect(Math.abs(res1[2] - res0[2])).toBeGreaterThan(0.5);
    expect(Math.abs(src1[2] - res1[2])).toBeLessThan(1e-3);
    expect(Math.abs(src0[2] - res0[2])).toBeLessThan(1e-3);
    await shot('sr-6-synchronised-scroll');
  }, 60000);

  it('every request of the super-resolution went to the viewer’s own origin', () => {
    const origin = new URL(server.url).origin;
    const foreign = requests.filter(
      (u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin,
    );
    expect(requests.length).toBeGreaterThan(0);
    expect(foreign).toEqual([]);
  });
});

describe('generate panel in the viewer', () => {
  const panel = 'geometry-ldm-generate';
  let studyUid = '';

  it('generates a small volume with progress and a result', async () => {
    await page.evaluate(() =>
      (
        window as unknown as {
          services: { panelService: { activatePanel(id: string, force: boolean): void } };
        }
      ).services.panelService.activatePanel('@geometry-ldm/extension.panelModule.generate', true),
    );
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
    await img.scrollIntoViewIfNeeded();
    await shot('gen-2-result');
  }, 240000);

  it('saves a synthetic study: Orthanc holds it, the viewer shows it, the study browser lists it when opened', async () => {
    const p = page.locator(`[data-testid="${panel}"]`);
    await p.getByRole('button', { name: 'Save to PACS as a synthetic study' }).click();
    const saved = p.getByText(/^Saved as synthetic study /);
    await saved.waitFor({ timeout: 120000 });
    studyUid = /study ([\d.]+)/.exec((await saved.textContent()) ?? '')![1];
    const studies = await searchStudies(orthancTransport(orthanc), { StudyInstanceUID: studyUid });
    expect(studies).toHaveLength(1);
    const vp = await viewportState();
    const shown = await page.evaluate((uids) => {
      const s = (
        window as unknown as {
          services: {
            displaySetService: { getDisplaySetByUID(u: string): { StudyInstanceUID: string } | undefined };
          };
        }
      ).services;
      return uids.map((u) => s.displaySetService.getDisplaySetByUID(u)?.StudyInstanceUID);
    }, vp.displaySets.flat());
    expect(shown).toContain(studyUid);
    expect(vp.ids).toEqual(['geometryLdm-generated']);
    await page.waitForTimeout(2000);
    await shot('gen-3-saved-shown');
    await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${studyUid}`);
    await page
      .getByText(/SYNTHETIC AI-generated CT/)
      .first()
      .waitFor({ timeout: 120000 });
    await shot('gen-4-synthetic-study');
  }, 240000);

  it('no uncaught page errors', () => {
    expect(consoleErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  });
});
