/**
 * Registration of the extension and the Synthesis mode against @ohif/core's
 * real ExtensionManager, ServicesManager, CommandsManager and services
 * (PanelService, ToolbarService, CustomizationService, ...), wired the way
 * OHIF's appInit wires them. The mode's runtime lifecycle (tool groups,
 * toolbar) needs the viewer and is covered by test/viewer/viewer.test.ts.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOhifApp, loadOhifCore, type OhifCore } from '../../../../test/support/ohifCore';
import synthesisMode, {
  BASE_MODE,
  createModeInstance,
  extensionDependencies,
  isValidMode,
  modeFactory,
  ModeSetupError,
} from '../../../../modes/synthesis/src/index';
import { ManifestError } from '../model/manifest';
import { createPanels } from '../panels';
import { ConfigError } from './config';
import { createExtension, TOOLBAR_BUTTONS } from './extension';
import {
  COMMANDS,
  EVALUATORS,
  EXTENSION_ID,
  ISLAND_TAG,
  MODE_ID,
  MODE_ROUTE,
  PANEL_IDS,
  TOOLBAR_BUTTON_ID,
  TOOLBAR_BUTTONS_CUSTOMIZATION,
} from './ids';

let core: OhifCore;

beforeAll(() => {
  core = loadOhifCore();
});

const WORKER_URL = 'http://viewer.test/geometry-ldm/bundles/engine-worker.js';

async function registeredApp(geometryLdm: Record<string, unknown> = {}, fetchFn?: typeof fetch) {
  const app = createOhifApp(core, { geometryLdm });
  const extension = createExtension({
    createPanels,
    defaultWorkerUrl: WORKER_URL,
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
  // registerExtension (not registerExtensions, which logs and swallows errors) so failures surface.
  await app.extensionManager.registerExtension(extension, {}, []);
  return { ...app, extension };
}

describe('extension registration (real @ohif/core managers)', () => {
  it('registers under its id with both panels resolvable as `<id>.panelModule.<name>`', async () => {
    const { extensionManager, services } = await registeredApp();
    expect(extensionManager.getRegisteredExtensionIds()).toEqual([EXTENSION_ID]);
    for (const id of [PANEL_IDS.superResolve, PANEL_IDS.generate]) {
      const entry = extensionManager.getModuleEntry(id);
      expect(entry).toBeDefined();
      expect(typeof entry.component).toBe('function');
    }
    // What the mode route does with the layout's right panels.
    services.panelService.addPanels(services.panelService.PanelPosition.Right, [
      PANEL_IDS.superResolve,
      PANEL_IDS.generate,
    ]);
    const panels = services.panelService.getPanels('right');
    expect(panels.map((p: { id: string; label: string }) => [p.id, p.label])).toEqual([
      [PANEL_IDS.superResolve, 'Super-resolve'],
      [PANEL_IDS.generate, 'Generate'],
    ]);
    // The component OHIF renders with its own React returns the island element (a React 18 element).
    const element = panels[0].content({});
    expect(element.$$typeof).toBe(Symbol.for('react.element'));
    expect(element.type).toBe(ISLAND_TAG);
    expect(element.props['data-panel']).toBe('superResolve');
  });

  it('an unknown panel id is refused by the PanelService with a suggestion', async () => {
    const { services } = await registeredApp();
    expect(() => services.panelService.addPanel('right', `${EXTENSION_ID}.panelModule.superresolve`)).toThrow(
      /not a valid entry.*Did you mean/,
    );
  });

  it('commands: showPanel activates the panel through the PanelService; bad names are refused', async () => {
    const { commandsManager, services } = await registeredApp();
    const activated: unknown[] = [];
    services.panelService.subscribe(services.panelService.EVENTS.ACTIVATE_PANEL, (e: unknown) =>
      activated.push(e),
    );
    expect(commandsManager.runCommand(COMMANDS.showPanel, { panel: 'generate' })).toBe(PANEL_IDS.generate);
    expect(activated).toEqual([{ panelId: PANEL_IDS.generate, forceActive: true }]);
    expect(() => commandsManager.runCommand(COMMANDS.showPanel, { panel: 'segment' })).toThrow(
      /panel must be "generate" or "superResolve", got "segment"/,
    );
  });

  it('configuration comes from window.config.geometryLdm; wrong types fail registration by name', async () => {
    const { commandsManager } = await registeredApp({ modelUrl: '/models/x', preferWebGPU: false });
    expect(commandsManager.runCommand(COMMANDS.getConfig)).toEqual({
      modelUrl: '/models/x/',
      ortWasmUrl: '/geometry-ldm/ort/',
      workerUrl: WORKER_URL,
      preferWebGPU: false,
    });
    const withCodecs = await registeredApp({ codecWasmUrl: '/codecs' });
    expect(withCodecs.commandsManager.runCommand(COMMANDS.getConfig)).toMatchObject({
      codecWasmUrl: '/codecs/',
    });
    await expect(registeredApp({ codecWasmUrl: 7 })).rejects.toThrow(/geometryLdm.codecWasmUrl must be/);
    await expect(registeredApp({ modelUrl: 42 })).rejects.toThrow(ConfigError);
    await expect(registeredApp({ modelUrl: 42 })).rejects.toThrow(
      /geometryLdm.modelUrl must be a non-empty string, got 42/,
    );
  });

  it('the model card command reports an unreachable or invalid manifest and retries on the next call', async () => {
    let reply: { status: number; body: string } = { status: 404, body: 'not found' };
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(reply.body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
      const { commandsManager } = await registeredApp({ modelUrl: base });
      await expect(commandsManager.runCommand(COMMANDS.getModelCard)).rejects.toThrow(
        new RegExp(`could not load ${base}model.json: HTTP 404`),
      );
      reply = { status: 200, body: '{"schemaVersion": 1, "name": "x"}' };
      await expect(commandsManager.runCommand(COMMANDS.getModelCard)).rejects.toThrow(ManifestError);
      expect(requests).toEqual(['/m/model.json', '/m/model.json']);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it('toolbar: the evaluator is registered with the ToolbarService and the button is a default customization', async () => {
    const { extensionManager, services } = await registeredApp();
    services.customizationService.init(extensionManager);
    expect(services.customizationService.getCustomization(TOOLBAR_BUTTONS_CUSTOMIZATION)).toEqual(
      TOOLBAR_BUTTONS,
    );
    const button = TOOLBAR_BUTTONS[0];
    expect(button.id).toBe(TOOLBAR_BUTTON_ID);
    expect(button.props.evaluate).toBe(EVALUATORS.ctSeries);
    // Registered as the mode's toolbar does; the ToolbarService resolves the evaluator by name on refresh.
    services.toolbarService.register([button]);
    services.toolbarService.refreshToolbarState({});
    const { props } = services.toolbarService.getButton(TOOLBAR_BUTTON_ID);
    // No active viewport (so no CT series): disabled, with the reason in words.
    expect([props.disabled, props.disabledText]).toEqual([true, 'Select a viewport showing a CT series']);
  });
});

describe('Synthesis mode', () => {
  it('is valid for studies with CT only', () => {
    expect(isValidMode({ modalities: 'CT' }).valid).toBe(true);
    expect(isValidMode({ modalities: 'PT\\CT\\SEG' }).valid).toBe(true);
    expect(isValidMode({ modalities: 'MR\\SEG' })).toEqual({
      valid: false,
      description: 'Synthesis works on CT: the study has no CT series',
    });
    expect(isValidMode({ modalities: '' }).valid).toBe(false);
  });

  it('depends on the extension under the id it registers with', async () => {
    const { extensionManager } = await registeredApp();
    expect(synthesisMode.id).toBe(MODE_ID);
    expect(Object.keys(synthesisMode.extensionDependencies)).toContain(EXTENSION_ID);
    expect(extensionManager.getRegisteredExtensionIds()).toContain(EXTENSION_ID);
    expect(extensionDependencies).toBe(synthesisMode.extensionDependencies);
  });

  it('the route layout puts both panels right (open) and the study browser left', async () => {
    const base = {
      onModeEnter() {},
      onModeExit() {},
      extensions: { '@ohif/extension-default': '^3.0.0' },
      sopClassHandlers: ['@ohif/extension-default.sopClassHandlerModule.stack'],
    };
    const mode = createModeInstance(base);
    expect(mode.routeName).toBe(MODE_ROUTE);
    expect(mode.displayName).toBe('Synthesis');
    const layout = mode.routes[0].layoutTemplate();
    expect(layout.props.rightPanels).toEqual([PANEL_IDS.superResolve, PANEL_IDS.generate]);
    expect(layout.props.rightPanelClosed).toBe(false);
    expect(layout.props.leftPanels).toEqual(['@ohif/extension-default.panelModule.seriesList']);
    expect(layout.props.viewports[0].namespace).toBe(
      '@ohif/extension-cornerstone.viewportModule.cornerstone',
    );
    // A copy each time: OHIF may modify it.
    expect(mode.routes[0].layoutTemplate()).not.toBe(layout);
    // The right panels resolve through the real PanelService.
    const { services } = await registeredApp();
    services.panelService.addPanels('right', layout.props.rightPanels);
    expect(services.panelService.getPanels('right')).toHaveLength(2);
  });

  it('the mode factory names the missing OHIF base mode', async () => {
    const loadModules = async (names: string[]) => {
      throw new Error(`Failed to resolve module specifier "${names[0]}"`);
    };
    await expect(modeFactory({ loadModules })).rejects.toThrow(ModeSetupError);
    await expect(modeFactory({ loadModules })).rejects.toThrow(
      `The Synthesis mode needs OHIF's ${BASE_MODE} in the viewer build: Failed to resolve module specifier "${BASE_MODE}"`,
    );
    await expect(modeFactory({ loadModules: async () => [{ id: BASE_MODE }] })).rejects.toThrow(
      /has no modeInstance with onModeEnter\/onModeExit/,
    );
  });
});
