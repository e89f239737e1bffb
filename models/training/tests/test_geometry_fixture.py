"""The committed cross-language fixture is reproduced by the current Python geometry,
and the Python geometry satisfies the conventions on its own."""
import json
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from ldm import geometry as G  # noqa: E402
import make_geometry_fixture as M  # noqa: E402


class FixtureTest(unittest.TestCase):
    def test_fixture_reproduced(self):
        with open(M.FIXTURE) as f:
            fixture = json.load(f)
        fresh = M.build()
        self.assertEqual(len(fixture['cases']), len(fresh['cases']))
        for old, new in zip(fixture['cases'], fresh['cases']):
            with self.subTest(case=old['name']):
                self.assertEqual(old['name'], new['name'])
                self.assertEqual(old['spec'], json.loads(json.dumps(new['spec'])))
                for key in ('indexToGroup', 'indexToPatient', 'latentAffine', 'spacingMm', 'centreGroup'):
                    np.testing.assert_allclose(old['expected'][key], new['expected'][key], rtol=0, atol=1e-9)
                for key in ('channels', 'latentConditioning'):
                    np.testing.assert_allclose(old['expected'][key], new['expected'][key], rtol=0, atol=1e-6)
                self.assertEqual(old['expected']['dims'], new['expected']['dims'])
                self.assertEqual(old['expected']['latentDims'], new['expected']['latentDims'])

    def test_scan_group_space_matches_scan(self):
        with open(M.FIXTURE) as f:
            fixture = json.load(f)
        for case in fixture['cases']:
            if case['scan']:
                g = G.scan_extent_group_space(case['scan']['dims'], G.as_affine(case['scan']['indexToPatient']))
                np.testing.assert_allclose(g.origin_mm, case['groupSpace']['originMm'], atol=1e-9)
                np.testing.assert_allclose(g.extent_mm, case['groupSpace']['extentMm'], atol=1e-9)


class ConventionTest(unittest.TestCase):
    def test_scan_extent_full_fov_is_identity_of_scan(self):
        # the scan's own grid in its scan-extent space: corners at 0 and 1
        dims = [40, 30, 20]
        a = G.dicom_affine([1, 0, 0, 0, 1, 0], [0.8, 0.7], [10, 20, 30], [0, 0, 2.0])
        g = G.scan_extent_group_space(dims, a)
        c = G.coordinate_channels(dims, G.index_to_group(a, g))
        self.assertAlmostEqual(float(c[0, 0, 0, 0]), 0.0, places=6)
        self.assertAlmostEqual(float(c[0, 0, 0, -1]), 1.0, places=6)
        self.assertAlmostEqual(float(c[1, 0, -1, 0]), 1.0, places=6)
        self.assertAlmostEqual(float(c[2, -1, 0, 0]), 1.0, places=6)

    def test_latent_conditioning_equals_avgpool(self):
        r = G.resolve_geometry({'kind': 'fov', 'dims': [24, 16, 32], 'fov': [[0.1, 0.7], [0, 1], [0.3, 0.9]],
                                'rotationDeg': [5, 10, 15]}, G.GroupSpace('scan-extent', np.zeros(3), np.array([300.0, 250.0, 400.0])))
        full = G.coordinate_channels(r.dims, r.index_to_group)
        np.testing.assert_allclose(G.avg_pool(full), G.latent_conditioning(r.dims, r.index_to_group), atol=2e-6)

    def test_torch_avgpool_agrees(self):
        import torch
        torch.set_num_threads(1)
        r = G.resolve_geometry({'kind': 'fov', 'dims': [16, 24, 8], 'rotationDeg': [0, 30, 0]},
                               G.GroupSpace('scan-extent', np.zeros(3), np.array([100.0, 120.0, 80.0])))
        full = torch.from_numpy(G.coordinate_channels(r.dims, r.index_to_group))[None].double()
        pooled = torch.nn.AvgPool3d(8, 8)(full)[0].numpy()
        np.testing.assert_allclose(pooled, G.latent_conditioning(r.dims, r.index_to_group), atol=2e-6)

    def test_rotation_quarter_turn_exact(self):
        r = G.rotation_euler_deg(0, 0, 90)
        np.testing.assert_array_equal(r[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]])

    def test_affine_spec_rejects_singular_and_non_affine(self):
        g = G.GroupSpace('scan-extent', np.zeros(3), np.array([300.0, 250.0, 400.0]))
        flat = [0.1, 0, 0, 0, 0, 0.1, 0, 0, 0.2, 0.2, 0, 0, 0, 0, 0, 1]  # third column zero: rank 2
        with self.assertRaises(G.GeometryError) as e:
            G.resolve_geometry({'kind': 'affine', 'dims': [8, 8, 8], 'indexToGroup': flat}, g)
        self.assertEqual(e.exception.code, 'singular-affine')
        bad_row = [0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 1, 1]
        with self.assertRaises(G.GeometryError) as e:
            G.resolve_geometry({'kind': 'affine', 'dims': [8, 8, 8], 'indexToGroup': bad_row}, g)
        self.assertEqual(e.exception.code, 'invalid-spec')

    def test_invert(self):
        a = G.as_affine([0.05, 0.01, 0.002, 0.1, -0.003, 0.08, 0.004, -0.2, 0.02, 0.005, 0.035, 0.3, 0, 0, 0, 1])
        np.testing.assert_allclose(G.compose(a, G.invert(a)), np.eye(4), atol=1e-12)


if __name__ == '__main__':
    unittest.main()
