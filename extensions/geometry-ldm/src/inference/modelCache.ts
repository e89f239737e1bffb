/**
 * Model bytes in Cache Storage, keyed by content (sha256), so a model is
 * downloaded once per origin however its URL changes. Entries are verified
 * (size + sha256) on every read; a corrupt entry is deleted and the file is
 * fetched again. Only verified bytes are stored.
 */
import { fileUrl, sha256Hex, type ModelManifest, type ModelPart } from '../model/manifest';
import type { ModelBytesLoader } from './modelSessions';

export const MODEL_CACHE_NAME = 'geometry-ldm-models';

/** Cache key of a file: a same-origin-looking URL that is never fetched. */
export function modelCacheKey(sha256: string): string {
  return `/__model-cache__/${sha256.toLowerCase()}`;
}

/** The subset of the Cache Storage API used here. */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
}

export interface ModelFileReport {
  readonly part: ModelPart;
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly source: 'cache' | 'network';
  /** A cached copy existed but failed verification; it was deleted and replaced. */
  readonly corruptEntryReplaced?: boolean;
  /** Why nothing was cached (no Cache Storage, quota, ...). */
  readonly cacheError?: string;
}

export interface CachedFetchLoader extends ModelBytesLoader {
  /** One report per file loaded so far, in load order. */
  readonly reports: ModelFileReport[];
}

export interface CachedFetchOptions {
  /** Default `globalThis.caches`; null disables caching. */
  readonly cacheStorage?: CacheStorageLike | null;
  readonly cacheName?: string;
  readonly onFile?: (report: ModelFileReport) => void;
}

async function verified(bytes: Uint8Array, file: { sha256: string; bytes: number }): Promise<boolean> {
  return bytes.byteLength === file.bytes && (await sha256Hex(bytes)) === file.sha256.toLowerCase();
}

function absoluteUrl(manifestUrl: string, relative: string): string {
  // fileUrl resolves against the manifest's path; keep the manifest's origin when it has one.
  try {
    return new URL(relative, manifestUrl).href;
  } catch {
    return relative;
  }
}

/** A loader for `loadModel` that reads Cache Storage first and falls back to `fetchFn`. */
export function cachedFetchLoader(
  manifestUrl: string,
  manifest: ModelManifest,
  fetchFn: typeof fetch = (...args) => fetch(...args),
  options: CachedFetchOptions = {},
): CachedFetchLoader {
  const storage =
    options.cacheStorage === undefined
      ? ((globalThis as { caches?: CacheStorageLike }).caches ?? null)
      : options.cacheStorage;
  const reports: ModelFileReport[] = [];
  let cachePromise: Promise<CacheLike | null> | null = null;
  const openCache = () =>
    (cachePromise ??= storage
      ? storage.open(options.cacheName ?? MODEL_CACHE_NAME).catch(() => null)
      : Promise.resolve(null));

  const loader = async (part: ModelPart, file: { path: string; sha256: string; bytes: number }) => {
    const key = modelCacheKey(file.sha256);
    const cache = await openCache();
    let corrupt = false;
    if (cache) {
      const hit = await cache.match(key).catch(() => undefined);
      if (hit) {
        const bytes = new Uint8Array(await hit.arrayBuffer());
        if (await verified(bytes, file)) {
          report({ part, path: file.path, sha256: file.sha256, bytes: file.bytes, source: 'cache' });
          return bytes;
        }
        corrupt = true;
        await cache.delete(key).catch(() => false);
      }
    }
    const url = absoluteUrl(manifestUrl, fileUrl(manifestUrl, manifest, part));
    const res = await fetchFn(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    let cacheError: string | undefined = cache ? undefined : 'Cache Storage is not available';
    // Store only bytes that match the manifest (loadModel rejects the others).
    if (cache && (await verified(bytes, file))) {
      try {
        await cache.put(
          key,
          new Response(bytes.slice().buffer, {
            headers: { 'content-type': 'application/octet-stream', 'x-model-path': file.path },
          }),
        );
      } catch (e) {
        cacheError = (e as Error).message ?? String(e);
      }
    }
    report({
      part,
      path: file.path,
      sha256: file.sha256,
      bytes: file.bytes,
      source: 'network',
      ...(corrupt ? { corruptEntryReplaced: true } : {}),
      ...(cacheError ? { cacheError } : {}),
    });
    return bytes;
  };

  function report(r: ModelFileReport): void {
    reports.push(r);
    options.onFile?.(r);
  }

  return Object.assign(loader, { reports });
}
