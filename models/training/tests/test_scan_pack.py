"""ldm.scan_pack: training scans packed with their geometry read back as training reads the
originals (values within int16 rounding, affines exactly those of data.pool_volume), slabs kept,
and refusals (held-out scan, over budget, a slab of an averaged slice axis) that leave nothing
half-written and an earlier pack in place."""
import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm import data as D  # noqa: E402
from ldm import scan_pack as P  # noqa: E402


def write_nifti(path, hu_kji, spacing, origin):
    """hu [nz, ny, nx] HU -> NIfTI (RAS affine, as the shared data's)."""
    import nibabel as nib
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = origin
    nib.save(nib.Nifti1Image(np.ascontiguousarray(hu_kji.transpose(2, 1, 0)).astype(np.int16), aff), path)


class ScanPackTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, 'data')
        os.makedirs(self.root)
        rng = np.random.default_rng(3)
        # a fine scan (0.7 mm in-plane: averaged 3x3 to 2.1 mm) and a coarse one (kept as is)
        self.fine = rng.integers(-1000, 1500, size=(12, 30, 33)).astype(np.float32)
        self.coarse = rng.integers(-1000, 1500, size=(10, 9, 8)).astype(np.float32)
        write_nifti(os.path.join(self.root, 'fine.nii.gz'), self.fine, (0.7, 0.7, 3.0), (10.0, -20.0, 5.0))
        write_nifti(os.path.join(self.root, 'coarse.nii.gz'), self.coarse, (2.0, 2.0, 2.5), (0.0, 0.0, 0.0))
        self.ae = [{'name': 'fine', 'path': 'fine.nii.gz', 'kind': 'nifti'},
                   {'name': 'coarse', 'path': 'coarse.nii.gz', 'kind': 'nifti'}]
        self.unet = [{'name': 'fine-slab', 'path': 'fine.nii.gz', 'kind': 'nifti', 'slices': [4, None]}]
        self.out = os.path.join(self.tmp.name, 'pack')

    def tearDown(self):
        self.tmp.cleanup()

    def test_packed_scans_read_back_as_training_reads_the_originals(self):
        r = P.pack(self.ae, self.unet, self.out, root=self.root, budget_mb=10, min_spacing_mm=1.5, log=lambda _: None)
        self.assertEqual(sorted(r['scans']), ['coarse', 'fine'])  # the slab's scan packed once
        with open(os.path.join(self.out, 'autoencoder-scans.json')) as f:
            ae = json.load(f)
        with open(os.path.join(self.out, 'unet-scans.json')) as f:
            unet = json.load(f)
        self.assertEqual([e['kind'] for e in ae + unet], ['packed'] * 3)
        self.assertEqual(unet[0]['slices'], [4, None])
        for e in self.ae:
            hu, aff = D.load_scan(self.root, e['path'], e['kind'])
            f = P.pool_factors(aff, 1.5)
            want, want_aff = D.pool_volume(hu, aff, f) if max(f) > 1 else (hu, aff)
            got, got_aff = D.load_scan(self.out, [p for p in ae if p['name'] == e['name']][0]['path'], 'packed')
            self.assertEqual(got.shape, want.shape, e['name'])
            self.assertLessEqual(float(np.abs(got - want).max()), 0.5, e['name'])
            np.testing.assert_array_equal(got_aff, want_aff)
            self.assertTrue(all(s >= 1.5 - 1e-9 for s in np.sqrt((got_aff[:3, :3] ** 2).sum(0))), e['name'])
        self.assertEqual(P.pool_factors(D.load_scan(self.root, 'fine.nii.gz', 'nifti')[1], 1.5), [3, 3, 1])
        # through the training loader: the same grids and group spaces as from the originals (pooled)
        scans = D.load_training_scans(self.out, scan_list=ae + unet, log=lambda _: None)
        self.assertEqual([s.name for s in scans], ['fine', 'coarse', 'fine-slab'])
        self.assertEqual(scans[0].dims, (11, 10, 12))
        self.assertEqual(scans[2].dims, (11, 10, 8))  # slices 4.. of 12

    def test_refusals_write_nothing_and_keep_an_earlier_pack(self):
        P.pack(self.ae[1:], [], self.out, root=self.root, budget_mb=10, log=lambda _: None)
        before = sorted(os.listdir(self.out))
        held = [{'name': 'lidc-idri-0001', 'path': 'fine.nii.gz', 'kind': 'nifti'}]
        with self.assertRaisesRegex(D.DataError, 'held out'):
            P.pack(held, [], self.out, root=self.root, log=lambda _: None)
        with self.assertRaisesRegex(D.DataError, 'over its budget of 0.001 MB'):
            P.pack(self.ae, self.unet, self.out, root=self.root, budget_mb=0.001, log=lambda _: None)
        with self.assertRaisesRegex(D.DataError, 'fine-slab is a slab of fine, whose slices'):
            P.pack(self.ae, self.unet, self.out, root=self.root, min_spacing_mm=4.0, log=lambda _: None)
        self.assertEqual(sorted(os.listdir(self.out)), before)
        self.assertEqual([n for n in os.listdir(self.tmp.name) if n.startswith('.scan-pack-')], [])

    def test_a_truncated_pack_is_refused(self):
        P.pack(self.ae[1:], [], self.out, root=self.root, budget_mb=10, log=lambda _: None)
        path = os.path.join(self.out, 'coarse' + P.SUFFIX)
        import lzma
        with open(path, 'wb') as f:
            f.write(lzma.compress(np.zeros(5, np.int16).tobytes()))
        with self.assertRaisesRegex(D.DataError, '5 voxels packed'):
            D.load_scan(self.out, 'coarse' + P.SUFFIX, 'packed')
        with self.assertRaisesRegex(ValueError, 'unknown scan kind'):
            D.load_scan(self.out, 'coarse' + P.SUFFIX, 'npz')


if __name__ == '__main__':
    unittest.main()
