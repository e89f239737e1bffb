"""The Python loader's rules still write the shared series -> affine fixture that the TypeScript
reader is checked against (geometry/seriesAffine.test.ts), and the loader refuses what they refuse."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_series_affine_fixture as M  # noqa: E402
from ldm import data as D  # noqa: E402


@unittest.skipUnless(os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lidc-idri-0001')), 'no shared data')
class SeriesAffineFixture(unittest.TestCase):
    def test_fixture_is_current(self):
        import json
        with open(M.FIXTURE) as f:
            old = json.load(f)
        new = json.loads(json.dumps(M.build()))
        self.assertEqual(len(old['cases']), len(new['cases']))
        for a, b in zip(old['cases'], new['cases']):
            self.assertEqual(a['name'], b['name'])
            self.assertEqual(a['expected'].get('error'), b['expected'].get('error'), a['name'])
            if 'affine' in b['expected']:
                for x, y in zip(a['expected']['affine'], b['expected']['affine']):
                    self.assertAlmostEqual(x, y, places=9, msg=a['name'])

    def test_loader_refuses_with_the_fixture_code_and_accepts_with_its_affine(self):
        import numpy as np
        cases = {c['name']: c for c in M.build()['cases']}
        with self.assertRaises(D.DataError) as cm:
            D.load_dicom_series(os.path.join(D.DEFAULT_DATA_ROOT, 'ge-head-gantry-tilt'))
        self.assertEqual(cm.exception.code, cases['real: ge-head-gantry-tilt']['expected']['error'])
        _vol, aff = D.load_dicom_series(os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002'))
        np.testing.assert_allclose(aff.flatten(), cases['real: lung-pet-ct-dx-a0002']['expected']['affine'],
                                   atol=1e-9)

    def test_an_unreadable_file_is_named_not_skipped(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp()
        try:
            src = os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002')
            for f in sorted(os.listdir(src))[:6]:
                shutil.copy(os.path.join(src, f), d)
            with open(os.path.join(d, 'notes.txt'), 'w') as f:
                f.write('not DICOM')
            with self.assertRaises(D.DataError) as cm:
                D.load_dicom_series(d)
            self.assertIn('notes.txt', str(cm.exception))
        finally:
            shutil.rmtree(d)


if __name__ == '__main__':
    unittest.main()
