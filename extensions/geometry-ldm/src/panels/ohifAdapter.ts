/**
 * Everything the panels do with OHIF 3.13 at runtime, behind one small
 * interface, typed structurally (OHIF ships no declarations) and defensive:
 * a service that is missing degrades a feature, it never throws into React.
 *
 * Display: a result is shown in the viewports as soon as it is computed, from
 * memory (`addLocalSeries`, ../ohif/localSeries.ts: the derived series' Part 10
 * instances as Blobs read by the host's own `wadouri` image loader, display
 * sets made by OHIF's SOP class handlers; nothing is written to the PACS), and
 * marked unsaved. Saving stores it (STOW); then the data source's cached study
 * metadata is dropped and the new series' metadata fetched
 * (`retrieve.series.metadata` filtered on the new series), which fires OHIF's
 * own INSTANCES_ADDED -> display sets -> study browser path, and the stored
 * series replace the in-memory ones. Either way the source and the result are
 * laid out side by side (1 x 2) in volume viewports with a shared
 * camera-position sync group (synchronised scrolling, pan and zoom: both are
 * in the same frame of reference), and the std series fused over the result
 * with a colour map (OHIF's fusion path: two display sets in one volume
 * viewport with displaySetOptions colormap).
 */
import {
  addLocalSeries,
  isUnsavedSeries,
  type CornerstoneLike,
  type DisplaySetServiceLike,
  type LocalSeries,
} from '../ohif/localSeries';
import type { DisplaySet, OhifServices, Subscription } from '../ohif/ohifTypes';

export interface ViewportSpec {
  readonly displaySetInstanceUIDs: string[];
  readonly displaySetOptions: Record<string, unknown>[];
  readonly viewportOptions: Record<string, unknown>;
}

interface DataSourceLike {
  getConfig?(): { wadoRoot?: string; qidoRoot?: string; name?: string } | undefined;
  deleteStudyMetadataPromise?(studyInstanceUid: string): void;
  retrieve?: {
    series?: {
      metadata?(args: {
        StudyInstanceUID: string;
        filters?: { seriesInstanceUID?: string[] };
        madeInClient?: boolean;
      }): Promise<unknown>;
    };
  };
}

interface RuntimeServices extends OhifServices {
  readonly displaySetService?: OhifServices['displaySetService'] & {
    getDisplaySetsForSeries?(seriesInstanceUid: string): DisplaySet[];
  };
  readonly viewportGridService?: OhifServices['viewportGridService'] & {
    setLayout?(args: {
      numRows: number;
      numCols: number;
      findOrCreateViewport: (
        position: number,
        positionId: string,
        options: Record<string, unknown>,
      ) => unknown;
      activeViewportId?: string;
    }): Promise<void> | void;
    setDisplaySetsForViewports?(viewports: unknown[]): Promise<void> | void;
    getActiveViewportId?(): string | undefined;
  };
  readonly cornerstoneViewportService?: {
    getCornerstoneViewport?(viewportId: string): CornerstoneViewportLike | null | undefined;
  };
  readonly userAuthenticationService?: {
    getAuthorizationHeader?(): Record<string, string> | undefined;
  };
}

export interface OhifDeps {
  readonly servicesManager: unknown;
  readonly commandsManager: unknown;
  readonly extensionManager: unknown;
}

export interface Notification {
  readonly title: string;
  readonly message: string;
  readonly type: 'error' | 'warning' | 'info' | 'success';
}

export interface OhifAdapter {
  /** Image display sets of the open study/studies, in OHIF's order. */
  listDisplaySets(): DisplaySet[];
  getDisplaySet(uid: string): DisplaySet | undefined;
  /** The first display set of the active viewport. */
  activeDisplaySetUid(): string | null;
  /** Calls `onChange` when display sets or the active viewport change. */
  subscribe(onChange: () => void): () => void;
  notify(n: Notification): void;
  /** DICOMweb root of the active data source (absolute); null when none is configured. */
  dicomWebRoot(): string | null;
  /** Authorization header of OHIF's user authentication (empty without OIDC). */
  authorizationHeaders(): Record<string, string>;
  /** Makes OHIF fetch the metadata of newly stored series and waits for their display sets. */
  loadSeries(
    studyInstanceUid: string,
    seriesInstanceUids: readonly string[],
    timeoutMs?: number,
  ): Promise<string[]>;
  /** Source | result side by side with synchronised cameras; std fused over the result if given. */
  showSideBySide(args: {
    sourceUid: string;
    resultUid: string;
    stdUid?: string;
    stdWindow?: { center: number; width: number };
  }): Promise<void>;
  /**
   * Puts one series held in memory (its Part 10 instances) into the viewer, unsaved; resolves
   * once its images are loaded and its display set exists. `release()` takes it out again.
   */
  addLocalSeries(instances: readonly { readonly bytes: Uint8Array }[]): Promise<LocalSeries>;
}

