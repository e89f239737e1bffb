/** Parsing of the command line values (vectors, FOV ranges, rotations, shards). */
import type { Dims3, Vec3 } from '../geometry/conventions';
import type { FovRanges, Range } from '../geometry/generationGeometry';
import { UsageError } from './exitCodes';

export function parseVec3(
  value: string,
  what: string,
  opts: { integer?: boolean; positive?: boolean } = {},
): Vec3 {
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || nums.some((n) => !Number.isFinite(n))) {
    throw new UsageError(`${what} must be three numbers X,Y,Z, got "${value}"`);
  }
  if (opts.integer && nums.some((n) => !Number.isInteger(n)))
    throw new UsageError(`${what} must be integers, got "${value}"`);
  if (opts.positive && nums.some((n) => n <= 0))
    throw new UsageError(`${what} must be positive, got "${value}"`);
  return nums as unknown as Vec3;
}

/** --scale: one factor for every axis ("2") or one per axis ("1,1,2"); positive numbers. */
export function parseScale(value: string): number | Vec3 {
  if (value.includes(',')) return parseVec3(value, '--scale', { positive: true });
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--scale must be a positive number S or three X,Y,Z, got "${value}"`);
  return n;
}

export function parseDims(value: string, what: string): Dims3 {
  return parseVec3(value, what, { integer: true, positive: true }) as unknown as Dims3;
}

const AXES: Record<string, number> = { x: 0, u: 0, y: 1, v: 1, z: 2, w: 2 };

/** --fov axis=a:b (repeatable): FOV range in group units per axis; unspecified axes keep [0, 1]. */
export function parseFov(values: readonly string[]): FovRanges {
  const fov: [Range, Range, Range] = [
    [0, 1],
    [0, 1],
    [0, 1],
  ];
  for (const v of values) {
    const m = /^([xyzuvw])=([-+0-9.eE]+):([-+0-9.eE]+)$/.exec(v.trim());
    if (!m) throw new UsageError(`--fov must look like axis=a:b (axis x|y|z), got "${v}"`);
    const lo = Number(m[2]);
    const hi = Number(m[3]);
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo)
      throw new UsageError(`--fov ${v}: need a < b`);
    fov[AXES[m[1]]] = [lo, hi];
  }
  return fov;
}

/** Which axes have an explicit --fov (after parseFov accepted the values). */
export function fovAxesGiven(values: readonly string[]): [boolean, boolean, boolean] {
  const given: [boolean, boolean, boolean] = [false, false, false];
  for (const v of values) {
    const m = /^([xyzuvw])=/.exec(v.trim());
    if (m) given[AXES[m[1]]] = true;
  }
  return given;
}

/** --rotate axis=deg (repeatable), degrees about the patient axes. */
export function parseRotation(values: readonly string[]): Vec3 {
  const r = [0, 0, 0];
  for (const v of values) {
    const m = /^([xyz])=([-+0-9.eE]+)$/.exec(v.trim());
    if (!m || !Number.isFinite(Number(m[2])))
      throw new UsageError(`--rotate must look like axis=degrees (axis x|y|z), got "${v}"`);
    r[AXES[m[1]]] = Number(m[2]);
  }
  return r as unknown as Vec3;
}

/** --shard INDEX/COUNT, 0-based index (Kubernetes JOB_COMPLETION_INDEX). */
export function parseShard(value: string | undefined): { index: number; count: number } {
  if (value === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m) throw new UsageError(`--shard must be INDEX/COUNT, got "${value}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new UsageError(`--shard ${value}: need 0 <= INDEX < COUNT`);
  return { index, count };
}

export function parsePositiveInt(value: string | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${what} must be a positive integer, got "${value}"`);
  return n;
}

/** --region: 'fit' (the largest centred region the model can take) or index ranges per axis. */
export type RegionArg =
  | { readonly kind: 'fit' }
  | { readonly kind: 'ranges'; readonly ranges: readonly (readonly [number, number] | null)[] };

/**
 * --region fit, or --region axis=a:b (repeatable): source voxel indices,
 * 0-based, end exclusive (x=0:512 is every column of a 512-column series);
 * axes not given keep the whole series.
 */
export function parseRegion(values: readonly string[]): RegionArg | undefined {
  if (values.length === 0) return undefined;
  if (values.some((v) => v.trim() === 'fit')) {
    if (values.length > 1) throw new UsageError('--region fit cannot be combined with other --region values');
    return { kind: 'fit' };
  }
  const ranges: ([number, number] | null)[] = [null, null, null];
  for (const v of values) {
    const m = /^([xyz])=(\d+):(\d+)$/.exec(v.trim());
    if (!m)
      throw new UsageError(
        `--region must be "fit" or axis=start:end (voxel indices, 0-based, end exclusive), got "${v}"`,
      );
    const lo = Number(m[2]);
    const hi = Number(m[3]);
    if (hi <= lo) throw new UsageError(`--region ${v}: need start < end`);
    ranges[AXES[m[1]]] = [lo, hi];
  }
  return { kind: 'ranges', ranges };
}
