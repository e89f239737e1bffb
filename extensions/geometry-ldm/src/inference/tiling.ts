/**
 * Tiled application of a fully convolutional model (encoder or decoder) when
 * one call over the whole volume would exceed the runtime's memory or buffer
 * limits. Tiles lie on the latent lattice (multiples of the latent factor),
 * overlap by `overlap` latent voxels, and are blended with a partition of unity
 * across each shared band (see axisWeights) that keeps each tile's edge, where
 * zero padding disturbs it, out of the result. Outside the bands every voxel
 * comes from one tile.
 */
import { voxelCount, type Dims3 } from '../geometry/conventions';
import { InferenceError, throwIfCancelled } from './errors';

export interface TilePlan {
  /** Tile starts per axis, in latent voxels. */
  readonly starts: readonly [number[], number[], number[]];
  /** Tile size per axis, in latent voxels. */
  readonly size: Dims3;
  readonly overlap: Dims3;
}

/** Tile starts along one axis of n latent voxels: stride size - overlap, the last tile flush with the end. */
function axisStarts(n: number, size: number, overlap: number): number[] {
  if (size >= n) return [0];
  const stride = size - overlap;
  const starts: number[] = [];
  for (let s = 0; s + size < n; s += stride) starts.push(s);
  starts.push(n - size);
  return starts;
}

export function planTiles(latentDims: Dims3, tile: Dims3, overlap: Dims3): TilePlan {
  for (let a = 0; a < 3; a++) {
    if (!Number.isInteger(tile[a]) || tile[a] < 1)
      throw new InferenceError('invalid-input', 'tile size must be positive latent voxels');
    if (
      !Number.isInteger(overlap[a]) ||
      overlap[a] < 0 ||
      (tile[a] < latentDims[a] && 2 * overlap[a] >= tile[a])
    ) {
      throw new InferenceError(
        'invalid-input',
        `tile overlap ${overlap[a]} does not fit tile ${tile[a]} on axis ${'ijk'[a]}`,
      );
    }
  }
  const size = tile.map((t, a) => Math.min(t, latentDims[a])) as unknown as Dims3;
  return {
    starts: [0, 1, 2].map((a) =>
      axisStarts(latentDims[a], size[a], overlap[a]),
    ) as unknown as TilePlan['starts'],
    size,
    overlap,
  };
}

/**
 * Blend weights along one axis of a tile, in output voxels (factor f per latent voxel).
 * Across a band shared with a neighbour the two tiles' weights sum to 1: a tile has
 * weight 0 in the quarter of the band nearest its own edge (where zero padding
 * disturbs its output), 1 in the quarter nearest its interior, and a linear ramp
 * across the middle half.
 */
function axisWeights(
  start: number,
  size: number,
  n: number,
  f: number,
  prevEnd: number,
  nextStart: number,
): Float32Array {
  const w = new Float32Array(size * f).fill(1);
  const ramp = (x: number, band: number) => {
    const margin = Math.floor(band / 4);
    const width = band - 2 * margin;
    return Math.min(1, Math.max(0, (x - margin + 0.5) / width));
  };
  if (start > 0 && prevEnd > start) {
    const band = (prevEnd - start) * f;
    for (let x = 0; x < band; x++) w[x] = Math.min(w[x], ramp(x, band));
  }
  if (start + size < n && nextStart < start + size) {
    const band = (start + size - nextStart) * f;
    for (let x = 0; x < band; x++) w[size * f - 1 - x] = Math.min(w[size * f - 1 - x], ramp(x, band));
  }
  return w;
}

/**
 * Reads one tile's channel-major input [cin][dz][dy][dx] at `start` (input voxels) of size `dims`.
 * It may return the same buffer every time: runTiled's model run has finished with one tile's
 * input before the next tile is read.
 */
export type TileReader = (start: Dims3, dims: Dims3) => Float32Array;

export interface TiledRunArgs {
  /**
   * Channel-major input [cin][nz][ny][nx] on the input grid, or a reader that
   * builds each tile's input (so the whole multi-channel input never has to exist).
   */
  readonly input: Float32Array | TileReader;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Latent grid size. */
  readonly latentDims: Dims3;
  /** Input voxels per latent voxel along each axis (encoder: 8, decoder: 1). */
  readonly inFactor: number;
  /** Output voxels per latent voxel (encoder: 1, decoder: 8). */
  readonly outFactor: number;
  readonly plan: TilePlan;
  /** Runs the model on one tile: input [cin][tz][ty][tx] -> output [cout][...]. */
  readonly run: (tile: Float32Array, tileDims: Dims3) => Promise<Float32Array>;
  readonly onTile?: (done: number, total: number) => void;
  /** Checked before every tile: after an abort at most the tile in flight finishes, then 'cancelled'. */
  readonly signal?: AbortSignal;
  /** Where to write the result (all zero, outChannels x output voxels); a new array when absent. */
  readonly into?: Float32Array;
}

