/**
 * In-memory series in OHIF 3.13's viewports: DICOM Part 10 instances built in
 * the page (nothing stored anywhere) shown like any other series, in stack,
 * volume and fused viewports, without a data source holding them.
 *
 * How, with the host's public pieces only:
 * - each instance becomes a Blob and its imageId `wadouri:blob:<origin>/<id>`:
 *   the dicom image loader OHIF registers for the `wadouri` scheme fetches it
 *   (same origin, no network), parses it and fills Cornerstone's metadata for
 *   that imageId, exactly as for a file a user opens locally;
 * - the naturalized instances (read back from the same bytes, as OHIF keeps
 *   instance metadata) carry that imageId as `url`/`imageId`, which OHIF's
 *   DICOMweb data source returns for an instance instead of a WADO URL
 *   (its getImageId: `instance.imageId`, else `instance.url`);
 * - `displaySetService.makeDisplaySets(instances, { madeInClient: true })`
 *   makes the display sets through the mode's SOP class handlers (the stack
 *   handler for CT), so they appear in the study browser and can be put in any
 *   viewport by the viewport grid service;
 * - the images are loaded into Cornerstone's cache first (the host's
 *   Cornerstone from @ohif/extension-cornerstone's utility module), so every
 *   slice's geometry is known before a volume viewport asks for it and a
 *   broken instance is reported before the layout changes.
 *
 * Release (after the series has been saved and the stored copy is shown, on a
 * new result, on mode exit) deletes the display sets, drops the images and
 * volumes from Cornerstone's cache and revokes the Blob URLs. It waits until no
 * viewport of the grid shows the series any more: OHIF's viewport grid applies
 * a layout through React state, after `setLayout` has resolved, and its
 * viewport components read their display sets from the grid state (a display
 * set deleted while the grid still names it crashes them).
 *
 * The series shown this way are recorded as "unsaved" (isUnsavedSeries): the
 * viewport overlay marks them, and the panels leave them out of the series
 * they offer to process.
 */
import { readPart10 } from '../dicom/part10';

/** The part of Cornerstone 5 (host instance) used here. */
export interface CornerstoneLike {
  readonly imageLoader?: {
    loadAndCacheImage?(imageId: string, options?: Record<string, unknown>): Promise<unknown>;
  };
  readonly cache?: {
    getImageLoadObject?(imageId: string): unknown;
    removeImageLoadObject?(imageId: string, options?: { force?: boolean }): void;
    getVolumes?(): readonly { volumeId: string; imageIds?: readonly string[] }[];
    removeVolumeLoadObject?(volumeId: string): void;
  };
}

export interface LocalDisplaySet {
  readonly displaySetInstanceUID: string;
  readonly SeriesInstanceUID?: string;
}

export interface DisplaySetServiceLike {
  makeDisplaySets?(
    instances: Record<string, unknown>[],
    options?: { madeInClient?: boolean },
  ): LocalDisplaySet[] | undefined;
  getDisplaySetsForSeries?(seriesInstanceUid: string): LocalDisplaySet[] | undefined;
  getDisplaySetByUID?(uid: string): unknown;
  deleteDisplaySet?(uid: string): void;
}

export interface LocalSeriesHost {
  readonly displaySetService: DisplaySetServiceLike | undefined;
  /** The host's Cornerstone; without it nothing is preloaded and caches are left to OHIF. */
  readonly cornerstone?: CornerstoneLike | null;
  readonly createObjectURL?: (blob: Blob) => string;
  readonly revokeObjectURL?: (url: string) => void;
  /** Whether a viewport of the grid shows this display set now (release waits until none does). */
  readonly inUse?: (displaySetInstanceUID: string) => boolean;
  /** How long release waits for the grid to let go (ms; default 15000). */
  readonly releaseTimeoutMs?: number;
}

export interface LocalSeries {
  readonly displaySetInstanceUID: string;
  readonly seriesInstanceUid: string;
  readonly imageIds: readonly string[];
  /**
   * Removes it from the viewer once no viewport shows it (idempotent). Resolves true when
   * released, false when a viewport still showed it at the timeout (it is then left in place,
   * and released on mode exit).
   */
  release(): Promise<boolean>;
}

export class LocalSeriesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalSeriesError';
  }
}

const unsaved = new Set<string>();
const live = new Set<LocalSeries>();

/** True for a series shown from memory that no PACS holds (SeriesInstanceUID). */
export function isUnsavedSeries(seriesInstanceUid: unknown): boolean {
  return typeof seriesInstanceUid === 'string' && unsaved.has(seriesInstanceUid);
}

const releaseNow = new WeakMap<LocalSeries, () => void>();

/** Releases every series this module shows, at once (mode exit: OHIF clears the grid itself). */
export function releaseAllLocalSeries(): void {
  for (const s of [...live]) releaseNow.get(s)?.();
}

