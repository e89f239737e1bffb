#!/usr/bin/env node
/**
 * Fetches the prebuilt OHIF viewer (`@ohif/app`'s `dist/`) into a git-ignored
 * cache: `npm pack @ohif/app@<version>` (the package cannot be `npm install`ed:
 * it depends on an @ohif/i18n version that was never published), then extracts
 * only `package/dist`. Idempotent: nothing happens when the viewer is already
 * there. OHIF's files are never modified; the server writes our app-config.js
 * and injects the import map into index.html on the fly.
 *
 *   node platform-config/scripts/fetch-viewer.mjs            # prints the dist directory
 *   OHIF_VERSION=3.13.2 OHIF_CACHE_DIR=/some/dir node ...   # overrides
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PLATFORM_DIR = path.resolve(here, '..');
export const OHIF_VERSION = process.env.OHIF_VERSION ?? '3.13.2';
export const CACHE_DIR = process.env.OHIF_CACHE_DIR ?? path.join(PLATFORM_DIR, '.cache');

/** Directory holding the extracted viewer (index.html, app bundle, chunks, wasm). */
export function viewerDistDir(version = OHIF_VERSION, cacheDir = CACHE_DIR) {
  return path.join(cacheDir, `ohif-app-${version}`, 'dist');
}

/**
 * Makes sure the viewer is extracted; returns its dist directory.
 * @param {{ version?: string, cacheDir?: string, log?: (msg: string) => void }} [options]
 */
export function fetchViewer(options = {}) {
  const version = options.version ?? OHIF_VERSION;
  const cacheDir = options.cacheDir ?? CACHE_DIR;
  const log = options.log ?? ((m) => console.error(m));
  const root = path.join(cacheDir, `ohif-app-${version}`);
  const dist = path.join(root, 'dist');
  const marker = path.join(root, '.complete');
  if (fs.existsSync(marker) && fs.existsSync(path.join(dist, 'index.html'))) return dist;

  fs.mkdirSync(cacheDir, { recursive: true });
  const tarball = path.join(cacheDir, `ohif-app-${version}.tgz`);
  if (!fs.existsSync(tarball)) {
    log(`fetching @ohif/app@${version} from the npm registry (about 50 MB) ...`);
    const out = execFileSync(
      'npm',
      ['pack', `@ohif/app@${version}`, '--silent', '--pack-destination', cacheDir],
      { cwd: cacheDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const name = out.trim().split('\n').pop();
    const packed = path.join(cacheDir, name ?? '');
    if (!name || !fs.existsSync(packed)) throw new Error(`npm pack produced no tarball (${out.trim()})`);
    if (packed !== tarball) fs.renameSync(packed, tarball);
  }

  // Extract into a temporary directory, then rename: an interrupted run leaves no half viewer.
  const tmp = `${root}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  log(`extracting package/dist of ${path.basename(tarball)} ...`);
  execFileSync('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1', 'package/dist'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!fs.existsSync(path.join(tmp, 'dist', 'index.html'))) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${tarball} has no package/dist/index.html`);
  }
  fs.writeFileSync(path.join(tmp, '.complete'), `${version}\n`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(tmp, root);
  fs.rmSync(tarball, { force: true }); // 50 MB no longer needed
  return dist;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(fetchViewer());
}
