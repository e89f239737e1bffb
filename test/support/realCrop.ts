/**
 * Crops (HU) of a real chest CT (lung-pet-ct-dx-a0002, 0.65 mm pixels, 8 mm slices) read
 * straight from its Part 10 files, for engine and CLI tests.
 */
import { readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import { compose, translation } from '../../extensions/geometry-ldm/src/geometry/affine';
import { regularGeometry } from '../../extensions/geometry-ldm/src/geometry/dicomGeometry';
import { makeVolume, type Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { readSeriesHeaders } from './sharedData';

/** A crop of lung-pet-ct-dx-a0002 (HU): `start` voxel (i, j, k along the sorted stack), `dims` [nx, ny, nz]. */
export function realCrop(
  start: readonly [number, number, number] = [240, 200, 9],
  dims: readonly [number, number, number] = [24, 20, 12],
): Volume {
  const headers = readSeriesHeaders('lung-pet-ct-dx-a0002');
  const slices = headers.map((h) => ({
    imagePositionPatient: h.dataset.ImagePositionPatient as number[],
    imageOrientationPatient: h.dataset.ImageOrientationPatient as number[],
    pixelSpacing: h.dataset.PixelSpacing as number[],
    rows: h.dataset.Rows as number,
    columns: h.dataset.Columns as number,
    id: h.file,
  }));
  const g = regularGeometry(slices);
  const [x0, y0, z0] = start;
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    const h = headers[g.stack.order[z0 + k]];
    const buf = readFileSync(h.file);
    const parsed = dcmjs.data.DicomMessage.readFile(
      buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    );
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict);
    const cols = Number(ds.Columns);
    const px =
      ds.PixelRepresentation === 1 ? new Int16Array(ds.PixelData[0]) : new Uint16Array(ds.PixelData[0]);
    const slope = Number(ds.RescaleSlope ?? 1);
    const intercept = Number(ds.RescaleIntercept ?? 0);
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        data[(k * ny + j) * nx + i] = px[(y0 + j) * cols + x0 + i] * slope + intercept;
  }
  return makeVolume([nx, ny, nz], compose(g.affine, translation([x0, y0, z0])), data, 'HU');
}
