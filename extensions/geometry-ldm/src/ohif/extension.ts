/**
 * The OHIF 3.13 extension object, built by `createExtension` so that the
 * bundle entry (src/index.ts) supplies what only it knows (the panels, the
 * worker URL next to the bundle) and unit tests get a fresh instance each.
 *
 * Modules:
 * - panels `generate` and `superResolve` (`<id>.panelModule.<name>`), each an
 *   island of the extension's own React (island.ts);
 * - commands: show a panel, the model card, the resolved configuration;
 * - toolbar: an evaluator that enables the "Super-resolve" button only on a
 *   CT viewport; the button itself is a default-scope customization the
 *   Synthesis mode references (OHIF 3.13's toolbar composition);
 * - on every mode entry, a viewport overlay item that marks images this
 *   product wrote "AI-generated — NOT FOR DIAGNOSTIC USE" (viewportOverlay.ts),
 *   and one that marks a result shown from memory as not saved yet;
 * - on mode exit, the results shown from memory are released (localSeries.ts).
 */
import type { ComponentType } from 'react';
import { loadManifest } from '../model/manifest';
import { manifestUrl, resolveConfig, type GeometryLdmConfig } from './config';
import {
  COMMANDS,
  EVALUATORS,
  EXTENSION_ID,
  PANEL_IDS,
  PANEL_NAMES,
  TOOLBAR_BUTTON_ID,
  TOOLBAR_BUTTONS_CUSTOMIZATION,
  type PanelName,
} from './ids';
import { defineIslandElement, islandComponent, unmountIslands, type HostComponent } from './island';
import { releaseAllLocalSeries } from './localSeries';
import type { CommandsManager, ServicesManager } from './ohifTypes';
import { registerViewportOverlay } from './viewportOverlay';

/** What the panels receive (the closure of getPanelModule). */
export interface PanelDeps {
  readonly servicesManager: ServicesManager;
  readonly commandsManager: CommandsManager;
  readonly extensionManager: unknown;
  readonly config: GeometryLdmConfig;
}

export type CreatePanels = (deps: PanelDeps) => {
  readonly generate: ComponentType;
  readonly superResolve: ComponentType;
};

export interface ModelCard {
  readonly name: string;
  readonly version: string;
  readonly intendedUse: string;
  readonly licence: string;
  readonly description?: string;
}

export interface ExtensionOptions {
  readonly createPanels: CreatePanels;
  /** The worker URL when the configuration names none. */
  readonly defaultWorkerUrl: string;
  readonly fetch?: typeof fetch;
}

interface ModuleParams {
  readonly servicesManager: ServicesManager;
  readonly commandsManager: CommandsManager;
  readonly extensionManager?: unknown;
  readonly appConfig?: Record<string, unknown>;
  readonly configuration?: unknown;
}

export interface PanelEntry {
  readonly name: PanelName;
  readonly iconName: string;
  readonly iconLabel: string;
  readonly label: string;
  readonly component: HostComponent;
}

export interface ToolbarButton {
  readonly id: string;
  readonly uiType: 'ohif.toolButton';
  readonly props: {
    readonly icon: string;
    readonly label: string;
    readonly tooltip: string;
    readonly commands: { readonly commandName: string; readonly commandOptions: Record<string, unknown> };
    readonly evaluate: string;
  };
}

export const TOOLBAR_BUTTONS: readonly ToolbarButton[] = [
  {
    id: TOOLBAR_BUTTON_ID,
    uiType: 'ohif.toolButton',
    props: {
      icon: 'icon-tool-loupe',
      label: 'Super-resolve',
      tooltip: 'Super-resolve the series in the active viewport (geometry-ldm, research use)',
      commands: { commandName: COMMANDS.showPanel, commandOptions: { panel: PANEL_NAMES.superResolve } },
      evaluate: EVALUATORS.ctSeries,
    },
  },
];

const PANEL_META: Record<PanelName, Omit<PanelEntry, 'component' | 'name'>> = {
  superResolve: { iconName: 'icon-tool-loupe', iconLabel: 'Super-resolve', label: 'Super-resolve' },
  generate: { iconName: 'tool-3d-rotate', iconLabel: 'Generate', label: 'Generate' },
};

