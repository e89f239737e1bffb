/**
 * NIfTI written by the product and read back by nibabel (an independent reader):
 * same voxels, and nibabel's RAS affine equals ours flipped from LPS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose, rotationEulerDeg, scaling, translation } from '../geometry/affine';
import { makeVolume } from '../volume/volume';
import { volumeToNifti } from './nifti';

const READ = `
import sys, json, nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
d = np.asarray(img.dataobj)
print(json.dumps({"shape": list(d.shape), "dtype": str(d.dtype), "sform": img.get_sform().tolist(), "qform": img.get_qform().tolist(),
  "v": [float(d[1, 2, 3]), float(d[4, 0, 2]), float(d[0, 0, 0])], "sum": float(d.astype(np.float64).sum())}))
`;

describe('NIfTI writer (checked with nibabel)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'gldm-nii-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['axial', compose(translation([-120, 80, -300]), scaling([0.7, 0.8, 2.5]))],
    ['rotated', compose(translation([10, 20, 30]), rotationEulerDeg(10, -20, 35), scaling([1.5, 1, 2]))],
    ['flipped (det < 0)', compose(translation([5, 5, 5]), scaling([1, -1.2, 3]))],
  ])('%s', (_name, affine) => {
    const dims = [6, 5, 4] as const;
    const data = new Float32Array(120).map((_, n) => n * 1.5 - 40);
    const file = join(dir, 'v.nii');
    writeFileSync(file, volumeToNifti(makeVolume(dims, affine, data, 'HU'), 'test'));
    const r = spawnSync('/usr/bin/python3', ['-c', READ, file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const got = JSON.parse(r.stdout);
    expect(got.shape).toEqual([6, 5, 4]);
    expect(got.dtype).toBe('float32');
    // nibabel indexes [i, j, k]; ours is offset (k*ny + j)*nx + i
    expect(got.v).toEqual([data[(3 * 5 + 2) * 6 + 1], data[(2 * 5 + 0) * 6 + 4], data[0]]);
    const ras = [-1, -1, 1, 1];
    for (const form of [got.sform, got.qform])
      for (let r0 = 0; r0 < 3; r0++)
        for (let c = 0; c < 4; c++) expect(form[r0][c]).toBeCloseTo(ras[r0] * affine[r0 * 4 + c], 4);
  });
});
