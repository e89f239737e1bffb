"""ldm.evaluate's choice of evaluation scan: lidc-idri-0001 of the shared data by default,
or the user's own held-out scan (--data-root / --scan), never a scan the config trains on."""
import argparse
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm import data as D  # noqa: E402
from ldm.evaluate import eval_scan_from_args  # noqa: E402


def args(**kw):
    base = {'data_root': None, 'scan': None, 'scan_kind': None, 'scan_name': None}
    base.update(kw)
    return argparse.Namespace(**base)


class EvalScanTest(unittest.TestCase):
    def test_default_is_the_shared_held_out_scan(self):
        root, scan = eval_scan_from_args(args(), {'data': {'root': None}})
        self.assertEqual(root, os.path.abspath(D.DEFAULT_DATA_ROOT))
        self.assertEqual(scan, ('lidc-idri-0001', 'lidc-idri-0001', 'dicom'))

    def test_own_nifti_scan_loads(self):
        import nibabel as nib
        with tempfile.TemporaryDirectory() as d:
            hu = np.linspace(-1000, 1000, 6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4)  # [i, j, k]
            nib.save(nib.Nifti1Image(hu, np.diag([2.0, 2.0, 3.0, 1.0])), os.path.join(d, 'mine.nii.gz'))
            root, scan = eval_scan_from_args(args(data_root=d, scan='mine.nii.gz'), {'data': {}})
            self.assertEqual(scan, ('mine', 'mine.nii.gz', 'nifti'))
            s = D.load_eval_scan(root, scan=scan)
            self.assertEqual(s.name, 'mine')
            self.assertEqual(tuple(s.dims), (6, 5, 4))  # (nx, ny, nz)
            # absolute path, explicit name
            _, scan = eval_scan_from_args(args(scan=os.path.join(d, 'mine.nii.gz'), scan_name='x'), {'data': {}})
            self.assertEqual(scan[0], 'x')
            self.assertEqual(scan[2], 'nifti')

    def test_dicom_folder_kind_and_refusals(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, 'patient9', 'ct'))
            _, scan = eval_scan_from_args(args(data_root=d, scan='patient9/ct'), {'data': {}})
            self.assertEqual(scan, ('ct', 'patient9/ct', 'dicom'))
            cfg = {'data': {'root': d, 'scans': [{'name': 'p9', 'path': 'patient9/ct', 'kind': 'dicom'}]}}
            with self.assertRaises(SystemExit):  # a training scan is not held out
                eval_scan_from_args(args(data_root=d, scan='patient9/ct'), cfg)
            with self.assertRaises(SystemExit):  # neither a folder nor a NIfTI
                eval_scan_from_args(args(data_root=d, scan='nothing.dcm'), {'data': {}})
            with self.assertRaises(SystemExit):
                eval_scan_from_args(args(scan_name='x'), {'data': {}})
        # the demo config's default training scans are refused too
        with self.assertRaises(SystemExit):
            eval_scan_from_args(args(scan='lung-pet-ct-dx-a0001', scan_kind='dicom'), {'data': {'root': None}})


if __name__ == '__main__':
    unittest.main()
