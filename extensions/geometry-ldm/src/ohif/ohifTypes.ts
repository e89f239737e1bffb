/**
 * The small part of OHIF's 3.13 service API the extension uses, typed
 * structurally (OHIF ships no type declarations). Everything is optional-safe:
 * a missing service degrades the panel, it never crashes the viewer.
 */
export interface Subscription {
  unsubscribe(): void;
}

export interface PubSub {
  readonly EVENTS?: Record<string, string>;
  subscribe?(event: string, callback: (...args: unknown[]) => void): Subscription;
}

/** Naturalized instance metadata as OHIF keeps it on a display set. */
export interface InstanceMetadata {
  readonly SOPInstanceUID?: string;
  readonly Rows?: number;
  readonly Columns?: number;
  readonly PixelSpacing?: readonly (number | string)[];
  readonly ImagePositionPatient?: readonly (number | string)[];
  readonly ImageOrientationPatient?: readonly (number | string)[];
  readonly SliceThickness?: number | string;
  readonly Modality?: string;
  readonly Manufacturer?: string;
  /** OHIF gives the values as an array (naturalized) or, from some sources, one backslash-joined string. */
  readonly ImageType?: readonly string[] | string;
}

export interface DisplaySet {
  readonly displaySetInstanceUID: string;
  readonly StudyInstanceUID?: string;
  readonly SeriesInstanceUID?: string;
  readonly SeriesDescription?: string;
  readonly SeriesNumber?: number | string;
  readonly Modality?: string;
  readonly isReconstructable?: boolean;
  readonly instances?: readonly InstanceMetadata[];
}

export interface DisplaySetService extends PubSub {
  getDisplaySetByUID(uid: string): DisplaySet | undefined;
  getActiveDisplaySets(): DisplaySet[];
}

export interface ViewportGridState {
  readonly activeViewportId?: string | null;
  readonly viewports?: Map<string, { displaySetInstanceUIDs?: readonly string[] }>;
}

export interface ViewportGridService extends PubSub {
  getState(): ViewportGridState;
  getActiveViewportId?(): string | null;
  getDisplaySetsUIDsForViewport?(viewportId: string): string[] | undefined;
}

export interface PanelService extends PubSub {
  activatePanel?(panelId: string, forceActive?: boolean): void;
}

export interface UINotificationService {
  show?(options: { title?: string; message: string; type?: string; duration?: number }): void;
}

export interface OhifServices {
  readonly displaySetService?: DisplaySetService;
  readonly viewportGridService?: ViewportGridService;
  readonly panelService?: PanelService;
  readonly uiNotificationService?: UINotificationService;
  readonly toolbarService?: {
    register(buttons: unknown[], replace?: boolean): void;
    updateSection(key: string, buttons: string[]): void;
  };
  readonly [name: string]: unknown;
}

export interface ServicesManager {
  readonly services: OhifServices;
}

export interface CommandsManager {
  runCommand(name: string, options?: Record<string, unknown>, contextName?: string): unknown;
}

export interface ExtensionParams {
  readonly servicesManager: ServicesManager;
  readonly commandsManager: CommandsManager;
  readonly extensionManager?: unknown;
  readonly appConfig?: Record<string, unknown>;
  readonly configuration?: Record<string, unknown>;
}
