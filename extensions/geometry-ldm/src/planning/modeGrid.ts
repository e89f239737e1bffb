/**
 * Which result grids each super-resolution mode takes: one rule for the panel and the CLI.
 *
 * - Latent diffusion runs the model's networks on the padded grid, so it keeps the model's grid
 *   range (manifest `grid.min` / `grid.max`, multiples of `grid.multipleOf`).
 * - The AI refiner and the classical back-projection have no model grid: the refiner is a 2D
 *   network run plane by plane, the projection is classical. A whole 512 x 512 series fits them;
 *   what bounds them is memory. The worker holds about eight float32 copies of the result (the
 *   upsampling, the back-projection, a sample, the running mean and M2, the unprojected mean, the
 *   std) and the page six (mean, std, unprojected mean, AI minus classical, classical, trilinear;
 *   planning/estimate.ts), so 2^26 result voxels (e.g. 512 x 512 x 256) is about 2.1 GB in the
 *   worker and 1.6 GB on the page. The refiner keeps about a dozen 48-channel float32 activations
 *   of its largest plane alive in onnxruntime, so planes of up to 2^19 voxels (e.g. 512 x 1024)
 *   keep those near 1.2 GB, inside wasm's 4 GB.
 */
import { voxelCount, type Dims3 } from '../geometry/conventions';
import { checkGrid, type ModelManifest, type SuperResolutionMode } from '../model/manifest';

/** The largest result of the AI and classical modes, in voxels (2^26 = 67,108,864). */
export const PLANE_MODE_MAX_VOXELS = 2 ** 26;
/** Their largest plane (any two axes of the result), in voxels (2^19 = 524,288). */
export const PLANE_MODE_MAX_PLANE = 2 ** 19;

/** Grids of a planned job: the result and the padded grid the latent diffusion would run on. */
export interface ModeGrids {
  readonly output: { readonly dims: Dims3 };
  readonly padded: { readonly dims: Dims3 };
}

/** True when the AI and classical modes take a result of these dims. */
export function planeModeFits(outputDims: Dims3): boolean {
  const [x, y, z] = outputDims;
  return (
    voxelCount(outputDims) <= PLANE_MODE_MAX_VOXELS && Math.max(x * y, x * z, y * z) <= PLANE_MODE_MAX_PLANE
  );
}

/** Why a mode cannot run a job: the sentence, and whether a smaller region would help. */
export interface ModeGridProblem {
  /** One sentence without advice (the caller adds what to do: a panel button or a CLI flag). */
  readonly reason: string;
  /** True when the job is too large (a region fits); false for latent diffusion below grid.min. */
  readonly tooLarge: boolean;
}

/** Null when `mode` can run the job, else why not. */
export function modeGridProblem(
  manifest: ModelManifest,
  mode: SuperResolutionMode,
  grids: ModeGrids,
): ModeGridProblem | null {
  if (mode === 'diffusion') {
    try {
      checkGrid(manifest, grids.padded.dims);
      return null;
    } catch (e) {
      const tooLarge = grids.padded.dims.some((n, a) => n > manifest.grid.max[a]);
      return { reason: (e as Error).message, tooLarge };
    }
  }
  if (planeModeFits(grids.output.dims)) return null;
  const [x, y, z] = grids.output.dims;
  const plane = Math.max(x * y, x * z, y * z);
  const millions = (n: number) => (n / 1e6).toFixed(1);
  const reason =
    `a result of ${x} x ${y} x ${z} voxels (${millions(voxelCount(grids.output.dims))} million, largest plane ` +
    `${plane.toLocaleString('en-US')}) is beyond what the ${mode} mode holds in memory: at most ` +
    `${millions(PLANE_MODE_MAX_VOXELS)} million voxels (e.g. 512 x 512 x 256) and planes of at most ` +
    `${PLANE_MODE_MAX_PLANE.toLocaleString('en-US')} voxels (e.g. 512 x 1024)`;
  return { reason, tooLarge: true };
}
