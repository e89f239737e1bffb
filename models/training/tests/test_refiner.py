"""ldm.refiner and ldm.train_refiner: contract, plane passes and a short resumable run."""
import contextlib
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ldm.acquisition import AxisAcquisition, identity_axis  # noqa: E402
from ldm.refiner import Refiner, plane_features, refine_planes, refiner_from_onnx, refiner_shape  # noqa: E402
from ldm import train_refiner as T  # noqa: E402


def tiny_config(folder: str) -> str:
    """configs/demo.json with a tiny refiner that logs every step, written into folder."""
    import json
    with open(os.path.join(os.path.dirname(HERE), 'configs', 'demo.json')) as f:
        cfg = json.load(f)
    cfg['refiner'].update({'channels': 8, 'blocks': 1, 'batch_size': 2, 'log_every': 1, 'ckpt_every': 1000})
    path = os.path.join(folder, 'c.json')
    with open(path, 'w') as f:
        json.dump(cfg, f)
    return path


@contextlib.contextmanager
def volumes_of(vols: list):
    """train_refiner.main trains on vols instead of the shared data."""
    real = T.load_volumes
    T.load_volumes = lambda root, scans, log: vols
    try:
        yield
    finally:
        T.load_volumes = real


class RefinerTest(unittest.TestCase):
    def test_untrained_refiner_is_identity(self):
        net = Refiner(channels=8, blocks=1)
        x = torch.randn(2, 3, 10, 12)
        f = torch.randn(2, 12)
        torch.testing.assert_close(net(x, f), x[:, 1:2])

    def test_features(self):
        f = plane_features(AxisAcquisition(4, 0.5, 2.0, 'gaussian', 3.0), identity_axis(8),
                           AxisAcquisition(3, 0, 2.0, 'point', 0.0))
        self.assertEqual(f, [0.5, 0.75, 1.0, 0.0, 0.25, 0.25, 0.0, 0.0, 0.5, 0.0, 0.0, 1.0])

    def test_plane_pass_puts_rows_and_columns_where_asked(self):
        class Probe(torch.nn.Module):
            context = 3

            def forward(self, planes, acq):  # marks rows with their index: out[h, w] = h
                b, _, h, w = planes.shape
                return torch.arange(h, dtype=torch.float32).view(1, 1, h, 1).expand(b, 1, h, w)

        vol = torch.zeros(5, 6, 7)
        out = refine_planes(Probe(), vol, (0, 2), [0.0] * 12)  # rows = axis 0, cols = axis 2
        self.assertEqual(out.shape, vol.shape)
        torch.testing.assert_close(out[:, 3, 4], torch.arange(5, dtype=torch.float32))
        # mirrored in, mirrored back out: the probe's row index comes back reversed
        out = refine_planes(Probe(), vol, (0, 2), [0.0] * 12, flip=(True, False))
        torch.testing.assert_close(out[:, 3, 4], torch.arange(5, dtype=torch.float32).flip(0))

    def test_pairs_and_a_resumed_run(self):
        rng = np.random.default_rng(0)
        vols = [('a', (rng.random((90, 90, 90)) * 2 - 1).astype(np.float32), [1.0, 1.0, 1.0])]
        s = T.PairSampler(vols, 0)
        u, x, f = s.batch(2)
        self.assertEqual(tuple(u.shape), (2, 3, 80, 80))
        self.assertEqual(tuple(x.shape), (2, 1, 80, 80))
        self.assertEqual(tuple(f.shape), (2, 12))

    def test_thick_slice_scans_teach_their_fine_plane_only(self):
        self.assertIsNone(T.in_plane_axes([1.0, 1.5, 1.5]))
        self.assertEqual(T.in_plane_axes([5.0, 0.84, 0.84]), (1, 2))
        self.assertEqual(T.in_plane_axes([0.7, 3.0, 0.7]), (0, 2))
        with self.assertRaises(T.D.DataError):
            T.in_plane_axes([0.7, 3.0, 5.0])
        rng = np.random.default_rng(2)
        vol = (rng.random((6, 100, 100)) * 2 - 1).astype(np.float32)
        s = T.PairSampler([('thick', vol, [5.0, 0.8, 0.8])], 0)
        for _ in range(6):
            u, x, f = s.pair()
            # the truth is an axial plane of the scan (up to the crop, flips and a transpose)
            crops = [vol[k, i:i + 80, j:j + 80] for k in range(6) for i in range(21) for j in range(21)]
            t = x.numpy()
            self.assertTrue(any(np.array_equal(c[::a, ::b], t) or np.array_equal(c.T[::a, ::b], t)
                                for c in crops for a in (1, -1) for b in (1, -1)))
            # no neighbours 5 mm away pose as fine ones: the centre stands in for them
            torch.testing.assert_close(u[0], u[1])
            torch.testing.assert_close(u[2], u[1])
            self.assertFalse(torch.equal(u[1], x))  # the rows were degraded
            self.assertEqual(f[8:].tolist(), [0.25, 0.25, 0.0, 0.0])  # the normal: not degraded

    def test_pair_workers_draw_the_in_process_pairs_and_resume_exactly(self):
        from ldm.pair_workers import PairWorkers
        rng = np.random.default_rng(3)
        vols = [('a', (rng.random((90, 90, 90)) * 2 - 1).astype(np.float32), [1.0, 1.0, 1.0])]

        def make(seed):
            return T.PairSampler(vols, seed)

        def same(a, b):
            for p, q in zip(a, b):
                torch.testing.assert_close(p, q, rtol=0, atol=0)

        # one worker draws exactly the in-process sampler's batches
        inline = make(5)
        with PairWorkers(make, 5, 1, 2) as pool:
            for _ in range(3):
                same(pool.batch(), inline.batch(2))
        # two workers: batches alternate between seeds 5 and 6, and a pool started from the saved
        # states (after 3 batches) continues with the 4th and 5th batch of the uninterrupted run
        with PairWorkers(make, 5, 2, 2) as pool:
            first = [pool.batch() for _ in range(3)]
            states = pool.states()
            rest = [pool.batch() for _ in range(2)]
        a, b = make(5), make(6)
        same(first[0], a.batch(2))
        same(first[1], b.batch(2))
        same(first[2], a.batch(2))
        with PairWorkers(make, 5, 2, 2, states, start=3) as pool:
            for want in rest:
                same(pool.batch(), want)

    def test_a_failing_pair_worker_is_reported_not_waited_for(self):
        from ldm.pair_workers import PairWorkers

        def broken(seed):
            raise OSError('no such scan')

        with PairWorkers(broken, 0, 1, 2) as pool:
            with self.assertRaisesRegex(RuntimeError, 'pair worker 0 stopped'):
                pool.batch()
        with self.assertRaisesRegex(ValueError, '1 saved sampler states for 2 workers'):
            PairWorkers(broken, 0, 2, 2, [None])

    def test_a_run_with_pair_workers_checkpoints_their_states_and_resumes(self):
        import json
        rng = np.random.default_rng(4)
        vols = [('a', (rng.random((90, 90, 90)) * 2 - 1).astype(np.float32), [1.0, 1.0, 1.0])]
        with volumes_of(vols), tempfile.TemporaryDirectory() as d:
            conf = tiny_config(d)
            run = ['--config', conf, '--checkpoint-dir', d, '--threads', '1']
            T.main(run + ['--minutes', '0.02', '--workers', '2'])
            ck = T.torch_load(os.path.join(d, 'refiner', 'last.pt'))
            self.assertGreater(ck['step'], 1)
            self.assertEqual(len(ck['sampler']['workers']), 2)
            self.assertTrue(all(st is not None for st in ck['sampler']['workers']))
            T.main(run + ['--minutes', '0.04', '--workers', '2'])
            T.main(run + ['--minutes', '0.06', '--workers', '0'])
            with open(os.path.join(d, 'refiner', 'log.jsonl')) as f:
                infos = [json.loads(line).get('info', '') for line in f]
            self.assertEqual(sum('resumed at step' in i for i in infos), 2)
            # the in-loop sampler cannot take the workers' states: it says so and reseeds
            self.assertEqual(sum('another worker count' in i for i in infos), 1)
            self.assertGreater(T.torch_load(os.path.join(d, 'refiner', 'last.pt'))['step'], ck['step'])

    def test_warm_start_takes_the_ema_weights_and_starts_a_new_schedule(self):
        import json
        rng = np.random.default_rng(1)
        vols = [('a', (rng.random((90, 90, 90)) * 2 - 1).astype(np.float32), [1.0, 1.0, 1.0])]
        with volumes_of(vols), tempfile.TemporaryDirectory() as d:
            conf = tiny_config(d)
            first, second = os.path.join(d, 'first'), os.path.join(d, 'second')
            T.main(['--config', conf, '--checkpoint-dir', first, '--minutes', '0.03', '--threads', '1'])
            ck = T.torch_load(os.path.join(first, 'refiner', 'last.pt'))
            self.assertGreater(ck['step'], 0)
            # raw weights far from the EMA, so that the test can tell which one was taken
            ck['model'] = {k: v + 1.0 for k, v in ck['model'].items()}
            torch.save(ck, os.path.join(first, 'refiner', 'last.pt'))
            T.main(['--config', conf, '--checkpoint-dir', second, '--minutes', '1e-9', '--threads', '1',
                    '--warm-start', os.path.join(first, 'refiner', 'last.pt'), '--lr', '0.0003'])
            with open(os.path.join(second, 'refiner', 'log.jsonl')) as f:
                log = [json.loads(line) for line in f]
            self.assertTrue(any('warm start' in r.get('info', '') and 'peak lr 0.0003' in r['info'] for r in log))
            ck2 = T.torch_load(os.path.join(second, 'refiner', 'last.pt'))
            self.assertEqual(ck2['step'], 1)  # a new run: one step (in its warm-up) and stopped
            # ... that started from the old run's EMA (one Adam step moves a weight by about the
            # learning rate, 1.5e-5 in the warm-up), not from its raw weights (1.0 away)
            for k, v in ck['ema'].items():
                self.assertLess(float((ck2['model'][k] - v).abs().max()), 1e-4, k)

    def test_a_deeper_refiner_grown_from_onnx_computes_the_same_and_can_learn(self):
        from ldm.export import export_refiner
        torch.manual_seed(3)
        src = Refiner(channels=8, blocks=2)
        for p in src.parameters():  # a trained-looking source: the tail is not zero
            torch.nn.init.normal_(p, std=0.1)
        x, f = torch.randn(2, 3, 12, 10), torch.randn(2, 12)
        with tempfile.TemporaryDirectory() as d:
            export_refiner(src, d)
            state, origin = T.warm_start_state(os.path.join(d, 'refiner.onnx'))
        self.assertIn('2 blocks of 8 channels', origin)
        big = Refiner(channels=8, blocks=4)
        self.assertEqual(T.grow_into(big, state), 2)
        with torch.no_grad():
            torch.testing.assert_close(big(x, f), src(x, f), atol=1e-5, rtol=0)
        # the new blocks' second convolution is zero but receives a gradient
        big(x, f).square().sum().backward()
        self.assertEqual(float(big.body[3].b.weight.abs().max()), 0.0)
        self.assertGreater(float(big.body[3].b.weight.grad.abs().max()), 0.0)
        with self.assertRaisesRegex(ValueError, 'shape mismatch'):
            T.grow_into(Refiner(channels=16, blocks=4), state)
        with self.assertRaisesRegex(ValueError, 'lacks'):
            T.grow_into(Refiner(channels=8, blocks=1), state)

    def test_set_changes_the_architecture_and_the_checkpoint_says_it(self):
        from ldm.export import main as export_main
        import onnx
        rng = np.random.default_rng(2)
        vols = [('a', (rng.random((90, 90, 90)) * 2 - 1).astype(np.float32), [1.0, 1.0, 1.0])]
        with volumes_of(vols), tempfile.TemporaryDirectory() as d:
            conf = tiny_config(d)  # one block
            run = ['--config', conf, '--checkpoint-dir', d, '--minutes', '1e-9', '--threads', '1']
            T.main(run + ['--set', 'refiner.blocks=3'])
            last = os.path.join(d, 'refiner', 'last.pt')
            self.assertEqual(refiner_shape(T.torch_load(last)['ema']),
                             {'channels': 8, 'blocks': 3, 'context': 3})
            # resuming without the override is refused by name, not by a torch shape error
            with self.assertRaisesRegex(SystemExit, 'blocks.: 3.*blocks.: 1'):
                T.main(run)
            # the export builds the checkpoint's architecture whatever the config says
            out = os.path.join(d, 'model')
            export_main(['--out', out, '--tiny'])
            export_main(['--out', out, '--config', conf, '--refiner-only', '--refiner-checkpoint', last])
            names = {i.name for i in onnx.load(os.path.join(out, 'refiner.onnx')).graph.initializer}
            self.assertEqual(len({n.split('.')[1] for n in names if n.startswith('body.')}), 3)
            with self.assertRaisesRegex(SystemExit, 'no config section'):
                T.main(['--config', conf, '--set', 'refinr.blocks=3'])


    def test_an_exported_refiner_onnx_exports_again_with_the_same_weights(self):
        """ldm.export --refiner-checkpoint refiner.onnx: a candidate model keeps the committed
        refiner without its checkpoint (not in git); fp16 weights stay what they were."""
        from ldm.export import export_refiner, main as export_main
        from ldm.onnx_weights import initializers_equal
        torch.manual_seed(5)
        src = Refiner(channels=8, blocks=2)
        for p in src.parameters():
            torch.nn.init.normal_(p, std=0.1)
        for fp16 in (False, True):
            with tempfile.TemporaryDirectory() as d:
                first, out = os.path.join(d, 'first'), os.path.join(d, 'model')
                export_refiner(src, first, fp16=fp16)
                export_main(['--out', out, '--tiny'])
                args = ['--out', out, '--config', tiny_config(d), '--refiner-only',
                        '--refiner-checkpoint', os.path.join(first, 'refiner.onnx')]
                export_main(args + (['--fp16'] if fp16 else []))
                same, diff = initializers_equal(os.path.join(first, 'refiner.onnx'), os.path.join(out, 'refiner.onnx'))
                self.assertTrue(same, (fp16, diff))
                self.assertEqual(refiner_shape(refiner_from_onnx(os.path.join(out, 'refiner.onnx')).state_dict()),
                                 {'channels': 8, 'blocks': 2, 'context': 3})


if __name__ == '__main__':
    unittest.main()
