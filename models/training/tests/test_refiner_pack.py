"""ldm.refiner_pack: volumes packed to a byte budget come back as load_volumes gives them."""
import glob
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from ldm import refiner_pack as P  # noqa: E402
from ldm.data import DataError  # noqa: E402
from test_refiner import tiny_config  # noqa: E402


def body(shape, lo, hi, seed):
    """Air (-1000 HU) with a noisy box of tissue between voxel corners lo and hi: noise does not
    compress, so the packed size follows the body's size."""
    rng = np.random.default_rng(seed)
    v = np.full(shape, -1.0, np.float32)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    v[box] = (rng.integers(-200, 1200, [b - a for a, b in zip(lo, hi)]) + rng.random() * 0.4) / 1000
    return v


class RefinerPackTest(unittest.TestCase):
    def test_round_trip_crop_and_budget(self):
        vols = [('coarse', body((40, 50, 60), (5, 10, 12), (30, 40, 50), 0), [3.0, 2.0, 2.0]),
                ('fine', body((30, 90, 90), (0, 20, 30), (30, 70, 80), 1), [0.8, 0.8, 0.8]),
                ('huge', body((200, 100, 100), (0, 0, 0), (200, 100, 100), 2), [1.0, 1.0, 1.0])]
        logs = []
        with tempfile.TemporaryDirectory() as d:
            # ~1.4 bytes per noisy voxel: 'fine' 0.11 MB, 'coarse' 0.04 MB, 'huge' 2.8 MB whole,
            # 1.1 MB as an 80-voxel slab
            names = P.pack(vols + [('small', body((30, 60, 90), (0, 0, 0), (30, 60, 90), 5), [1.0, 1.0, 1.0])], d,
                           budget_mb=1.7, share=0.5, min_plane=16, log=logs.append)
            self.assertEqual(names, ['fine', 'huge', 'small', 'coarse'])  # finest voxel spacing first
            size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, '*.i16.xz')))
            self.assertLessEqual(size, 1.7e6)
            back = {n: (v, s) for n, v, s in P.load_packed(d, log=logs.append)}
            for name, vol, spacing in vols:
                got, sp = back[name]
                self.assertEqual(sp, spacing)
                # HU rounded to integers: at most 0.5 HU off, and exactly the body box (+ margin)
                import json
                with open(os.path.join(d, name + '.json')) as f:
                    box = tuple(slice(a, b) for a, b in json.load(f)['box'])
                np.testing.assert_allclose(got, vol[box], atol=0.5e-3 + 1e-7, rtol=0)
            v, _ = back['coarse']
            self.assertEqual(v.shape, (25 + 2 * 4, 30 + 2 * 4, 38 + 2 * 4))
            # 'huge' exceeded half the budget (0.85 MB): a centred slab of its longest axis, >= 80 voxels
            self.assertEqual(back['huge'][0].shape[1:], (100, 100))
            self.assertTrue(80 <= back['huge'][0].shape[0] < 200)
            # a second pack into the same folder replaces the first; what does not fit is skipped,
            # and so is a body too small for a training plane
            names = P.pack(vols + [('small', body((30, 60, 90), (0, 0, 0), (30, 60, 90), 5), [1.0, 1.0, 1.0])], d,
                           budget_mb=0.2, share=1.0, min_plane=40, log=logs.append)
            self.assertEqual(names, ['fine'])
            self.assertTrue(any('huge' in r['info'] and 'does not fit' in r['info'] for r in logs))
            # 'coarse' (a 33 x 38 x 46 body with its margin) has no 40 x 40 plane
            self.assertTrue(any('coarse' in r['info'] and 'no 40 x 40 plane' in r['info'] for r in logs))
            self.assertEqual(sorted(n for n, _, _ in P.load_packed(d, log=logs.append)), sorted(names))

    def test_training_runs_on_a_pack_from_a_start_file(self):
        import json
        import torch
        from ldm import train_refiner as T
        from ldm.refiner import Refiner
        with tempfile.TemporaryDirectory() as d:
            P.pack([('v', body((90, 90, 90), (0, 0, 0), (90, 90, 90), 4), [1.0, 1.0, 1.0])], os.path.join(d, 'pack'),
                   5.0, log=lambda r: None)
            start = Refiner(channels=8, blocks=1)
            torch.save({'ema': start.state_dict(), 'step': 0}, os.path.join(d, 'pack', 'start.pt'))
            T.main(['--config', tiny_config(d), '--checkpoint-dir', d, '--minutes', '0.01', '--threads', '1',
                    '--packed', os.path.join(d, 'pack'), '--batch-size', '3',
                    '--warm-start', os.path.join(d, 'pack', 'start.pt')])
            with open(os.path.join(d, 'refiner', 'log.jsonl')) as f:
                infos = [json.loads(line).get('info', '') for line in f]
            self.assertTrue(any('1 packed volumes' in i for i in infos))
            ck = T.torch_load(os.path.join(d, 'refiner', 'last.pt'))
            self.assertGreater(ck['step'], 0)
            self.assertEqual(ck['config']['refiner']['batch_size'], 3)

    def test_an_empty_or_damaged_pack_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(FileNotFoundError):
                P.load_packed(d, log=lambda r: None)
            P.pack([('a', body((20, 20, 20), (2, 2, 2), (18, 18, 18), 3), [1.0, 1.0, 1.0])], d, 1.0, min_plane=8,
                   log=lambda r: None)
            import json
            with open(os.path.join(d, 'a.json')) as f:
                meta = json.load(f)
            meta['shape'][0] += 1
            with open(os.path.join(d, 'a.json'), 'w') as f:
                json.dump(meta, f)
            with self.assertRaisesRegex(ValueError, 'a: .* voxels packed'):
                P.load_packed(d, log=lambda r: None)
        with tempfile.TemporaryDirectory() as d:  # a held-out scan is refused however it got there
            P.pack([('lidc-idri-0001', body((20, 20, 20), (2, 2, 2), (18, 18, 18), 3), [1.0, 1.0, 1.0])], d, 1.0,
                   min_plane=8, log=lambda r: None)
            with self.assertRaisesRegex(DataError, 'lidc-idri-0001 .* held out'):
                P.load_packed(d, log=lambda r: None)


if __name__ == '__main__':
    unittest.main()