/** OHIF 3.13's Cornerstone extension hands its Cornerstone to other extensions through this utility module. */
export const CORNERSTONE_UTILITY_MODULE = '@ohif/extension-cornerstone.utilityModule.common';

/** The host's Cornerstone (the instance OHIF renders with), or null. */
export function hostCornerstone(deps: OhifDeps): CornerstoneLike | null {
  const em = deps.extensionManager as { getModuleEntry?: (id: string) => unknown } | null;
  try {
    const entry = em?.getModuleEntry?.(CORNERSTONE_UTILITY_MODULE) as
      { exports?: { getCornerstoneLibraries?: () => { cornerstone?: CornerstoneLike } } } | undefined;
    return entry?.exports?.getCornerstoneLibraries?.()?.cornerstone ?? null;
  } catch {
    return null;
  }
}

interface CornerstoneViewportLike {
  readonly element?: {
    addEventListener(type: string, l: (e: Event) => void): void;
    removeEventListener(type: string, l: (e: Event) => void): void;
  };
  getProperties?(volumeId?: string): { voiRange?: { lower: number; upper: number } } | undefined;
  setProperties?(props: { voiRange: { lower: number; upper: number } }, volumeId?: string): void;
  getActors?(): { uid: string; referencedId?: string }[];
  render?(): void;
}

/** Cornerstone's Enums.Events.VOI_MODIFIED. */
const VOI_MODIFIED = 'CORNERSTONE_VOI_MODIFIED';

/**
 * OHIF's viewport overlay shows the range of the LAST VOI_MODIFIED event of the viewport, whatever
 * layer sent it: with the std map fused over the result it showed the std's window (W:19 L:10)
 * while the image is shown in another. Once both layers are up, and again after each event of
 * another layer for a while (volumes arrive late from a PACS), the grey layer's own range is set
 * again, so that the last event, and the overlay, are the grey image's.
 */
