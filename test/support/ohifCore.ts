/**
 * Loads the real @ohif/core (3.13, prebuilt UMD) in jest for registration
 * tests. Two adaptations, neither touching OHIF's behaviour:
 * - its peers @cornerstonejs/core and /metadata ship only ES modules, which
 *   jest's CommonJS runtime cannot require: esbuild bundles @ohif/core with
 *   them into one CommonJS file (cached under node_modules/.cache, rebuilt
 *   when a version changes);
 * - the bundle touches a few browser globals (at load time Mousetrap binds keys
 *   on `document` and reads `navigator`, webpack's runtime uses `self`; every
 *   service event is also dispatched on `document.body`), so minimal ones are
 *   defined first (`document.body` is a real EventTarget). Nothing else of the
 *   DOM is emulated.
 */
import { buildSync } from 'esbuild';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..');
const PACKAGES = ['@ohif/core', '@cornerstonejs/core', '@cornerstonejs/metadata'];

function versionKey(): string {
  return PACKAGES.map((p) => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'node_modules', p, 'package.json'), 'utf8'));
    return `${p.replace(/[@/]/g, '')}-${pkg.version as string}`;
  }).join('_');
}

function bundledCore(): string {
  const dir = join(REPO, 'node_modules', '.cache', 'geometry-ldm-ohif-core');
  const file = join(dir, `${versionKey()}.cjs`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  buildSync({
    stdin: { contents: 'module.exports = require("@ohif/core");', resolveDir: REPO },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: file,
    logLevel: 'error',
  });
  return file;
}

function defineBrowserGlobals(): void {
  const g = globalThis as unknown as Record<string, unknown>;
  g.window ??= globalThis;
  g.self ??= globalThis;
  g.navigator ??= { platform: 'Linux x86_64', userAgent: 'node', language: 'en-US' };
  g.document ??= {
    addEventListener() {},
    removeEventListener() {},
    documentElement: { style: {} },
    body: new EventTarget(),
    createElement: () => ({ style: {}, setAttribute() {}, appendChild() {} }),
  };
}

// The UMD has no type declarations: typed loosely, exercised through its real behaviour.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OhifCore = any;

export function loadOhifCore(): OhifCore {
  defineBrowserGlobals();
  return require(bundledCore());
}

/** Managers and services wired as OHIF's appInit does (the services a viewer registers first). */
export function createOhifApp(core: OhifCore, appConfig: Record<string, unknown> = {}) {
  const commandsManager = new core.CommandsManager({});
  const servicesManager = new core.ServicesManager(commandsManager);
  const extensionManager = new core.ExtensionManager({ commandsManager, servicesManager, appConfig });
  servicesManager.setExtensionManager(extensionManager);
  servicesManager.registerServices([
    core.UINotificationService.REGISTRATION,
    core.DisplaySetService.REGISTRATION,
    [core.CustomizationService.REGISTRATION, {}],
    core.ToolbarService.REGISTRATION,
    core.ViewportGridService.REGISTRATION,
    core.PanelService.REGISTRATION,
  ]);
  return { commandsManager, servicesManager, extensionManager, services: servicesManager.services };
}
