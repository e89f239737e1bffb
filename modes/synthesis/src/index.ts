/**
 * OHIF mode "Synthesis" (`/synthesis?StudyInstanceUIDs=...`): study browser on
 * the left, the cornerstone viewport grid, the geometry-ldm Super-resolve and
 * Generate panels on the right. Valid for studies with a CT series.
 *
 * Everything else (tool groups, the cornerstone toolbar, SOP class handlers,
 * viewports, cleanup on exit) is OHIF's own basic mode's, loaded at runtime
 * through `loadModules` the way OHIF's longitudinal mode builds on it at
 * compile time: the viewer keeps OHIF's maintained behaviour and this mode
 * states only what differs.
 */
import {
  EXTENSION_ID,
  MODE_ID,
  MODE_ROUTE,
  PANEL_IDS,
  TOOLBAR_BUTTON_ID,
  TOOLBAR_BUTTONS_CUSTOMIZATION,
} from '../../../extensions/geometry-ldm/src/ohif/ids';

export const OHIF_IDS = {
  layout: '@ohif/extension-default.layoutTemplateModule.viewerLayout',
  sopClassHandler: '@ohif/extension-default.sopClassHandlerModule.stack',
  studyBrowser: '@ohif/extension-default.panelModule.seriesList',
  viewport: '@ohif/extension-cornerstone.viewportModule.cornerstone',
} as const;

/** The OHIF mode whose lifecycle this one reuses. */
export const BASE_MODE = '@ohif/mode-basic';

/**
 * OHIF's basic mode's dependencies (its cornerstone toolbar evaluates buttons
 * with functions of the SEG/SR/... extensions) plus this extension.
 */
export const extensionDependencies: Record<string, string> = {
  '@ohif/extension-default': '^3.0.0',
  '@ohif/extension-cornerstone': '^3.0.0',
  '@ohif/extension-cornerstone-dicom-sr': '^3.0.0',
  '@ohif/extension-cornerstone-dicom-seg': '^3.0.0',
  '@ohif/extension-cornerstone-dicom-pmap': '^3.0.0',
  '@ohif/extension-cornerstone-dicom-rt': '^3.0.0',
  '@ohif/extension-dicom-pdf': '^3.0.1',
  '@ohif/extension-dicom-video': '^3.0.1',
  [EXTENSION_ID]: '^0.1.0',
};

export class ModeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModeSetupError';
  }
}

export interface ValidModeResult {
  readonly valid: boolean;
  readonly description: string;
}

/** `modalities` is the study's ModalitiesInStudy as OHIF passes it: values joined by backslashes. */
export function isValidMode({ modalities }: { modalities?: string }): ValidModeResult {
  const list = (modalities ?? '').split('\\').map((m) => m.trim().toUpperCase());
  return list.includes('CT')
    ? { valid: true, description: 'The study has a CT series' }
    : { valid: false, description: 'Synthesis works on CT: the study has no CT series' };
}

export interface ViewportEntry {
  readonly namespace: string;
  readonly displaySetsToDisplay: readonly string[];
}

/** Study browser left, the two panels right (open), the given viewports (basic's: cornerstone first). */
export function layoutFor(viewports: readonly ViewportEntry[]) {
  return {
    id: OHIF_IDS.layout,
    props: {
      leftPanels: [OHIF_IDS.studyBrowser],
      leftPanelResizable: true,
      rightPanels: [PANEL_IDS.superResolve, PANEL_IDS.generate],
      rightPanelClosed: false,
      rightPanelResizable: true,
      viewports,
    },
  };
}

/** Used when the base mode names no viewports: the cornerstone viewport for image stacks. */
export const DEFAULT_VIEWPORTS: readonly ViewportEntry[] = [
  { namespace: OHIF_IDS.viewport, displaySetsToDisplay: [OHIF_IDS.sopClassHandler] },
];

type LifecycleArgs = {
  servicesManager: { services: Record<string, unknown> };
  [key: string]: unknown;
};

/** The parts of OHIF's basic mode instance this mode reuses. */
export interface BaseModeInstance {
  onModeEnter(this: unknown, args: LifecycleArgs): void;
  onModeExit(this: unknown, args: LifecycleArgs): void;
  extensions?: Record<string, string>;
  sopClassHandlers?: readonly string[];
  routes?: readonly { layoutInstance?: { props?: { viewports?: readonly ViewportEntry[] } } }[];
  initToolGroups?: unknown;
  toolGroupAdditions?: unknown;
  modeCustomizations?: unknown;
  validationTags?: unknown;
}

interface ToolbarServiceLike {
  updateSection(key: string, buttons: string[]): void;
}

export function createModeInstance(base: BaseModeInstance) {
  const layoutInstance = layoutFor(base.routes?.[0]?.layoutInstance?.props?.viewports ?? DEFAULT_VIEWPORTS);
  return {
    id: MODE_ID,
    routeName: MODE_ROUTE,
    displayName: 'Synthesis',
    hide: false,
    isValidMode,
    routes: [
      {
        path: MODE_ROUTE,
        layoutInstance,
        // OHIF may mutate what this returns: hand out a copy.
        layoutTemplate: () => JSON.parse(JSON.stringify(layoutInstance)) as typeof layoutInstance,
      },
    ],
    extensions: { ...base.extensions, ...extensionDependencies },
    hangingProtocol: 'default',
    sopClassHandlers: base.sopClassHandlers ?? [OHIF_IDS.sopClassHandler],
    // Resolved by OHIF's customization service: the cornerstone buttons plus the extension's own.
    toolbarButtons: [
      { $reference: 'cornerstone.toolbarButtons' },
      { $reference: TOOLBAR_BUTTONS_CUSTOMIZATION },
    ],
    toolbarSections: [{ $reference: 'cornerstone.toolbarSections' }],
    toolGroupAdditions: base.toolGroupAdditions,
    initToolGroups: base.initToolGroups,
    modeCustomizations: base.modeCustomizations,
    validationTags: base.validationTags,
    activatePanelTriggers: [],
    onModeEnter(this: unknown, args: LifecycleArgs): void {
      base.onModeEnter.call(this, args);
      // updateSection appends: the button goes after the cornerstone tools.
      (args.servicesManager.services.toolbarService as ToolbarServiceLike).updateSection('primary', [
        TOOLBAR_BUTTON_ID,
      ]);
    },
    onModeExit(this: unknown, args: LifecycleArgs): void {
      base.onModeExit.call(this, args);
    },
  };
}

export type SynthesisModeInstance = ReturnType<typeof createModeInstance>;

type LoadModules = (names: string[]) => Promise<unknown[]>;

export async function modeFactory({
  loadModules,
}: {
  loadModules: LoadModules;
}): Promise<SynthesisModeInstance> {
  let basic: unknown;
  try {
    [basic] = await loadModules([BASE_MODE]);
  } catch (e) {
    throw new ModeSetupError(
      `The Synthesis mode needs OHIF's ${BASE_MODE} in the viewer build: ${(e as Error).message}`,
    );
  }
  const base = (basic as { modeInstance?: BaseModeInstance } | undefined)?.modeInstance;
  if (typeof base?.onModeEnter !== 'function' || typeof base.onModeExit !== 'function') {
    throw new ModeSetupError(
      `${BASE_MODE} has no modeInstance with onModeEnter/onModeExit (OHIF 3.13 expected)`,
    );
  }
  return createModeInstance(base);
}

const mode = { id: MODE_ID, modeFactory, extensionDependencies };
export default mode;
