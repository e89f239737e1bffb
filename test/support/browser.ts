/**
 * Debian chromium driven by playwright-core (never a downloaded browser), with
 * the flags that work on these machines.
 */
import * as fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'esbuild';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(options: { webgpu?: boolean } = {}): Promise<LaunchedBrowser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (.ci/run does)`);
  }
  // playwright's launch() always starts from a fresh temporary profile (no service workers, no cache).
  const args = [...BASE_FLAGS];
  if (options.webgpu) args.push('--enable-unsafe-webgpu');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/**
 * Bundles a TS entry as an IIFE script exposing its exports on `globalThis[globalName]`.
 * `external`: modules left as runtime requires a browser never reaches (the emscripten codecs'
 * Node-only `fs` / `path`).
 */
export async function bundleForBrowser(
  entry: string,
  globalName: string,
  external: string[] = [],
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName,
    external,
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}
