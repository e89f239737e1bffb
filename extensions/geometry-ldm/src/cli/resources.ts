/**
 * Memory and disk a CLI job needs, checked before anything is read or computed: a job too large
 * for its container is refused with the numbers (instead of being OOM-killed without a word),
 * and an --out folder on a disk without room for the result is refused before the files start.
 *
 * Memory available: GEOMETRY_LDM_MEMORY_LIMIT (bytes, or with a K/M/G suffix: an operator's
 * statement, e.g. a pod limit the process cannot see), else the cgroup's limit minus its usage
 * (v2 memory.max / memory.current, v1 memory.limit_in_bytes / memory.usage_in_bytes), capped by
 * the free memory the kernel reports.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { Dims3 } from '../geometry/conventions';
import {
  estimateGenerateMemory,
  estimatePlaneModeMemory,
  estimateSuperResolveMemory,
  type MemoryEstimate,
} from '../planning/estimate';
import { UsageError } from './exitCodes';

const GB = 1024 ** 3;
const fmt = (bytes: number): string => `${(bytes / GB).toFixed(1)} GB`;

export interface MemoryBudget {
  readonly availableBytes: number;
  /** Where the number comes from, for the message. */
  readonly source: string;
}

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const n = Number(text);
    return Number.isFinite(n) ? n : null; // 'max' (no limit) -> null
  } catch {
    return null;
  }
}

/** "3G", "512M", "1073741824" -> bytes; null when not a size. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit] ?? 1;
  return Math.floor(Number(m[1]) * scale);
}

export function memoryBudget(
  env: NodeJS.ProcessEnv = process.env,
  cgroupRoot = '/sys/fs/cgroup',
): MemoryBudget {
  const stated = env.GEOMETRY_LDM_MEMORY_LIMIT;
  if (stated !== undefined) {
    const n = parseSize(stated);
    if (n == null || n <= 0)
      throw new UsageError(`GEOMETRY_LDM_MEMORY_LIMIT=${stated} is not a size (e.g. 3G, 512M, or bytes)`);
    return { availableBytes: n, source: 'GEOMETRY_LDM_MEMORY_LIMIT' };
  }
  const free = freemem();
  const v2 = readNumber(`${cgroupRoot}/memory.max`);
  const v1 = readNumber(`${cgroupRoot}/memory/memory.limit_in_bytes`);
  const limit = v2 ?? (v1 != null && v1 < 2 ** 60 ? v1 : null);
  if (limit != null && limit < totalmem()) {
    const used =
      (v2 != null
        ? readNumber(`${cgroupRoot}/memory.current`)
        : readNumber(`${cgroupRoot}/memory/memory.usage_in_bytes`)) ?? 0;
    const left = Math.max(0, limit - used);
    return {
      availableBytes: Math.min(left, free),
      source: `container limit ${fmt(limit)} (cgroup ${v2 != null ? 'memory.max' : 'memory.limit_in_bytes'}), ${fmt(used)} in use`,
    };
  }
  return { availableBytes: free, source: `free memory of ${fmt(totalmem())}` };
}

export interface SuperResolveFootprint {
  readonly mode: 'ai' | 'classical' | 'diffusion';
  readonly sourceDims: Dims3;
  readonly paddedDims: Dims3;
  readonly outputDims: Dims3;
  readonly stdMap: boolean;
}

const voxels = (d: Dims3): number => d[0] * d[1] * d[2];
/** Node, onnxruntime and the loaded model, before any job buffer. */
const RUNTIME_BYTES = 400 * 1024 ** 2;

/**
 * Peak memory of a CLI super-resolution. Diffusion: the panels' estimate (planning/estimate.ts:
 * worker buffers + the untiled encoder/decoder activations the CLI runs). AI and classical: the
 * panels' worker estimate too (planning/estimate.ts estimatePlaneModeMemory: the source, float32
 * copies of the result and the refiner's plane activations). All modes add the built derived series
 * (16-bit, twice while encoding) and the runtime itself. Checked against measured peak RSS by
 * `npm run bench -- cli-memory` (the estimate must not be below the peak).
 */
export function superResolveMemory(f: SuperResolveFootprint): MemoryEstimate {
  const nOut = voxels(f.outputDims);
  const series = f.stdMap ? 2 : 1;
  const written = nOut * series * 2 * 2;
  let buffers: number;
  let activations: number;
  if (f.mode === 'diffusion') {
    const e = estimateSuperResolveMemory({
      seriesDims: f.sourceDims,
      sourceDims: f.sourceDims,
      paddedDims: f.paddedDims,
      outputDims: f.outputDims,
      batchSize: 1,
      keepSamples: 0,
    });
    buffers = e.workerBytes;
    activations = e.activationBytes;
  } else {
    const e = estimatePlaneModeMemory({
      mode: f.mode,
      seriesDims: f.sourceDims,
      sourceDims: f.sourceDims,
      outputDims: f.outputDims,
    });
    buffers = e.workerBytes;
    activations = e.activationBytes;
  }
  const workerBytes = buffers + written + RUNTIME_BYTES;
  return { workerBytes, activationBytes: activations, pageBytes: 0, totalBytes: workerBytes + activations };
}

/**
 * Peak memory of one generated volume (the CLI generates and writes one item at a time): the
 * panels' estimate (conditioning, latents, the untiled decoder's activations) plus the built
 * series and the runtime.
 */
export function generateMemory(dims: Dims3): MemoryEstimate {
  const e = estimateGenerateMemory({ dims, samples: 1, batchSize: 1 });
  const workerBytes = e.workerBytes + voxels(dims) * 2 * 2 + RUNTIME_BYTES;
  return {
    workerBytes,
    activationBytes: e.activationBytes,
    pageBytes: 0,
    totalBytes: workerBytes + e.activationBytes,
  };
}

/** Bytes the --out files of a super-resolution take: Part 10 (16-bit + headers) and NIfTI (float32). */
export function superResolveOutBytes(outputDims: Dims3, stdMap: boolean): number {
  const series = stdMap ? 2 : 1;
  return series * (voxels(outputDims) * (2 + 4) + outputDims[2] * 4096 + 352);
}

export function checkMemory(needed: MemoryEstimate, budget: MemoryBudget, what: string): void {
  if (needed.totalBytes <= budget.availableBytes) return;
  throw new UsageError(
    `${what} needs about ${fmt(needed.totalBytes)} of memory (model activations ${fmt(needed.activationBytes)}, ` +
      `buffers ${fmt(needed.totalBytes - needed.activationBytes)}) but ${fmt(budget.availableBytes)} is available ` +
      `(${budget.source}): use a smaller --region or target grid, fewer --samples, or a machine with more memory ` +
      '(--no-memory-check runs it anyway)',
  );
}

/** The nearest existing folder of a path (the one whose file system will hold it). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

export function checkDiskSpace(outDir: string, bytes: number): void {
  const at = existingAncestor(outDir);
  let free: number;
  try {
    const s = statfsSync(at);
    free = s.bavail * s.bsize;
  } catch {
    return; // a file system that cannot say: the write itself reports a full disk
  }
  const needed = Math.ceil(bytes * 1.05) + 16 * 1024 * 1024;
  if (needed > free)
    throw new UsageError(
      `--out ${outDir}: the result needs about ${fmt(needed)} and ${fmt(free)} is free on that disk (${at}); free space or choose another folder`,
    );
}