/** The box [start, start + dims) of each channel, channel-major; into `out` when given (its length must fit). */
export function copyBox(
  src: Float32Array,
  srcDims: Dims3,
  channels: number,
  start: Dims3,
  dims: Dims3,
  out: Float32Array = new Float32Array(channels * voxelCount(dims)),
): Float32Array {
  const [nx, ny] = srcDims;
  const srcN = voxelCount(srcDims);
  let o = 0;
  for (let c = 0; c < channels; c++)
    for (let k = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++) {
        const from = c * srcN + ((start[2] + k) * ny + start[1] + j) * nx + start[0];
        out.set(src.subarray(from, from + dims[0]), o);
        o += dims[0];
      }
  return out;
}

/**
 * Blend weights of every tile along one axis of the output, normalised so that at every output
 * voxel the weights of the tiles covering it sum to 1. The 3D weight of a tile is the product of
 * its three axis weights, so the tiles' 3D weights sum to 1 too: no weight-sum volume and no
 * division pass are needed.
 */
function normalisedAxisWeights(plan: TilePlan, a: number, n: number, f: number): Float32Array[] {
  const starts = plan.starts[a];
  const size = plan.size[a];
  const raw = starts.map((s, idx) =>
    axisWeights(
      s,
      size,
      n,
      f,
      idx > 0 ? starts[idx - 1] + size : s,
      idx + 1 < starts.length ? starts[idx + 1] : s + size,
    ),
  );
  const sum = new Float64Array(n * f);
  starts.forEach((s, idx) => raw[idx].forEach((w, x) => (sum[s * f + x] += w)));
  if (sum.some((w) => !(w > 0)))
    throw new InferenceError(
      'invalid-input',
      `the tile plan leaves output voxels without weight on axis ${'ijk'[a]}`,
    );
  return starts.map((s, idx) => raw[idx].map((w, x) => w / sum[s * f + x]));
}

/** Where one tile's x weights are non-zero [lo, hi), and the run of weight exactly 1 inside it [oneLo, oneHi). */
interface RowSpan {
  readonly lo: number;
  readonly hi: number;
  readonly oneLo: number;
  readonly oneHi: number;
}

function rowSpan(w: Float32Array): RowSpan {
  let lo = 0;
  while (lo < w.length && w[lo] === 0) lo++;
  let hi = w.length;
  while (hi > lo && w[hi - 1] === 0) hi--;
  let oneLo = lo;
  while (oneLo < hi && w[oneLo] !== 1) oneLo++;
  let oneHi = oneLo;
  while (oneHi < hi && w[oneHi] === 1) oneHi++;
  return { lo, hi, oneLo, oneHi };
}

export async function runTiled(args: TiledRunArgs): Promise<Float32Array> {
  const { plan, latentDims: L, inFactor: fi, outFactor: fo } = args;
  const inDims = L.map((n) => n * fi) as unknown as Dims3;
  const outDims = L.map((n) => n * fo) as unknown as Dims3;
  const input = args.input;
  if (typeof input !== 'function' && input.length !== args.inChannels * voxelCount(inDims)) {
    throw new InferenceError('invalid-input', 'tiled input does not match the latent grid');
  }
  const tileInDims = plan.size.map((s) => s * fi) as unknown as Dims3;
  const tileInValues = args.inChannels * voxelCount(tileInDims);
  // one input buffer for every tile: the run has finished with it before the next tile is read
  let buffer: Float32Array | undefined;
  const readTile: TileReader =
    typeof input === 'function'
      ? input
      : (start, dims) =>
          copyBox(input, inDims, args.inChannels, start, dims, (buffer ??= new Float32Array(tileInValues)));
  const acc = args.into ?? new Float32Array(args.outChannels * voxelCount(outDims));
  if (acc.length !== args.outChannels * voxelCount(outDims))
    throw new InferenceError('invalid-input', 'the tiled output array does not match the output grid');
  const [wxs, wys, wzs] = [0, 1, 2].map((a) => normalisedAxisWeights(plan, a, L[a], fo));
  const spans = wxs.map(rowSpan);
  const [sx, sy, sz] = plan.starts;
  const total = sx.length * sy.length * sz.length;
  const td = plan.size.map((s) => s * fo) as unknown as Dims3;
  let done = 0;
  for (let iz = 0; iz < sz.length; iz++) {
    for (let iy = 0; iy < sy.length; iy++) {
      for (let ix = 0; ix < sx.length; ix++) {
        throwIfCancelled(args.signal);
        const startL: Dims3 = [sx[ix], sy[iy], sz[iz]];
        const tileIn = readTile(startL.map((s) => s * fi) as unknown as Dims3, tileInDims);
        if (tileIn.length !== tileInValues)
          throw new InferenceError('invalid-input', 'a tile reader returned the wrong number of values');
        const out = await args.run(tileIn, tileInDims);
        if (out.length !== args.outChannels * voxelCount(td))
          throw new InferenceError('run-failed', 'tile output has an unexpected size');
        blendTile(
          acc,
          out,
          args.outChannels,
          outDims,
          startL.map((s) => s * fo) as unknown as Dims3,
          td,
          wxs[ix],
          spans[ix],
          wys[iy],
          wzs[iz],
        );
        args.onTile?.(++done, total);
      }
    }
  }
  return acc;
}