function notify(servicesManager: ServicesManager | undefined, message: string): void {
  servicesManager?.services.uiNotificationService?.show?.({
    title: 'Synthesis (geometry-ldm)',
    message,
    type: 'error',
    duration: 10000,
  });
}

export function createExtension(options: ExtensionOptions) {
  let config: GeometryLdmConfig | null = null;
  let modelCard: Promise<ModelCard> | null = null;

  const requireConfig = (): GeometryLdmConfig => {
    if (!config) throw new Error(`${EXTENSION_ID}: preRegistration has not run (no configuration)`);
    return config;
  };

  const getModelCard = (): Promise<ModelCard> => {
    if (!modelCard) {
      const url = manifestUrl(requireConfig());
      modelCard = loadManifest(url, options.fetch ?? fetch).then(
        (m) => ({
          name: m.name,
          version: m.version,
          intendedUse: m.intendedUse,
          licence: m.licence,
          ...(m.description ? { description: m.description } : {}),
        }),
        (e: unknown) => {
          modelCard = null; // a later call retries (the server may come back)
          throw e;
        },
      );
    }
    return modelCard;
  };

  return {
    id: EXTENSION_ID,

    preRegistration({ servicesManager, appConfig, configuration }: ModuleParams): void {
      try {
        config = resolveConfig(appConfig?.geometryLdm, configuration, options.defaultWorkerUrl);
      } catch (e) {
        // Shown once OHIF's notification UI is up; OHIF also logs the thrown error and skips the extension.
        notify(servicesManager, `The viewer configuration is wrong: ${(e as Error).message}`);
        throw e;
      }
      defineIslandElement();
    },

    /** Every mode entry (OHIF calls it for all registered extensions): the viewport warning overlay. */
    onModeEnter({ servicesManager }: { servicesManager?: ServicesManager }): void {
      registerViewportOverlay(servicesManager?.services.customizationService);
    },

    onModeExit(): void {
      unmountIslands();
      // unsaved results shown from memory: their Blob URLs and cached images
      releaseAllLocalSeries();
    },

    getPanelModule({ servicesManager, commandsManager, extensionManager }: ModuleParams): PanelEntry[] {
      const panels = options.createPanels({
        servicesManager,
        commandsManager,
        extensionManager,
        config: requireConfig(),
      });
      return (Object.keys(PANEL_META) as PanelName[]).map((name) => ({
        name,
        ...PANEL_META[name],
        component: islandComponent(name, panels[name]),
      }));
    },

    getCommandsModule({ servicesManager }: ModuleParams) {
      return {
        defaultContext: 'GEOMETRY_LDM',
        definitions: {
          [COMMANDS.showPanel]: {
            commandFn: ({ panel }: { panel?: unknown }) => {
              if (panel !== PANEL_NAMES.generate && panel !== PANEL_NAMES.superResolve) {
                throw new TypeError(
                  `${COMMANDS.showPanel}: panel must be "generate" or "superResolve", got ${JSON.stringify(panel)}`,
                );
              }
              servicesManager.services.panelService?.activatePanel?.(PANEL_IDS[panel], true);
              return PANEL_IDS[panel];
            },
          },
          [COMMANDS.getModelCard]: { commandFn: () => getModelCard() },
          [COMMANDS.getConfig]: { commandFn: () => requireConfig() },
        },
      };
    },

    getToolbarModule({ servicesManager }: ModuleParams) {
      return [
        {
          name: EVALUATORS.ctSeries,
          evaluate: ({ viewportId }: { viewportId?: string }) => {
            const { viewportGridService, displaySetService } = servicesManager.services;
            let isCt = false;
            try {
              const uids = viewportId
                ? (viewportGridService?.getDisplaySetsUIDsForViewport?.(viewportId) ?? [])
                : [];
              isCt = uids.some((uid) => displaySetService?.getDisplaySetByUID(uid)?.Modality === 'CT');
            } catch {
              // A viewport grid not ready yet: the button stays disabled rather than breaking the toolbar.
            }
            return isCt
              ? { disabled: false }
              : { disabled: true, disabledText: 'Select a viewport showing a CT series' };
          },
        },
      ];
    },

    getCustomizationModule() {
      return [{ name: 'default', value: { [TOOLBAR_BUTTONS_CUSTOMIZATION]: TOOLBAR_BUTTONS } }];
    },
  };
}

export type GeometryLdmExtension = ReturnType<typeof createExtension>;