async function keepGreyWindowShown(
  getViewport: () => CornerstoneViewportLike | null | undefined,
  layers: number,
  /** The grey layer's display set: its volume id contains it (not the viewport this one replaces). */
  greyDisplaySetUid: string,
  { waitMs = 15000, watchMs = 20000 } = {},
): Promise<void> {
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    const vp = getViewport();
    const actors = vp?.getActors?.() ?? [];
    const greyId = actors[0] ? (actors[0].referencedId ?? actors[0].uid) : undefined;
    if (
      vp &&
      greyId &&
      greyId.includes(greyDisplaySetUid) &&
      actors.length >= layers &&
      vp.getProperties?.(greyId)?.voiRange
    ) {
      const reassert = (): void => {
        const range = vp.getProperties?.(greyId)?.voiRange;
        if (!range) return;
        vp.setProperties?.({ voiRange: { lower: range.lower, upper: range.upper } }, greyId);
        vp.render?.();
      };
      const onVoi = (e: Event): void => {
        const id = (e as CustomEvent<{ volumeId?: string }>).detail?.volumeId;
        if (id && id !== greyId) setTimeout(reassert, 0);
      };
      vp.element?.addEventListener(VOI_MODIFIED, onVoi);
      setTimeout(() => vp.element?.removeEventListener(VOI_MODIFIED, onVoi), watchMs);
      reassert();
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function services(deps: OhifDeps): RuntimeServices {
  return ((deps.servicesManager as { services?: RuntimeServices } | null)?.services ?? {}) as RuntimeServices;
}

function activeDataSource(deps: OhifDeps): DataSourceLike | null {
  const em = deps.extensionManager as { getActiveDataSource?: () => DataSourceLike[] | undefined } | null;
  try {
    return em?.getActiveDataSource?.()?.[0] ?? null;
  } catch {
    return null;
  }
}

const IMAGE_MODALITIES_EXCLUDED = new Set(['SR', 'SEG', 'RTSTRUCT', 'PR', 'KO', 'DOC', 'RTPLAN', 'RTDOSE']);

export const SYNC_GROUP_ID = 'geometryLdmSync';

/**
 * Drops the data source's cached metadata promise of a study. OHIF 3.13's
 * DICOMweb data source caches it under `<data source name>:<StudyInstanceUID>`
 * but its deleteStudyMetadataPromise(uid) deletes the key `<uid>` (a no-op
 * for that cache), so both keys are passed; either is harmless when absent.
 */
export function forgetStudyMetadata(dataSource: DataSourceLike, studyInstanceUid: string): void {
  const name = dataSource.getConfig?.()?.name;
  dataSource.deleteStudyMetadataPromise?.(studyInstanceUid);
  if (name) dataSource.deleteStudyMetadataPromise?.(`${name}:${studyInstanceUid}`);
}

/**
 * Display options of the std overlay: a colour map whose opacity (in the
 * volume's own units, HU-std) is 0 at no uncertainty and ramps up over the
 * first tenth of the window, so low-uncertainty tissue stays visible.
 */
export function stdOverlayOptions(window?: { center: number; width: number }): Record<string, unknown> {
  const top = window ? window.center + window.width / 2 : 1;
  return {
    colormap: {
      name: 'hsv',
      opacity: [
        { value: 0, opacity: 0 },
        { value: 0.1 * top, opacity: 0.6 },
        { value: top, opacity: 0.6 },
      ],
    },
    ...(window ? { voi: { windowCenter: window.center, windowWidth: window.width } } : {}),
  };
}

/** The viewports of the side-by-side layout (pure, for tests). */
export function sideBySideViewports(args: {
  sourceUid: string;
  resultUid: string;
  stdUid?: string;
  stdWindow?: { center: number; width: number };
  /** The window the source is shown in now: the result opens in it, so the two compare at a glance. */
  resultWindow?: { center: number; width: number };
  toolGroupId?: string;
}): [ViewportSpec, ViewportSpec] {
  const grey = args.resultWindow
    ? { voi: { windowCenter: args.resultWindow.center, windowWidth: args.resultWindow.width } }
    : {};
  const syncGroups = [{ type: 'cameraPosition', id: SYNC_GROUP_ID, source: true, target: true }];
  const common = {
    viewportType: 'volume',
    orientation: 'axial',
    toolGroupId: args.toolGroupId ?? 'default',
    syncGroups,
  };
  const result: ViewportSpec = args.stdUid
    ? {
        displaySetInstanceUIDs: [args.resultUid, args.stdUid],
        displaySetOptions: [grey, stdOverlayOptions(args.stdWindow)],
        viewportOptions: { ...common, viewportId: 'geometryLdm-result' },
      }
    : {
        displaySetInstanceUIDs: [args.resultUid],
        displaySetOptions: [grey],
        viewportOptions: { ...common, viewportId: 'geometryLdm-result' },
      };
  return [
    {
      displaySetInstanceUIDs: [args.sourceUid],
      displaySetOptions: [{}],
      viewportOptions: { ...common, viewportId: 'geometryLdm-source' },
    },
    result,
  ];
}

export function createOhifAdapter(deps: OhifDeps): OhifAdapter {
  const svc = () => services(deps);

  const adapter: OhifAdapter = {
    listDisplaySets() {
      const ds = svc().displaySetService;
      const all = ds?.getActiveDisplaySets?.() ?? [];
      // unsaved results shown from memory are not series of the PACS: nothing to read or process
      return all.filter(
        (d) =>
          !IMAGE_MODALITIES_EXCLUDED.has(String(d.Modality ?? '').toUpperCase()) &&
          !isUnsavedSeries(d.SeriesInstanceUID),
      );
    },
    getDisplaySet(uid) {
      return svc().displaySetService?.getDisplaySetByUID?.(uid);
    },
    activeDisplaySetUid() {
      const grid = svc().viewportGridService;
      const state = grid?.getState?.();
      const id = state?.activeViewportId;
      if (!state?.viewports || !id) return null;
      const vp = state.viewports.get(id);
      const uid = vp?.displaySetInstanceUIDs?.[0] ?? null;
      if (uid && isUnsavedSeries(svc().displaySetService?.getDisplaySetByUID?.(uid)?.SeriesInstanceUID))
        return null;
      return uid;
    },
    subscribe(onChange) {
      const subs: Subscription[] = [];
      const s = svc();
      const add = (
        svcObj:
          | { EVENTS?: Record<string, string>; subscribe?: (e: string, cb: () => void) => Subscription }
          | undefined,
        names: string[],
      ) => {
        for (const n of names) {
          const event = svcObj?.EVENTS?.[n];
          if (event && svcObj?.subscribe) subs.push(svcObj.subscribe(event, onChange));
        }
      };
      add(s.displaySetService, ['DISPLAY_SETS_ADDED', 'DISPLAY_SETS_CHANGED', 'DISPLAY_SETS_REMOVED']);
      add(s.viewportGridService, ['ACTIVE_VIEWPORT_ID_CHANGED', 'GRID_STATE_CHANGED']);
      return () => subs.forEach((x) => x.unsubscribe());
    },
    notify(n) {
      const ui = svc().uiNotificationService;
      if (ui?.show)
        ui.show({
          title: n.title,
          message: n.message,
          type: n.type,
          duration: n.type === 'error' ? 10000 : 5000,
        });
      else console[n.type === 'error' ? 'error' : 'info'](`${n.title}: ${n.message}`);
    },
    dicomWebRoot() {
      const cfg = activeDataSource(deps)?.getConfig?.();
      const root = cfg?.wadoRoot ?? cfg?.qidoRoot;
      return typeof root === 'string' && root.length > 0 ? root : null;
    },
    authorizationHeaders() {
      try {
        return svc().userAuthenticationService?.getAuthorizationHeader?.() ?? {};
      } catch {
        return {};
      }
    },
    async loadSeries(studyInstanceUid, seriesInstanceUids, timeoutMs = 30000) {
      const dataSource = activeDataSource(deps);
      const retrieve = dataSource?.retrieve?.series?.metadata;
      if (!dataSource || !retrieve) throw new Error('the viewer has no data source that can load series');
      const dss = svc().displaySetService;
      const found = () =>
        seriesInstanceUids.map((uid) => {
          const list =
            dss?.getDisplaySetsForSeries?.(uid) ??
            (dss?.getActiveDisplaySets?.() ?? []).filter((d) => d.SeriesInstanceUID === uid);
          return list[0]?.displaySetInstanceUID ?? null;
        });
      // The data source caches one metadata promise per study: drop it so the new series are fetched,
      // and drop the filtered one afterwards so a later full load is not limited to these series.
      const forget = () => forgetStudyMetadata(dataSource, studyInstanceUid);
      forget();
      try {
        await retrieve.call(dataSource, {
          StudyInstanceUID: studyInstanceUid,
          filters: { seriesInstanceUID: [...seriesInstanceUids] },
        });
      } finally {
        forget();
      }
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const uids = found();
        if (uids.every((u) => u !== null)) return uids as string[];
        if (Date.now() > deadline) {
          throw new Error(
            `the viewer did not create display sets for series ${seriesInstanceUids.filter((_, n) => uids[n] === null).join(', ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async showSideBySide(args) {
      const grid = svc().viewportGridService;
      if (!grid?.setLayout) throw new Error('the viewer has no viewport grid service');
      const toolGroupId = currentToolGroupId(grid) ?? 'default';
      // the source's current window (our source viewport once shown, else the active one)
      const cvs = svc().cornerstoneViewportService;
      const voiOf = (id: string | undefined) => {
        try {
          return id ? cvs?.getCornerstoneViewport?.(id)?.getProperties?.()?.voiRange : undefined;
        } catch {
          return undefined; // no such viewport (yet)
        }
      };
      const voi = voiOf('geometryLdm-source') ?? voiOf(grid.getActiveViewportId?.() ?? undefined);
      const resultWindow =
        voi && Number.isFinite(voi.lower) && voi.upper > voi.lower
          ? { center: (voi.lower + voi.upper) / 2, width: voi.upper - voi.lower }
          : undefined;
      const [left, right] = sideBySideViewports({
        ...args,
        toolGroupId,
        ...(resultWindow ? { resultWindow } : {}),
      });
      await grid.setLayout({
        numRows: 1,
        numCols: 2,
        activeViewportId: 'geometryLdm-result',
        findOrCreateViewport: (position) => ({ ...(position === 0 ? left : right) }),
      });
      if (args.stdUid)
        await keepGreyWindowShown(
          () => cvs?.getCornerstoneViewport?.('geometryLdm-result'),
          2,
          args.resultUid,
        );
    },
    addLocalSeries(instances) {
      return addLocalSeries(
        {
          displaySetService: svc().displaySetService as DisplaySetServiceLike | undefined,
          cornerstone: hostCornerstone(deps),
          inUse: (uid) => {
            const viewports = svc().viewportGridService?.getState?.()?.viewports;
            return [...(viewports?.values() ?? [])].some((v) => v.displaySetInstanceUIDs?.includes(uid));
          },
        },
        instances,
      );
    },
  };
  return adapter;
}

function currentToolGroupId(grid: { getState(): unknown }): string | undefined {
  const state = grid.getState() as {
    activeViewportId?: string;
    viewports?: Map<string, { viewportOptions?: { toolGroupId?: string } }>;
  };
  const id = state.activeViewportId;
  return id ? state.viewports?.get(id)?.viewportOptions?.toolGroupId : undefined;
}
