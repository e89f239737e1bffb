/**
 * The super-resolution refiner (docs/super-resolution.md): a 2.5D CNN that refines
 * planes of a back-projected volume. Python twin of the contract: ldm/refiner.py.
 *
 * A plane spans two axes, rows (A) and columns (B), of the fine output grid; its
 * normal is N. Rows are always the most degraded axis (largest acquired spacing, k on
 * ties), so the two planes through it are (A, B1) and (A, B2). Input `planes`
 * [B, 3, H, W]: the plane and its neighbours along N (previous, centre, next; the end
 * planes repeat), HU / 1000 clamped to [-1024, 3071] HU; input `acquisition` [B, 12]:
 * 4 features for each of A, B, N (spacing / 4, width / 4, Gaussian flag, point flag,
 * in fine voxels). Output `refined` [B, 1, H, W] in the same units.
 *
 * Sample s of N refines with plane s % 2 and mirroring floor(s / 2) (0 none, 1 rows,
 * 2 columns, 3 both): test-time augmentation; mean and spread over the samples give
 * the result and the uncertainty map.
 */
import type { Dims3 } from '../geometry/conventions';
import type { AxisAcquisition } from '../volume/acquisition';
import type { BodyBoxRule } from '../volume/bodyBox';
import type { CropBox } from '../volume/pad';
import { throwIfCancelled, InferenceError } from './errors';
import { float32Tensor, type ModelSession } from './runtime';

export const REFINER_MAX_SAMPLES = 8;
const HU_SCALE = 1000;
const HU_MIN = -1024;
const HU_MAX = 3071;
const FEATURE_SCALE = 4;
/** Voxels per refiner call (B x H x W): 48 channels of float32 activations stay near 50 MB. */
const VOXELS_PER_CALL = 1 << 18;
/** Voxels gathered at a time (whole calls' worth): 8 MB of planes, each read once per block. */
const BLOCK_VOXELS = 1 << 21;

export interface RefinerBoxRule extends BodyBoxRule {
  /**
   * Each plane is refined over its columns only: those within marginVoxels of its body (its
   * group's, below), widened outward to multiples of this many voxels (counted from the box's
   * first column, unmirrored) so that neighbouring groups often share a width.
   */
  readonly quantumVoxels: number;
  /**
   * Planes share their columns in groups of this many (counted from the box's first plane): the
   * union of the group's bodies. Calls then carry whole groups, so on wasm, which shares a call
   * among its threads by plane, no call is left with one plane for two threads.
   */
  readonly groupPlanes: number;
  /**
   * Inside the box, within this many voxels of a face the box cut (not the grid's own edge), the
   * result blends from the refined value to the clamped input (weight distance / blendVoxels), so
   * the box leaves no edge in the image or the std map.
   */
  readonly blendVoxels: number;
}

/**
 * Where the refiner runs: the body's bounding box (above -500 HU, the training scans' own body
 * rule) grown by 32 voxels, blended over its outer 24; inside it, each group of 8 planes over its
 * bodies' columns grown by 32 and widened to multiples of 32, blended the same way. The shipped
 * refiner (9 residual blocks of two 3 x 3 convolutions, plus head and tail) reaches 20 pixels
 * within a plane, so an edge, where the network sees zero padding instead of air, is out of the
 * body's reach with 12 voxels to spare, and the blend stops 8 voxels short of the body. Air
 * beyond keeps its back-projected value. A refiner with a longer reach needs a larger margin:
 * test/engine/refinerBox.test.ts checks the shipped one on real CT.
 */
export const REFINER_BODY_BOX: RefinerBoxRule = {
  aboveHu: -500,
  marginVoxels: 32,
  blendVoxels: 24,
  quantumVoxels: 32,
  groupPlanes: 8,
};

