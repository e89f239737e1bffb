/** Plain-text formatting for the panels (grids, spacings, sizes, durations). */
import type { Dims3, Vec3 } from '../geometry/conventions';

export function formatDims(dims: Dims3): string {
  return `${dims[0]} × ${dims[1]} × ${dims[2]}`;
}

/** Spacing with 2 decimals (3 below 1 mm would be noise for a display). */
export function formatSpacing(spacing: Vec3): string {
  return `${spacing.map((s) => s.toFixed(2)).join(' × ')} mm`;
}

/** Binary units, as memory is counted. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** An approximate duration in words: "about 45 s", "roughly 3 min", "about 0.4 s" (not "about < 1 s"). */
export function approxDuration(seconds: number, word: 'about' | 'roughly' = 'about'): string {
  return `${word} ${estimatedDuration(seconds)}`;
}

/** A duration for an estimate: tenths of a second below 1 s ("0.2 s"), else as formatDuration. */
export function estimatedDuration(seconds: number): string {
  if (Number.isFinite(seconds) && seconds >= 0 && seconds < 1)
    return `${Math.max(0.1, Math.round(seconds * 10) / 10).toFixed(1)} s`;
  return formatDuration(seconds);
}

/** "45 s", "3 min 20 s", "1 h 05 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 1) return '< 1 s';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const r = s % 60;
    return r === 0 ? `${m} min` : `${m} min ${r} s`;
  }
  const h = Math.floor(s / 3600);
  const m = Math.round((s - h * 3600) / 60);
  return `${h} h ${String(m).padStart(2, '0')} min`;
}
