/**
 * THE axis and space conventions of this product. Every module, the Python
 * training code (models/training/ldm/geometry.py) and the ONNX model contract use
 * exactly these; docs/conventions.md restates them for humans.
 *
 * Index space (voxels)
 *   A voxel index is (i, j, k) = (column, row, slice), zero-based, at voxel
 *   CENTRES. `Dims3` lists grid sizes in the same order: [nx, ny, nz].
 *   Memory layout is C-order with i fastest: offset = (k * ny + j) * nx + i.
 *   As an ONNX/PyTorch tensor this is [B, C, D, H, W] = [B, C, nz, ny, nx]:
 *   D runs along the slice axis k, H along rows j, W along columns i.
 *
 * Patient space (mm)
 *   DICOM LPS: +x towards the patient's Left, +y Posterior, +z Superior (head).
 *   A Volume's affine maps index (i, j, k, 1) to patient (x, y, z, 1) in mm.
 *
 * Group space (unitless, [0,1]^3)
 *   The normalised body space of a model (see groupSpace.ts). Its axes
 *   (u, v, w) follow the patient axes: u along +x (right -> left),
 *   v along +y (anterior -> posterior), w along +z (feet -> head), so
 *   w = 0 is the inferior end and w = 1 the superior end of the range.
 *   Coordinate channel c (c = 0, 1, 2) of a voxel holds (u, v, w)[c] of its
 *   centre: channels = A * (i, j, k, 1) with A the index -> group affine.
 *
 * Affines are 4x4, row-major, stored as 16 numbers (float64), last row 0 0 0 1.
 */

/** Grid size in index order [nx, ny, nz] (columns, rows, slices). */
export type Dims3 = readonly [nx: number, ny: number, nz: number];

/** A 3-vector; units are stated by the name of whatever holds it. */
export type Vec3 = readonly [number, number, number];

/** Number of voxels of a grid. */
export function voxelCount(dims: Dims3): number {
  return dims[0] * dims[1] * dims[2];
}

/** Memory offset of voxel (i, j, k) in a C-order [nz][ny][nx] array. */
export function voxelOffset(dims: Dims3, i: number, j: number, k: number): number {
  return (k * dims[1] + j) * dims[0] + i;
}

/** ONNX shape [B, C, D, H, W] of a batch of volumes with the given grid. */
export function onnxShape(
  batch: number,
  channels: number,
  dims: Dims3,
): [number, number, number, number, number] {
  return [batch, channels, dims[2], dims[1], dims[0]];
}

/** Grid [nx, ny, nz] from an ONNX spatial shape [D, H, W]. */
export function dimsFromOnnxSpatial(dhw: readonly [number, number, number]): Dims3 {
  return [dhw[2], dhw[1], dhw[0]];
}

export function isPositiveIntegerDims(dims: Dims3): boolean {
  return dims.length === 3 && dims.every((n) => Number.isInteger(n) && n > 0);
}