/** HU clamped to the network's input range. */
function clampHu(v: number): number {
  return v < HU_MIN ? HU_MIN : v > HU_MAX ? HU_MAX : v;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The columns [first, last] (box-local, unmirrored) a plane is refined over: its body columns
 * `lo`..`hi` grown by `margin` and widened to multiples of `quantum`, within 0..W-1.
 */
export function planeColumns(
  lo: number,
  hi: number,
  W: number,
  margin: number,
  quantum: number,
): [number, number] {
  const q = Math.max(1, Math.floor(quantum));
  return [
    Math.max(0, Math.floor((lo - margin) / q) * q),
    Math.min(W - 1, Math.ceil((hi + margin + 1) / q) * q - 1),
  ];
}

/**
 * The blend weight along one axis of a box for box-local indices 0..n-1: min(1, d / blend), d
 * the distance to the nearer face the box cut (a face on the grid's edge does not count).
 */
function faceWeights(start: number, n: number, gridN: number, blend: number): Float32Array {
  const w = new Float32Array(n).fill(1);
  if (!(blend > 0)) return w;
  for (let t = 0; t < n; t++) {
    const d = Math.min(start > 0 ? t : Infinity, start + n < gridN ? n - 1 - t : Infinity);
    if (d < blend) w[t] = d / blend;
  }
  return w;
}

export function axisFeatures(ax: AxisAcquisition): [number, number, number, number] {
  const point = ax.profile === 'point';
  return [
    ax.spacing / FEATURE_SCALE,
    point ? 0 : ax.width / FEATURE_SCALE,
    ax.profile === 'gaussian' ? 1 : 0,
    point ? 1 : 0,
  ];
}

export interface PlanePass {
  /** Axis indices (0 = i, 1 = j, 2 = k) of rows, columns and the normal. */
  readonly rows: 0 | 1 | 2;
  readonly cols: 0 | 1 | 2;
  readonly normal: 0 | 1 | 2;
  readonly flipRows: boolean;
  readonly flipCols: boolean;
  readonly features: Float32Array;
}

/** The plane pass of TTA sample `s` for an acquisition's three axes (i, j, k order). */
export function planePass(
  axes: readonly [AxisAcquisition, AxisAcquisition, AxisAcquisition],
  s: number,
): PlanePass {
  let rows: 0 | 1 | 2 = 2;
  for (const a of [1, 0] as const) if (axes[a].spacing > axes[rows].spacing + 1e-9) rows = a;
  const others = ([0, 1, 2] as const).filter((a) => a !== rows) as (0 | 1 | 2)[];
  const cols = others[s % 2];
  const normal = others[1 - (s % 2)];
  const flips = Math.floor(s / 2) % 4;
  const features = new Float32Array([
    ...axisFeatures(axes[rows]),
    ...axisFeatures(axes[cols]),
    ...axisFeatures(axes[normal]),
  ]);
  return { rows, cols, normal, flipRows: (flips & 1) === 1, flipCols: (flips & 2) === 2, features };
}

/**
 * Planes per refiner call: as many as fit VOXELS_PER_CALL (at least one), rounded down to a
 * multiple of the runtime's threads when there are more planes than threads. onnxruntime-web's
 * wasm shares a call among its threads by batch item: 3 planes of 272 x 272 on 2 threads took
 * 1.31x the time per plane of 2 or 4 (BENCHMARKS.md, engine).
 */
export function refinerBatch(planeVoxels: number, planes: number, threads: number): number {
  const fit = Math.max(1, Math.min(planes, Math.floor(VOXELS_PER_CALL / planeVoxels)));
  const t = Math.max(1, Math.floor(threads));
  return fit > t ? fit - (fit % t) : fit;
}

/**
 * The columns [c0, c1] (plane coordinates, after mirroring) of a group of planes (offsets `bases`
 * of their normal's part, pixel offsets `pix`, H x W): the group's body columns by `planeColumns`,
 * or [-1, -1] when the group has no body.
 */
function groupColumns(
  x: Float32Array,
  bases: Int32Array,
  pix: Int32Array,
  H: number,
  W: number,
  flipCols: boolean,
  rule: Pick<RefinerBoxRule, 'aboveHu' | 'marginVoxels' | 'quantumVoxels'>,
): [number, number] {
  // body columns, unmirrored
  let lo = W;
  let hi = -1;
  for (const base of bases) {
    for (let h = 0, p = 0; h < H; h++) {
      for (let w = 0; w < W; w++, p++) {
        if (x[base + pix[p]] > rule.aboveHu) {
          const u = flipCols ? W - 1 - w : w;
          if (u < lo) lo = u;
          if (u > hi) hi = u;
        }
      }
    }
  }
  if (hi < 0) return [-1, -1];
  const [L, R] = planeColumns(lo, hi, W, rule.marginVoxels, rule.quantumVoxels);
  return flipCols ? [W - 1 - R, W - 1 - L] : [L, R];
}

/**
 * Refines every plane of `x` (HU, fine grid `dims`) for one pass; returns a new array (HU).
 * With `box`, only the box is refined, as if it were the whole volume (its end planes repeat
 * along the normal, zero padding at its sides); outside it the result is `x` clamped to the
 * network's input range, i.e. the centre plane with no residual, and within `blendVoxels` of a
 * face the box cut it blends between the two (RefinerBoxRule). `onPlanes(done, total)` reports
 * progress after each call, in planes of the box.
 */
export async function refineVolume(
  session: ModelSession,
  x: Float32Array,
  dims: Dims3,
  pass: PlanePass,
  opts: {
    signal?: AbortSignal;
    onPlanes?: (done: number, total: number) => void;
    /** The runtime's intra-op threads (BackendInfo.threads): calls carry a multiple of them. */
    threads?: number;
    /**
     * Refine only this box (index space of `dims`; REFINER_BODY_BOX and volume/bodyBox.ts); a box
     * of size 0 refines nothing.
     */
    box?: CropBox | null;
    /** RefinerBoxRule.blendVoxels (default 0: a hard edge). */
    blendVoxels?: number;
    /**
     * Refine each plane over its own body's columns (RefinerBoxRule; `planeColumns`), blended
     * like the box at the edges that cut the box's columns. Default: every column of the box.
     */
    planeColumns?: Pick<RefinerBoxRule, 'aboveHu' | 'marginVoxels' | 'quantumVoxels' | 'groupPlanes'>;
  } = {},
): Promise<Float32Array> {
  const stride = [1, dims[0], dims[0] * dims[1]];
  const start = opts.box?.start ?? [0, 0, 0];
  const size = opts.box?.dims ?? dims;
  for (let a = 0; a < 3; a++) {
    if (!(start[a] >= 0 && size[a] >= 0 && start[a] + size[a] <= dims[a])) {
      throw new InferenceError('invalid-input', `refiner box outside the ${dims.join(' x ')} grid`);
    }
  }
  const H = size[pass.rows];
  const W = size[pass.cols];
  const N = size[pass.normal];
  const sA = stride[pass.rows];
  const sB = stride[pass.cols];
  const sN = stride[pass.normal];
  const plane = H * W;
  const batch = refinerBatch(plane, N, opts.threads ?? 1);
  const out = new Float32Array(x.length);
  if (N * plane < x.length || opts.planeColumns) {
    for (let v = 0; v < x.length; v++) out[v] = clampHu(x[v]);
  }
  // the box's first voxel, and the source offset of plane pixel (h, w) (after mirroring inside
  // the box) without the normal's part; its blend weight, and each plane's
  const origin = start[0] * stride[0] + start[1] * stride[1] + start[2] * stride[2];
  const blend = opts.blendVoxels ?? 0;
  const weightOf = (a: 0 | 1 | 2) => faceWeights(start[a], size[a], dims[a], blend);
  const [wRows, wCols, wNormal] = [weightOf(pass.rows), weightOf(pass.cols), weightOf(pass.normal)];
  const pix = new Int32Array(plane);
  const wPix = new Float32Array(plane);
  for (let h = 0; h < H; h++) {
    const hh = pass.flipRows ? H - 1 - h : h;
    for (let w = 0; w < W; w++) {
      const ww = pass.flipCols ? W - 1 - w : w;
      pix[h * W + w] = origin + hh * sA + ww * sB;
      wPix[h * W + w] = Math.min(wRows[hh], wCols[ww]);
    }
  }
  /** Writes refined value r (model units) at offset `at` with weight `wt` against the clamped input. */
  const put = (at: number, r: number, wt: number) => {
    if (wt >= 1) out[at] = r * HU_SCALE;
    else {
      const c = clampHu(x[at]);
      out[at] = c + wt * (r * HU_SCALE - c);
    }
  };
  // Planes are gathered a block at a time (several calls' worth, about 2^21 voxels), each once
  // per block: a call copies its planes and their neighbours from the block. One input buffer
  // serves every call (a call's input is consumed once its run resolves).
  // blocks hold whole calls and, with plane columns, whole groups of planes
  const crop = opts.planeColumns ?? null;
  const group = crop ? Math.max(1, Math.floor(crop.groupPlanes)) : 1;
  const unit = (batch * group) / gcd(batch, group);
  const block = Math.min(N, unit * Math.max(1, Math.floor(BLOCK_VOXELS / plane / unit)));
  const input = new Float32Array(batch * 3 * plane);
  const gathered = new Float32Array((block + 2) * plane);
  const bases = new Int32Array(block + 2);
  // When the normal's stride is the smaller (a plane's columns far apart in memory, its
  // neighbours adjacent), gather and scatter walk the planes inside each pixel, and results
  // wait in `results` to be scattered a block at a time.
  const normalInner = sN < sB;
  const results = normalInner ? new Float32Array(block * plane) : null;
  const rowBuf = new Float32Array(plane);
  // each block plane's columns to refine (plane coordinates), -1 for none
  const first = new Int32Array(block);
  const last = new Int32Array(block);
  const feats = new Float32Array(batch * 12);
  for (let q = 0; q < batch; q++) feats.set(pass.features, q * 12);
  for (let k0 = 0; k0 < N; k0 += block) {
    const kb = Math.min(block, N - k0);
    // planes k0 - 1 .. k0 + kb (clamped at the ends) in model units
    const g1 = kb + 2;
    for (let g = 0; g < g1; g++) bases[g] = Math.min(N - 1, Math.max(0, k0 + g - 1)) * sN;
    if (normalInner) {
      for (let p = 0; p < plane; p++) {
        const at = pix[p];
        for (let g = 0; g < g1; g++) {
          const v = x[bases[g] + at];
          gathered[g * plane + p] = clampHu(v) / HU_SCALE;
        }
      }
    } else {
      for (let g = 0; g < g1; g++) {
        const base = bases[g];
        const dst = g * plane;
        for (let p = 0; p < plane; p++) {
          const v = x[base + pix[p]];
          gathered[dst + p] = clampHu(v) / HU_SCALE;
        }
      }
    }
    // each centre plane's columns (plane coordinates, after mirroring): all, none (-1), or its
    // group's bodies'
    for (let g0 = 0; g0 < kb; g0 += group) {
      const g1 = Math.min(kb, g0 + group);
      const [c0, c1] = crop
        ? groupColumns(x, bases.subarray(g0 + 1, g1 + 1), pix, H, W, pass.flipCols, crop)
        : [0, W - 1];
      first.fill(c0, g0, g1);
      last.fill(c1, g0, g1);
    }
    let n0 = k0;
    while (n0 < k0 + kb) {
      throwIfCancelled(opts.signal);
      const g0 = n0 - k0;
      const c0 = first[g0];
      const c1 = last[g0];
      // a call: consecutive planes with the same columns, at most `batch`
      let b = 1;
      while (b < batch && n0 + b < k0 + kb && first[g0 + b] === c0 && last[g0 + b] === c1) b++;
      const Wc = c0 < 0 ? 0 : c1 - c0 + 1;
      let y: Float32Array | null = null;
      if (Wc > 0) {
        const planes = input.subarray(0, b * 3 * H * Wc);
        // item q is plane n0 + q: block planes g0 + q + c for c = 0, 1, 2, columns c0..c1
        for (let q = 0; q < b; q++)
          for (let c = 0; c < 3; c++) {
            const src = (g0 + q + c) * plane + c0;
            const dst = (q * 3 + c) * H * Wc;
            if (Wc === W) planes.set(gathered.subarray(src, src + plane), dst);
            else
              for (let h = 0; h < H; h++)
                planes.set(gathered.subarray(src + h * W, src + h * W + Wc), dst + h * Wc);
          }
        const res = await session.run({
          planes: float32Tensor(planes, [b, 3, H, Wc]),
          acquisition: float32Tensor(b === batch ? feats : feats.subarray(0, b * 12), [b, 12]),
        });
        y = (res.refined?.data as Float32Array | undefined) ?? null;
        if (!y || y.length !== b * H * Wc) {
          throw new InferenceError(
            'run-failed',
            'the refiner returned no `refined` output of the expected size',
            {
              part: 'refiner',
            },
          );
        }
      }
      // the plane's value in model units: refined inside its columns (blended towards the centre
      // plane over the edges that cut the box's columns), the centre plane outside them
      const colWeights = Wc > 0 && Wc < W ? faceWeights(pass.flipCols ? W - 1 - c1 : c0, Wc, W, blend) : null;
      for (let q = 0; q < b; q++) {
        const centre = (g0 + q + 1) * plane;
        const row = results ? results.subarray((g0 + q) * plane, (g0 + q + 1) * plane) : rowBuf;
        for (let h = 0, p = 0; h < H; h++) {
          for (let w = 0; w < W; w++, p++) {
            const c = gathered[centre + p];
            if (w < c0 || w > c1 || !y) row[p] = c;
            else {
              const r = y[(q * H + h) * Wc + (w - c0)];
              // the weight array runs over unmirrored columns
              const wr = colWeights ? colWeights[pass.flipCols ? c1 - w : w - c0] : 1;
              row[p] = wr >= 1 ? r : c + wr * (r - c);
            }
          }
        }
        if (!results) {
          const base = (n0 + q) * sN;
          const wn = wNormal[n0 + q];
          for (let p = 0; p < plane; p++) put(base + pix[p], row[p], Math.min(wPix[p], wn));
        }
      }
      n0 += b;
      opts.onPlanes?.(n0, N);
    }
    if (results) {
      for (let p = 0; p < plane; p++) {
        const at = k0 * sN + pix[p];
        const wp = wPix[p];
        for (let q = 0; q < kb; q++) put(at + q * sN, results[q * plane + p], Math.min(wp, wNormal[k0 + q]));
      }
    }
  }
  return out;
}
