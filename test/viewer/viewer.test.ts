/**
 * The real stack in Debian chromium: a real Orthanc seeded with a small real
 * CT series, platform-config/server.mjs, the prebuilt OHIF viewer from
 * @ohif/app (fetched by platform-config/scripts/fetch-viewer.mjs: npm pack,
 * about 50 MB once, cached under platform-config/.cache), and the extension,
 * mode and worker bundles built by platform-config/scripts/build-extension.mjs.
 * The model is the tiny exported one (any valid manifest works).
 *
 * Checks: the Synthesis mode opens the study; OHIF's PanelService holds both
 * panels; the panels render inside the viewer with the model card of the
 * served manifest; the CT series is in the viewport; the toolbar button is
 * enabled on CT and brings the Super-resolve panel back; a panel's React root
 * survives a tab switch; every request of the page and its workers goes to
 * the viewer's own origin. Screenshots: test-artifacts/viewer/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { PANEL_IDS } from '../../extensions/geometry-ldm/src/ohif/ids';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { seedSeries, type SeededSeries } from '../support/seed';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';
import { REPO, runScript, spawnViewerServer, type ServerProcess } from './stack';

const ARTIFACTS = path.join(REPO, 'test-artifacts', 'viewer');

let orthanc: OrthancInstance;
let server: ServerProcess;
let model: ExportedModel;
let browser: LaunchedBrowser;
let seeded: SeededSeries;
let bundlesDir: string;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // Downloads the viewer on first use (the npm registry is reachable in CI); then cached.
  const viewerDir = runScript('platform-config/scripts/fetch-viewer.mjs').trim().split('\n').pop() as string;
  bundlesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gldm-bundles-'));
  runScript('platform-config/scripts/build-extension.mjs', ['--out', bundlesDir]);
  model = exportTinyModel(0);
  orthanc = await startOrthanc();
  seeded = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
  server = await spawnViewerServer({
    orthancUrl: orthanc.url,
    authorization: orthanc.authorization,
    viewerDir,
    bundlesDir,
    modelDir: model.dir,
  });
  browser = await launchChromium();
  context = await browser.browser.newContext({ viewport: { width: 1440, height: 900 } });
  // Context-level: includes the requests of dedicated workers (inference engine, codecs, ORT threads).
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 300000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await orthanc?.stop();
  model?.remove();
  if (bundlesDir) fs.rmSync(bundlesDir, { recursive: true, force: true });
});

const island = (name: string) => `geometry-ldm-panel[data-panel="${name}"]`;

describe('the Synthesis mode in the prebuilt OHIF viewer', () => {
  it('opens the seeded CT study with both panels, the model card and the series in the viewport', async () => {
    await page.goto(`${server.url}/synthesis?StudyInstanceUIDs=${seeded.studyInstanceUid}`);
    // OHIF's own PanelService has our two panels on the right, in the mode's order.
    await page.waitForFunction(
      () =>
        (
          window as unknown as { services?: { panelService: { getPanels(p: string): unknown[] } } }
        ).services?.panelService.getPanels('right').length === 2,
      undefined,
      { timeout: 60000 },
    );
    const panelIds = await page.evaluate(() =>
      (
        window as unknown as { services: { panelService: { getPanels(p: string): { id: string }[] } } }
      ).services.panelService
        .getPanels('right')
        .map((p) => p.id),
    );
    expect(panelIds).toEqual([PANEL_IDS.superResolve, PANEL_IDS.generate]);

    // The Super-resolve island is rendered, and shows the card of the manifest the server serves.
    const panel = page.locator(island('superResolve'));
    await panel.waitFor({ state: 'visible', timeout: 60000 });
    const { name, version } = model.manifest;
    await page.waitForFunction(
      ([sel, n, v]) => {
        const text = (document.querySelector(sel) as HTMLElement | null)?.innerText ?? '';
        return text.includes(n) && text.includes(v);
      },
      [island('superResolve'), name, version] as const,
      { timeout: 60000 },
    );
    expect(await panel.innerText()).toMatch(/not for diagnostic use/i);

    // The seeded CT series is displayed in a viewport.
    await page.waitForFunction(
      (seriesUid) => {
        const s = (window as unknown as { services: Record<string, any> }).services; // eslint-disable-line @typescript-eslint/no-explicit-any
        const viewports = [...s.viewportGridService.getState().viewports.values()];
        return viewports.some((vp: { displaySetInstanceUIDs?: string[] }) =>
          (vp.displaySetInstanceUIDs ?? []).some((uid) => {
            const ds = s.displaySetService.getDisplaySetByUID(uid);
            return ds?.Modality === 'CT' && ds?.SeriesInstanceUID === seriesUid;
          }),
        );
      },
      seeded.seriesInstanceUid,
      { timeout: 60000 },
    );
    // The toolbar button is there and enabled on a CT viewport (the extension's evaluator).
    const button = page.locator('[data-cy="GeometryLdm"] button');
    await button.waitFor({ state: 'visible' });
    await page.waitForFunction(
      () => !document.querySelector('[data-cy="GeometryLdm"] button')?.hasAttribute('disabled'),
    );
    expect(await button.getAttribute('aria-label')).toBe('Super-resolve');
    await page.screenshot({ path: path.join(ARTIFACTS, '01-synthesis-mode.png') });
    expect(pageErrors).toEqual([]);
  });

  it("keeps a panel's React root across tab switches; the toolbar button brings Super-resolve back", async () => {
    // Mark the Super-resolve island's container: seeing the same node again proves its root survived.
    await page.evaluate((sel) => {
      (document.querySelector(`${sel} .geometry-ldm-island`) as HTMLElement).dataset.marker = 'kept';
    }, island('superResolve'));
    await page.click('[data-cy="generate-btn"]');
    await page.locator(island('generate')).waitFor({ state: 'visible' });
    await page.locator(island('superResolve')).waitFor({ state: 'detached' });
    expect(await page.locator(island('generate')).innerText()).toMatch(/not for diagnostic use/i);
    await page.screenshot({ path: path.join(ARTIFACTS, '02-generate-panel.png') });

    await page.click('[data-cy="GeometryLdm"] button');
    await page.locator(island('superResolve')).waitFor({ state: 'visible' });
    const marker = await page.evaluate(
      (sel) => (document.querySelector(`${sel} .geometry-ldm-island`) as HTMLElement | null)?.dataset.marker,
      island('superResolve'),
    );
    expect(marker).toBe('kept');
    expect(pageErrors).toEqual([]);
  });

  it("sent every request of the page and its workers to the viewer's own origin", () => {
    const origin = new URL(server.url).origin;
    const foreign = requests.filter(
      (u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin,
    );
    expect(foreign).toEqual([]);
    // The list covers what matters: DICOMweb through the proxy, the model, the bundles, ORT.
    for (const part of [
      '/dicom-web/studies/',
      '/geometry-ldm/model/model.json',
      '/geometry-ldm/bundles/extension.js',
    ]) {
      expect([part, requests.some((u) => u.includes(part))]).toEqual([part, true]);
    }
  });
});
