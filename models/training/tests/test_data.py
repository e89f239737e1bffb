"""Data pipeline: augmentation by one affine + grid_sample puts anatomy where the
coordinate channels say; loaders give LPS affines; the held-out scan is refused."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm import data as D  # noqa: E402
from ldm import geometry as G  # noqa: E402

torch.set_num_threads(1)

COEF = np.array([0.0011, -0.0007, 0.0013])
BIAS = 0.4


def linear_field(dims, affine):
    """value = COEF . patient + BIAS at every voxel centre, [nz, ny, nx]."""
    c = G.coordinate_channels(dims, affine).astype(np.float64)  # index -> patient as 'channels'
    return (COEF[0] * c[0] + COEF[1] * c[1] + COEF[2] * c[2] + BIAS).astype(np.float32)


class AugmentationTest(unittest.TestCase):
    def setUp(self):
        # oblique, anisotropic, x-flipped source grid (as a NIfTI converted to LPS would be)
        rot = G.rotation_euler_deg(3, -4, 7)
        self.affine = G.compose(G.translation([120.0, -80.0, 300.0]), rot, G.scaling([-1.1, 0.9, 2.5]))
        self.dims = (48, 40, 30)
        vol = linear_field(self.dims, self.affine)
        self.scan = D.Scan('synthetic', vol, self.affine, goals=(1.0, 2.0, 4.0))

    def check_sample(self, spec):
        s = D.make_sample(self.scan, spec)
        r = s['resolved']
        img = s['image'][0].numpy().astype(np.float64)
        coords = s['coords'].numpy().astype(np.float64)
        # the coordinate channels are the group coordinates of the sample's voxels...
        np.testing.assert_allclose(coords, G.coordinate_channels(r.dims, r.index_to_group), atol=1e-6)
        # ... so group -> patient of the channels gives each voxel's patient position:
        g2p = G.group_to_patient(self.scan.group)
        pat = np.einsum('ab,bzyx->azyx', g2p[:3, :3], coords) + g2p[:3, 3][:, None, None, None]
        expected = COEF[0] * pat[0] + COEF[1] * pat[1] + COEF[2] * pat[2] + BIAS
        # voxels whose source position lies inside the sampled level (elsewhere: padding)
        level = self.scan.level_for(float(min(r.spacing_mm)))
        src = np.einsum('ab,bzyx->azyx', G.compose(level.inv, G.group_to_patient(self.scan.group))[:3, :3], coords)
        src += G.compose(level.inv, G.group_to_patient(self.scan.group))[:3, 3][:, None, None, None]
        n = level.vol.shape[2:][::-1]
        inside = np.all([(src[a] >= -1e-6) & (src[a] <= n[a] - 1 + 1e-6) for a in range(3)], axis=0)
        self.assertGreater(inside.mean(), 0.2, 'sample should mostly overlap the source')
        err = np.abs(img - expected)[inside].max()
        self.assertLess(err, 2e-4, f'{spec}: max error {err}')
        return s

    def test_full_fov(self):
        self.check_sample({'kind': 'fov', 'dims': [32, 24, 16]})

    def test_crop_resize_rotate(self):
        rng = np.random.default_rng(3)
        cfg = D.AugmentConfig(grid_min=16, grid_max=40, rotation_prob=1.0, rotation_max_deg=(15, 15, 30))
        for _ in range(8):
            dims = D.random_dims(rng, cfg)
            spec = D.random_geometry(self.scan, dims, rng, cfg)
            self.check_sample(spec)

    def test_coarse_sample_uses_pooled_level(self):
        s = self.check_sample({'kind': 'fov', 'dims': [8, 8, 8], 'rotationDeg': [0, 0, 45]})
        self.assertGreater(min(s['resolved'].spacing_mm), 4.0)

    def test_pooling_keeps_linear_field(self):
        v, a = D.pool_volume(linear_field(self.dims, self.affine), self.affine, (2, 3, 2))
        np.testing.assert_allclose(v, linear_field((v.shape[2], v.shape[1], v.shape[0]), a), atol=2e-6)

    def test_intensity_mapping(self):
        m = D.Intensity(-1000, 1000)
        np.testing.assert_allclose(m.to_model([-2048, -1000, 0, 1000, 3000]), [0, 0, 0.5, 1, 1])
        np.testing.assert_allclose(m.to_hu(m.to_model([-500.0, 250.0])), [-500, 250], atol=1e-3)


class LoaderTest(unittest.TestCase):
    def test_nifti_ras_to_lps(self):
        import nibabel as nib
        arr = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2)  # [i, j, k]
        ras = np.array([[2.0, 0, 0, -10], [0, 3.0, 0, 20], [0, 0, 4.0, 30], [0, 0, 0, 1]])
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'x.nii.gz')
            nib.save(nib.Nifti1Image(arr, ras), p)
            vol, aff = D.load_nifti(p)
        self.assertEqual(vol.shape, (2, 3, 4))
        self.assertEqual(vol[1, 2, 3], arr[3, 2, 1])
        np.testing.assert_allclose(aff, np.diag([-1, -1, 1, 1]) @ ras)

    def test_slab_keeps_patient_positions(self):
        import nibabel as nib
        rng = np.random.default_rng(3)
        arr = rng.integers(-1000, 1000, (5, 4, 9)).astype(np.int16)  # [i, j, k]
        ras = np.array([[0.0, 1.5, 0.2, -10], [-2.0, 0, 0, 20], [0, 0.1, 3.0, 30], [0, 0, 0, 1]])
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'x.nii.gz')
            nib.save(nib.Nifti1Image(arr, ras), p)
            entry = {'name': 'x', 'path': p, 'kind': 'nifti'}
            full = D.load_training_scans(d, scan_list=[entry], log=lambda _m: None)[0]
            part = D.load_training_scans(d, scan_list=[{**entry, 'slices': [3, 8]}], log=lambda _m: None)[0]
            with self.assertRaises(D.DataError):
                D.load_training_scans(d, scan_list=[{**entry, 'slices': [3, 10]}], log=lambda _m: None)
        self.assertEqual(part.dims, (5, 4, 5))
        # every voxel of the slab is the source voxel at the same patient position
        v_full, v_part = full.levels[0].vol[0, 0].numpy(), part.levels[0].vol[0, 0].numpy()
        for k, j, i in [(0, 0, 0), (4, 3, 4), (2, 1, 3)]:
            pos = part.affine @ np.array([i, j, k, 1.0])
            src = np.linalg.solve(full.affine, pos)
            np.testing.assert_allclose(src, [i, j, k + 3, 1], atol=1e-9)
            self.assertEqual(v_part[k, j, i], v_full[k + 3, j, i])
        np.testing.assert_array_equal(v_part, v_full[3:8])

    def test_held_out_refused(self):
        with self.assertRaises(D.DataError):
            D.load_scan(D.DEFAULT_DATA_ROOT, 'lidc-idri-0001', 'dicom')
        self.assertNotIn('lidc-idri-0001', [t[1] for t in D.TRAINING_SCANS])

    @unittest.skipUnless(os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002')), 'no shared data')
    def test_dicom_series(self):
        vol, aff = D.load_scan(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002', 'dicom')
        self.assertEqual(vol.shape, (30, 512, 512))
        np.testing.assert_allclose(G.axis_lengths(aff), [0.646484375, 0.646484375, 8.0], atol=1e-6)
        self.assertGreater(aff[2, 2], 0)  # k runs along +N (towards the head for axial)
        self.assertLess(vol.min(), -900)  # rescale applied (HU)

    @unittest.skipUnless(os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'ge-head-gantry-tilt')), 'no shared data')
    def test_tilted_nonuniform_series_rejected(self):
        with self.assertRaises(D.DataError):
            D.load_dicom_series(os.path.join(D.DEFAULT_DATA_ROOT, 'ge-head-gantry-tilt'))


if __name__ == '__main__':
    unittest.main()
