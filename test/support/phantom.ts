/**
 * A small smooth "CT" in HU for engine tests: 20 x 18 x 16 voxels at
 * 1.5 x 1.5 x 4 mm (air-to-soft-tissue values, varying along every axis);
 * super-resolved x2 it runs on a 40 x 40 x 32 model grid.
 */
export function smoothCtPhantom(): { dims: [number, number, number]; affine: number[]; data: Float32Array } {
  const [nx, ny, nz] = [20, 18, 16];
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        data[(k * ny + j) * nx + i] = -700 + 300 * Math.sin(i / 4) * Math.cos(j / 5) + 20 * k;
  return { dims: [nx, ny, nz], affine: [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1], data };
}
