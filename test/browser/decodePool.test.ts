/**
 * The browser decode pool in chromium: the real decode-worker.js bundle (build-extension.mjs)
 * decodes the JPEG 2000 frames of totalseg-abdomen on one Web Worker per core, giving the
 * samples Node's in-place decode gives (SHA-256 per frame); a pool whose worker file is missing
 * still decodes every frame (in the page's thread).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
import { decodeFrame, type FrameInfo } from '../../extensions/geometry-ldm/src/dicom/decodeFrame';
import { bundleForBrowser, launchChromium, type LaunchedBrowser } from '../support/browser';
import { storedFrames } from '../support/storedFrames';
import { runScript } from '../viewer/stack';
import { startStaticServer, type StaticServer } from './engineHarness';

interface Frame {
  ts: string;
  info: FrameInfo;
  bytes: Buffer;
  sha256: string;
}

let frames: Frame[];
let bundles: string;
let server: StaticServer;
let launched: LaunchedBrowser;
let page: Page;

const hash = (a: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

beforeAll(async () => {
  frames = [];
  for (const { ts, info, bytes } of storedFrames('totalseg-abdomen')) {
    const stored = await decodeFrame(bytes, ts, info, defaultCodecs());
    frames.push({ ts, info, bytes: Buffer.from(bytes), sha256: hash(stored) });
  }
  bundles = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-bundles-'));
  runScript('platform-config/scripts/build-extension.mjs', ['--out', bundles, '--no-minify']);
  const pageJs = await bundleForBrowser(path.join(__dirname, 'decodePoolPage.ts'), 'decodePage', [
    'fs',
    'path',
  ]);
  const files: Record<string, string | Buffer> = {
    '/': '<!doctype html><html><head><script src="/page.js"></script></head><body></body></html>',
    '/page.js': pageJs,
  };
  frames.forEach((f, i) => (files[`/frames/${i}`] = f.bytes));
  server = await startStaticServer(files, { '/bundles/': bundles });
  launched = await launchChromium();
  page = await launched.browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(server.origin + '/');
}, 240000);

afterAll(async () => {
  await page?.close();
  await launched?.close();
  await server?.close();
  if (bundles) fs.rmSync(bundles, { recursive: true, force: true });
});

/** Decodes every frame in the page through pooledCodecs on `workerUrl`; SHA-256 of each result. */
async function decodeInPage(workerUrl: string): Promise<{ hashes: string[]; cores: number }> {
  const args = { workerUrl, frames: frames.map((f) => ({ ts: f.ts, info: f.info })) };
  return page.evaluate(async ({ workerUrl, frames }) => {
    const m = (globalThis as unknown as { decodePage: typeof import('./decodePoolPage') }).decodePage;
    const base = new URL('/bundles/', location.href).href;
    const pool = m.createBrowserDecodePool(new URL(workerUrl, location.href).href, base);
    const codecs = m.pooledCodecs(
      pool,
      m.defaultCodecs({
        openjpeg: { wasmUrl: `${base}openjpegwasm_decode.wasm` },
        charls: { wasmUrl: `${base}charlswasm_decode.wasm` },
      }),
    );
    const hex = (b: ArrayBuffer) =>
      [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    const hashes = await Promise.all(
      frames.map(async (f, i) => {
        const bytes = new Uint8Array(await (await fetch(`/frames/${i}`)).arrayBuffer());
        const s = await m.decodeFrame(bytes, f.ts, f.info, codecs, `frame ${i}`);
        return hex(
          await crypto.subtle.digest(
            'SHA-256',
            new Uint8Array(s.buffer as ArrayBuffer, s.byteOffset, s.byteLength),
          ),
        );
      }),
    );
    return { hashes, cores: navigator.hardwareConcurrency };
  }, args);
}

test('JPEG 2000 frames decoded on one worker per core: the same samples as Node in place', async () => {
  expect(frames.length).toBeGreaterThanOrEqual(8);
  expect(frames.every((f) => f.ts === '1.2.840.10008.1.2.4.90')).toBe(true);
  const { hashes, cores } = await decodeInPage('/bundles/decode-worker.js');
  expect(hashes).toEqual(frames.map((f) => f.sha256));
  const workers = page.workers().filter((w) => w.url().endsWith('/bundles/decode-worker.js'));
  expect(workers).toHaveLength(Math.min(cores, frames.length));
}, 120000);

test('a worker file that is missing: every frame still decodes, in the page', async () => {
  const before = page.workers().length;
  const { hashes } = await decodeInPage('/bundles/no-such-worker.js');
  expect(hashes).toEqual(frames.map((f) => f.sha256));
  expect(page.workers().length).toBe(before);
}, 120000);
