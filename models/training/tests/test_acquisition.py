"""ldm.acquisition: the shared fixture (written by make_acquisition_fixture.py, checked by
volume/acquisition.test.ts against the TS twin) still matches the Python code."""
import json
import os
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_acquisition_fixture as F  # noqa: E402
from ldm.acquisition import Acquisition, AcquisitionError, AxisAcquisition, block_axis, down_matrix  # noqa: E402


class FixtureTest(unittest.TestCase):
    def test_fixture_matches_python(self):
        with open(F.FIXTURE) as f:
            old = json.load(f)
        new = F.build()
        for a, b in zip(old['axisCases'], new['axisCases']):
            np.testing.assert_allclose(a['down'], b['down'], atol=1e-8, err_msg=a['name'])
            np.testing.assert_allclose(a['up'], b['up'], atol=1e-8, err_msg=a['name'])
        for key in ('acquired', 'backProjection10', 'projectFromMinus200Iter3'):
            np.testing.assert_allclose(old['volume'][key], new['volume'][key], atol=1e-3, err_msg=key)


class OperatorTest(unittest.TestCase):
    def test_block_axis_is_block_averaging(self):
        ax = block_axis(12, 4)
        x = torch.arange(12, dtype=torch.float64)
        D = torch.from_numpy(down_matrix(12, ax))
        np.testing.assert_allclose((D @ x).numpy(), [1.5, 5.5, 9.5])

    def test_projection_reproduces_samples(self):
        acq = Acquisition((24, 4, 5), [AxisAcquisition(8, 1.0, 3.0, 'gaussian', 3.0), AxisAcquisition(4, 0, 1, 'box', 1),
                                        AxisAcquisition(5, 0, 1, 'box', 1)], dtype=torch.float64)
        truth = torch.sin(torch.arange(24 * 20, dtype=torch.float64) * 0.37).reshape(24, 4, 5) * 400
        y = acq.down(truth)
        x = acq.back_project(y, 300)
        self.assertLess(float((acq.down(x) - y).abs().max()), 0.05)

    def test_refuses_samples_outside_the_grid(self):
        with self.assertRaises(AcquisitionError):
            down_matrix(10, AxisAcquisition(3, 0, 5, 'box', 5))
        with self.assertRaises(AcquisitionError):
            down_matrix(10, AxisAcquisition(3, 0, 2, 'cubic', 2))


if __name__ == '__main__':
    unittest.main()
