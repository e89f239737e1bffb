/**
 * OHIF ids of the geometry-ldm extension and the Synthesis mode. OHIF's
 * convention: the extension id is its package name (it is also the module
 * specifier the import map resolves), modules are `<extension id>.<module
 * type>.<name>`.
 */
export const EXTENSION_ID = '@geometry-ldm/extension';
export const MODE_ID = '@geometry-ldm/mode-synthesis';
/** The mode's route: `/synthesis?StudyInstanceUIDs=...`. */
export const MODE_ROUTE = 'synthesis';

export const PANEL_NAMES = { generate: 'generate', superResolve: 'superResolve' } as const;
export type PanelName = (typeof PANEL_NAMES)[keyof typeof PANEL_NAMES];

export const PANEL_IDS = {
  generate: `${EXTENSION_ID}.panelModule.${PANEL_NAMES.generate}`,
  superResolve: `${EXTENSION_ID}.panelModule.${PANEL_NAMES.superResolve}`,
} as const;

export const COMMANDS = {
  showPanel: 'geometryLdmShowPanel',
  getModelCard: 'geometryLdmGetModelCard',
  getConfig: 'geometryLdmGetConfig',
} as const;

export const TOOLBAR_BUTTON_ID = 'GeometryLdm';
/** Customization (default scope) holding the toolbar button definitions; the mode references it. */
export const TOOLBAR_BUTTONS_CUSTOMIZATION = 'geometryLdm.toolbarButtons';
export const EVALUATORS = { ctSeries: 'evaluate.geometryLdm.ctSeries' } as const;

/** The custom element the panel islands render into (see island.ts). */
export const ISLAND_TAG = 'geometry-ldm-panel';
