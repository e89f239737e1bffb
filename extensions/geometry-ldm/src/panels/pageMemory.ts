/**
 * What a panel keeps across a reload of the page (the tab's sessionStorage): its settings
 * (per study for super-resolution) and a marker while a job runs, so that after a reload or a
 * crash the panel can say that a job was lost instead of starting blank. Pure: the storage is
 * injected (null: nothing is kept, e.g. storage blocked by privacy settings).
 */
export interface SessionStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export type PanelName = 'super-resolve' | 'generate';

export interface PageMemory {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  remove(key: string): void;
}

export const MEMORY_KEYS = {
  superResolveForm: (studyInstanceUid: string) => `geometry-ldm.super-resolve.form:${studyInstanceUid}`,
  generateForm: 'geometry-ldm.generate.form',
  job: (panel: PanelName) => `geometry-ldm.job:${panel}`,
} as const;

export function pageMemory(storage: SessionStorageLike | null): PageMemory {
  return {
    get(key) {
      try {
        const v = storage?.getItem(key);
        return v == null ? null : JSON.parse(v);
      } catch {
        return null; // blocked storage or a value not written by us
      }
    },
    set(key, value) {
      try {
        storage?.setItem(key, JSON.stringify(value));
      } catch {
        // full or blocked: the panel works, it just forgets on reload
      }
    },
    remove(key) {
      try {
        storage?.removeItem(key);
      } catch {
        // as above
      }
    },
  };
}

export interface JobMarker {
  /** Words for the job ("super-resolution of #3 ThoraxRoutine, 256 × 256 × 120"). */
  readonly what: string;
  /** ms since the epoch. */
  readonly startedAt: number;
}

export function markJobStarted(memory: PageMemory, panel: PanelName, marker: JobMarker): void {
  memory.set(MEMORY_KEYS.job(panel), marker);
}

export function markJobEnded(memory: PageMemory, panel: PanelName): void {
  memory.remove(MEMORY_KEYS.job(panel));
}

/** The marker of a job this page did not finish (read once: it is removed). */
export function takeLostJob(memory: PageMemory, panel: PanelName): JobMarker | null {
  const v = memory.get(MEMORY_KEYS.job(panel)) as Partial<JobMarker> | null;
  memory.remove(MEMORY_KEYS.job(panel));
  return v && typeof v.what === 'string' && typeof v.startedAt === 'number'
    ? { what: v.what, startedAt: v.startedAt }
    : null;
}

/** The notice a panel shows for a lost job. */
export function lostJobText(marker: JobMarker, now: Date = new Date()): string {
  const t = new Date(marker.startedAt);
  const p = (n: number): string => String(n).padStart(2, '0');
  const time = `${p(t.getHours())}:${p(t.getMinutes())}`;
  const when =
    t.toDateString() === now.toDateString()
      ? time
      : `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${time}`;
  return (
    `The ${marker.what} started at ${when} was lost: the page was reloaded or closed while it ran. ` +
    'Its settings are restored below; run it again.'
  );
}

/** True when `value` has every key of `template` with a value of the same type (restored settings). */
export function sameShape(value: unknown, template: unknown): boolean {
  if (template === null || typeof template !== 'object') return typeof value === typeof template;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(template))
    return (
      Array.isArray(value) &&
      value.length === template.length &&
      value.every((v, i) => sameShape(v, template[i]))
    );
  return Object.entries(template).every(([k, t]) => sameShape((value as Record<string, unknown>)[k], t));
}
