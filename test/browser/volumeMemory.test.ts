/**
 * The page's volume memory in chromium (dicom/browserVolumeMemory.ts): on a cross-origin-
 * isolated page (the product's server and nginx send COOP/COEP) a large volume is shared
 * memory whose pages a Web Worker faults in while the page writes it, and every value the page
 * writes, in any order, is what the volume holds; on a page that is not isolated the memory is
 * plain and reads still work.
 */
import type { Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, type LaunchedBrowser } from '../support/browser';
import { startStaticServer, type StaticServer } from './engineHarness';

type PageModule = typeof import('./volumeMemoryPage');

let pageJs: string;
let server: StaticServer;
let launched: LaunchedBrowser;
let page: Page;

beforeAll(async () => {
  pageJs = await bundleForBrowser(`${__dirname}/volumeMemoryPage.ts`, 'volumePage');
  server = await startStaticServer(
    {
      '/': '<!doctype html><html><head><script src="/page.js"></script></head><body></body></html>',
      '/page.js': pageJs,
    },
    {},
  );
  launched = await launchChromium();
  page = await launched.browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
}, 120000);

afterAll(async () => {
  await page?.close();
  await launched?.close();
  await server?.close();
});

test('isolated page: shared memory, a helper worker, every written value kept', async () => {
  await page.goto(server.origin + '/');
  const r = await page.evaluate(async () => {
    const m = (globalThis as unknown as { volumePage: PageModule }).volumePage;
    const memory = m.createBrowserVolumeMemory(1 << 16)!;
    const small = await m.writeAndCheck(memory, 1000, 100); // under the threshold: plain
    const big = await m.writeAndCheck(memory, 24 << 20, 1 << 18); // 96 MB, written while touched
    const first = memory.stats();
    memory.close();
    const again = await m.writeAndCheck(memory, 1 << 20, 1 << 16); // a new helper after close
    return { can: m.canPrefault(), small, big, again, first, stats: memory.stats() };
  });
  expect(r.can).toBe(true);
  expect(r.small).toMatchObject({ buffer: 'ArrayBuffer', wrong: 0 });
  expect(r.big).toMatchObject({ buffer: 'SharedArrayBuffer', wrong: 0 });
  expect(r.again).toMatchObject({ buffer: 'SharedArrayBuffer', wrong: 0 });
  // the helper ended its pass over each large volume with its answer (not by failing)
  expect(r.first).toEqual({ passes: 1, lost: 0 });
  expect(r.stats).toEqual({ passes: 2, lost: 0 });
  expect(page.workers().some((w) => w.url().startsWith('blob:'))).toBe(true);
}, 120000);

test('a page that is not isolated: plain memory, values kept', async () => {
  await page.goto('about:blank');
  await page.addScriptTag({ content: pageJs });
  const r = await page.evaluate(async () => {
    const m = (globalThis as unknown as { volumePage: PageModule }).volumePage;
    return {
      isolated: crossOriginIsolated,
      can: m.canPrefault(),
      made: m.createBrowserVolumeMemory() !== null,
      read: await m.writeAndCheck(m.pageVolumeMemory(), 1 << 23, 1 << 18),
    };
  });
  expect(r).toMatchObject({ isolated: false, can: false, made: false });
  expect(r.read).toMatchObject({ buffer: 'ArrayBuffer', wrong: 0 });
}, 120000);