/** The naturalized metadata OHIF keeps for an instance (no pixel data), pointing at `imageId`. */
export function localInstanceMetadata(bytes: Uint8Array, imageId: string): Record<string, unknown> {
  const ds = { ...readPart10(bytes).dataset } as Record<string, unknown>;
  delete ds.PixelData;
  delete ds._vrMap;
  ds.url = imageId;
  ds.imageId = imageId;
  return ds;
}

/**
 * Shows one series (all instances of one SeriesInstanceUID, in any order) from
 * memory; resolves once its images are loaded and its display set exists.
 */
export async function addLocalSeries(
  host: LocalSeriesHost,
  instances: readonly { readonly bytes: Uint8Array }[],
): Promise<LocalSeries> {
  const dss = host.displaySetService;
  if (!dss?.makeDisplaySets) throw new LocalSeriesError('the viewer has no display set service');
  if (instances.length === 0) throw new LocalSeriesError('the series has no instances');
  const createUrl = host.createObjectURL ?? ((b: Blob) => URL.createObjectURL(b));
  const revokeUrl = host.revokeObjectURL ?? ((u: string) => URL.revokeObjectURL(u));
  const urls: string[] = [];
  const imageIds: string[] = [];
  let seriesInstanceUid = '';
  let displaySetUids: string[] = [];
  let released = false;
  const cs = host.cornerstone ?? null;

  const releaseAll = () => {
    if (released) return;
    released = true;
    live.delete(handle);
    unsaved.delete(seriesInstanceUid);
    for (const uid of displaySetUids) {
      // OHIF 3.13's deleteDisplaySet removes the LAST active display set when the uid is unknown
      // (findIndex -1 -> splice(-1, 1)): only delete what is still there.
      try {
        if (dss.getDisplaySetByUID?.(uid)) dss.deleteDisplaySet?.(uid);
      } catch {
        // the viewer is going away (mode exit cleared it already)
      }
    }
    const ids = new Set(imageIds);
    try {
      for (const v of cs?.cache?.getVolumes?.() ?? []) {
        if (v.imageIds?.some((id) => ids.has(id))) cs?.cache?.removeVolumeLoadObject?.(v.volumeId);
      }
      for (const id of imageIds) {
        if (cs?.cache?.getImageLoadObject?.(id)) cs.cache.removeImageLoadObject?.(id, { force: true });
      }
    } catch {
      // a cache already purged by OHIF on mode exit
    }
    for (const u of urls) revokeUrl(u);
  };
  let pending: Promise<boolean> | null = null;
  const release = (): Promise<boolean> => {
    if (released) return Promise.resolve(true);
    pending ??= (async () => {
      const deadline = Date.now() + (host.releaseTimeoutMs ?? 15000);
      const shown = () => displaySetUids.some((uid) => host.inUse?.(uid) ?? false);
      const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // unused on two checks a turn apart: the viewports have rendered the new grid state
      for (;;) {
        if (!shown()) {
          await tick(0);
          if (!shown()) break;
        }
        if (Date.now() > deadline) {
          pending = null;
          return false;
        }
        await tick(100);
      }
      releaseAll();
      return true;
    })();
    return pending;
  };
  const handle: LocalSeries = {
    get displaySetInstanceUID() {
      return displaySetUids[0] ?? '';
    },
    get seriesInstanceUid() {
      return seriesInstanceUid;
    },
    imageIds,
    release,
  };
  releaseNow.set(handle, releaseAll);

  try {
    const metadata = instances.map((inst) => {
      const url = createUrl(new Blob([inst.bytes as BlobPart], { type: 'application/dicom' }));
      urls.push(url);
      const imageId = `wadouri:${url}`;
      imageIds.push(imageId);
      return localInstanceMetadata(inst.bytes, imageId);
    });
    const series = new Set(metadata.map((m) => m.SeriesInstanceUID));
    if (series.size !== 1 || typeof metadata[0].SeriesInstanceUID !== 'string') {
      throw new LocalSeriesError('the instances must belong to exactly one series');
    }
    seriesInstanceUid = metadata[0].SeriesInstanceUID;
    if (dss.getDisplaySetsForSeries?.(seriesInstanceUid)?.length) {
      throw new LocalSeriesError(`series ${seriesInstanceUid} is already in the viewer`);
    }
    const load = cs?.imageLoader?.loadAndCacheImage;
    if (load) {
      await Promise.all(imageIds.map((id) => load.call(cs.imageLoader, id)));
    }
    unsaved.add(seriesInstanceUid);
    live.add(handle);
    const made = dss.makeDisplaySets([...metadata], { madeInClient: true }) ?? [];
    const found = made.length ? made : (dss.getDisplaySetsForSeries?.(seriesInstanceUid) ?? []);
    displaySetUids = found.map((d) => d.displaySetInstanceUID);
    if (displaySetUids.length === 0) {
      throw new LocalSeriesError(`the viewer made no display set for series ${seriesInstanceUid}`);
    }
    return handle;
  } catch (e) {
    releaseAll(); // not in any viewport yet
    if (e instanceof LocalSeriesError) throw e;
    throw new LocalSeriesError(`the viewer could not load the images: ${(e as Error)?.message ?? e}`);
  }
}