/**
 * acc += w * tile over one tile at output offset o0, w = wz[k] * wy[j] * wx[i] (normalised:
 * the weights of all tiles at a voxel sum to 1). Rows and columns of weight 0 are skipped;
 * where w is exactly 1 no other tile has weight there, so the tile's values are copied.
 * A monomorphic function of locals and per-channel views (the hot loop of tiled runs).
 */
function blendTile(
  acc: Float32Array,
  tile: Float32Array,
  channels: number,
  outDims: Dims3,
  o0: Dims3,
  td: Dims3,
  wx: Float32Array,
  span: RowSpan,
  wy: Float32Array,
  wz: Float32Array,
): void {
  const [tx, ty, tz] = td;
  const [ox, oy, oz] = o0;
  const [nx, ny] = outDims;
  const outN = voxelCount(outDims);
  const tn = tx * ty * tz;
  const { lo, hi, oneLo, oneHi } = span;
  for (let k = 0; k < tz; k++) {
    if (wz[k] === 0) continue;
    for (let j = 0; j < ty; j++) {
      const wjk = wz[k] * wy[j];
      if (wjk === 0) continue;
      const rowOut = ((oz + k) * ny + oy + j) * nx + ox;
      const rowTile = (k * ty + j) * tx;
      for (let c = 0; c < channels; c++) {
        const a = c * outN + rowOut;
        const t = c * tn + rowTile;
        if (wjk === 1) {
          for (let i = lo; i < oneLo; i++) acc[a + i] += wx[i] * tile[t + i];
          for (let i = oneLo; i < oneHi; i++) acc[a + i] = tile[t + i];
          for (let i = oneHi; i < hi; i++) acc[a + i] += wx[i] * tile[t + i];
        } else {
          let i = lo;
          // unrolled by hand (V8 does not): about 10 % faster on the tiled 272^3 decode
          for (; i + 4 <= hi; i += 4) {
            acc[a + i] += wjk * wx[i] * tile[t + i];
            acc[a + i + 1] += wjk * wx[i + 1] * tile[t + i + 1];
            acc[a + i + 2] += wjk * wx[i + 2] * tile[t + i + 2];
            acc[a + i + 3] += wjk * wx[i + 3] * tile[t + i + 3];
          }
          for (; i < hi; i++) acc[a + i] += wjk * wx[i] * tile[t + i];
        }
      }
    }
  }
}

/** When and how to tile: a cap on image voxels per encoder/decoder call, and the overlap. */
export interface TilingPolicy {
  /** Largest number of IMAGE voxels one encoder or decoder call may process. */
  readonly maxImageVoxelsPerCall: number;
  /** Overlap between neighbouring tiles, in latent voxels (default 4 = 32 image voxels, about the decoder's receptive field). */
  readonly overlapLatent?: number;
}

/** Model calls of a tiled run (1 for no plan: one call over the whole volume). */
export function tileCount(plan: TilePlan | null): number {
  return plan ? plan.starts[0].length * plan.starts[1].length * plan.starts[2].length : 1;
}

/** A tile plan under the policy, or null when the whole volume fits in one call. */
export function tilesFor(
  latentDims: Dims3,
  factor: number,
  policy: TilingPolicy | undefined,
): TilePlan | null {
  if (!policy || voxelCount(latentDims) * factor ** 3 <= policy.maxImageVoxelsPerCall) return null;
  const overlap = policy.overlapLatent ?? 4;
  const maxLatent = policy.maxImageVoxelsPerCall / factor ** 3;
  // Shrink the largest axis until the tile fits; never below 2 * overlap + 1 latent voxels.
  const tile = [...latentDims] as [number, number, number];
  while (tile[0] * tile[1] * tile[2] > maxLatent) {
    const a = tile.indexOf(Math.max(...tile));
    if (tile[a] <= 2 * overlap + 1) {
      throw new InferenceError(
        'out-of-memory',
        `a tile of ${tile.join('x')} latent voxels still exceeds ${policy.maxImageVoxelsPerCall} image voxels per call`,
      );
    }
    tile[a] = Math.max(2 * overlap + 1, tile[a] - 1);
  }
  return planTiles(latentDims, tile, [overlap, overlap, overlap]);
}
