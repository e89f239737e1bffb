"""End to end on real data with the tiny config: autoencoder stage, resume, diffusion
stage, diffusion resume, export from the checkpoints (one command per step; checkpoints
in a temp dir), and the same export from slim checkpoints. Plus device handling of the
training draws and of the RNG states in checkpoints (CPU here; the CUDA cases run where
CUDA is available)."""
import json
import math
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
sys.path.insert(0, TRAINING)
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ldm import data as D  # noqa: E402
from ldm import train as T  # noqa: E402
from ldm.schedule import PAPER_SCHEDULER, Schedule, randn_like_on  # noqa: E402
from module_runner import run_module  # noqa: E402


@unittest.skipUnless(os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002')), 'no shared data')
class TrainSmokeTest(unittest.TestCase):
    def test_train_resume_export(self):
        with tempfile.TemporaryDirectory() as ck, tempfile.TemporaryDirectory() as out:
            cfg = os.path.join('configs', 'tiny-test.json')
            run_module('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', ck, '--max-iters', '2')
            log = run_module('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', ck,
                             '--resume', '--max-iters', '3')
            self.assertIn('resumed at iter 2', log)
            with open(os.path.join(ck, 'autoencoder', 'log.jsonl')) as f:
                iters = [json.loads(line).get('iter') for line in f]
            self.assertEqual([i for i in iters if i is not None], [1, 2, 3])
            run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck, '--max-iters', '2')
            self.assertTrue(os.path.exists(os.path.join(ck, 'diffusion', 'latents.pt')))
            saved = T.torch_load(os.path.join(ck, 'diffusion', 'last.pt'))
            self.assertEqual(saved['iter'], 2)
            log = run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                             '--resume', '--max-iters', '3')
            self.assertIn('resumed at iter 2', log)
            with open(os.path.join(ck, 'diffusion', 'log.jsonl')) as f:
                recs = [json.loads(line) for line in f]
            self.assertEqual([r['iter'] for r in recs if 'iter' in r], [1, 2, 3])
            self.assertTrue(all(r['loss'] > 0 for r in recs if 'iter' in r))
            resumed = T.torch_load(os.path.join(ck, 'diffusion', 'last.pt'))
            self.assertEqual(resumed['iter'], 3)
            self.assertEqual(resumed['latent_scale'], saved['latent_scale'])  # cache reused, not rebuilt
            self.assertGreater(resumed['elapsed'], saved['elapsed'])
            # the model trained on from the saved weights: one more Adam step changed them
            self.assertEqual(int(resumed['opt']['state'][0]['step']), 3)
            self.assertFalse(torch.equal(resumed['model']['out.weight'], saved['model']['out.weight']))
            run_module('ldm.export', '--config', cfg, '--checkpoint-dir', ck, '--out', out)
            with open(os.path.join(out, 'model.json')) as f:
                man = json.load(f)
            self.assertEqual(sorted(man['files']), ['decoder', 'encoder', 'unet'])
            self.assertGreater(man['latent']['scale'], 0)
            # slim checkpoints (the trip back from a GPU machine) export to the same bytes
            with tempfile.TemporaryDirectory() as slim, tempfile.TemporaryDirectory() as out2:
                run_module('ldm.slim_checkpoint', '--checkpoint-dir', ck, '--out', slim)
                small = T.torch_load(os.path.join(slim, 'diffusion', 'last.pt'))
                self.assertEqual(sorted(small), ['config', 'elapsed', 'ema', 'iter', 'latent_scale'])
                run_module('ldm.export', '--config', cfg, '--checkpoint-dir', slim, '--out', out2)
                for part in ('encoder', 'decoder', 'unet'):
                    with open(os.path.join(out, f'{part}.onnx'), 'rb') as f1, \
                            open(os.path.join(out2, f'{part}.onnx'), 'rb') as f2:
                        self.assertEqual(f1.read(), f2.read(), part)
            # half slim checkpoints (what a session commits to resume next time): float16 weights
            # within float16's rounding of the full ones, and training resumes from them
            with tempfile.TemporaryDirectory() as half:
                run_module('ldm.slim_checkpoint', '--checkpoint-dir', ck, '--out', half, '--half')
                full_ae = T.torch_load(os.path.join(ck, 'autoencoder', 'last.pt'))['model']
                half_ae = T.torch_load(os.path.join(half, 'autoencoder', 'last.pt'))['model']
                for k, v in full_ae.items():
                    if v.is_floating_point():
                        self.assertEqual(half_ae[k].dtype, torch.float16, k)
                        err = (half_ae[k].float() - v).abs()
                        self.assertTrue(bool((err <= v.abs() * 2.0 ** -11 + 6e-8).all()), k)
                ae, _ = T.load_autoencoder(None, os.path.join(half, 'autoencoder', 'last.pt'))
                self.assertTrue(all(p.dtype == torch.float32 for p in ae.parameters()))
                log = run_module('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', half,
                                 '--resume', '--max-iters', '4')
                self.assertIn('resumed at iter 3', log)
                self.assertIn(T.SLIM_RESUME, log)
                self.assertEqual(T.torch_load(os.path.join(half, 'autoencoder', 'last.pt'))['iter'], 4)
                log = run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', half,
                                 '--resume', '--max-iters', '4')
                self.assertIn('resumed at iter 3', log)
                self.assertIn(T.SLIM_RESUME, log)
                went_on = T.torch_load(os.path.join(half, 'diffusion', 'last.pt'))
                self.assertEqual(went_on['iter'], 4)
                self.assertEqual(int(went_on['opt']['state'][0]['step']), 1)  # a fresh Adam
                self.assertEqual(went_on['latent_scale'], resumed['latent_scale'])  # not the rebuilt cache's

    def test_latent_factor_4_trains_and_exports(self):
        """Two autoencoder widths (--set on the autoencoder stage only) -> latent factor 4: the later
        steps build the autoencoder from its checkpoint's config, the cached latents and their
        conditioning share the grid (image / 4), the UNet trains on them, and the export states 4."""
        cfg = os.path.join('configs', 'tiny-test.json')
        with open(os.path.join(TRAINING, cfg)) as f:
            self.assertEqual(T.build_autoencoder(json.load(f)).factor, 8)  # the config's own widths
        with tempfile.TemporaryDirectory() as ck, tempfile.TemporaryDirectory() as out:
            run_module('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', ck, '--max-iters', '1',
                       '--set', 'autoencoder.widths=[4, 8]')
            ae, _ = T.load_autoencoder(None, os.path.join(ck, 'autoencoder', 'last.pt'))
            self.assertEqual(ae.factor, 4)
            # the UNet trains under bf16 autocast here (diffusion.bf16), as the factor-4 runs do
            # ... and with its eps loss weighted towards bone (diffusion.bone_weight)
            log = run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                             '--max-iters', '1', '--set', 'diffusion.bf16=true', '--set', 'diffusion.bone_weight=5',
                             '--set', 'diffusion.t_power=2',  # ... and its timesteps drawn towards low noise
                             '--set', 'diffusion.cond_drop=0.5')  # ... and the null condition for guidance
            self.assertIn('autocast bf16 True', log)
            self.assertIn('the null condition (zero coordinates) for 50% of the crops', log)
            self.assertIn('eps loss weighted 1 + 5.0 x bone fraction', log)
            self.assertIn('timesteps drawn as floor(T u^2.0) (low noise more often)', log)
            with open(os.path.join(ck, 'diffusion', 'log.jsonl')) as f:
                losses = [json.loads(line)['loss'] for line in f if '"loss"' in line]
            self.assertTrue(losses and all(math.isfinite(v) and v > 0 for v in losses), losses)
            cache = T.torch_load(os.path.join(ck, 'diffusion', 'latents.pt'))
            for z, c, bone in cache['buckets']:
                self.assertEqual(z.shape[2:], c.shape[2:])
                self.assertEqual(bone.shape, (z.shape[0], 1, *z.shape[2:]))
                # crops are 16-24 voxels per axis (grid_multiple 8): at factor 4 every latent axis is 4-6
                self.assertTrue(all(4 <= n <= 6 for n in z.shape[2:]), z.shape)
            run_module('ldm.export', '--config', cfg, '--checkpoint-dir', ck, '--out', out)
            with open(os.path.join(out, 'model.json')) as f:
                man = json.load(f)
            self.assertEqual(man['latent']['factor'], 4)
            # a cache written before bone fractions were kept cannot weigh bone: refused, by name
            cache['buckets'] = [(z, c) for z, c, _ in cache['buckets']]
            torch.save(cache, os.path.join(ck, 'diffusion', 'latents.pt'))
            with self.assertRaisesRegex(AssertionError, 'hold no bone fractions'):
                run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                           '--resume', '--max-iters', '2', '--set', 'diffusion.bone_weight=5')
            # ... while the plain loss still trains on it
            run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                       '--resume', '--max-iters', '2')
            # a negative weight is refused before anything is loaded or written
            before = os.path.getmtime(os.path.join(ck, 'diffusion', 'last.pt'))
            with self.assertRaisesRegex(AssertionError, 'bone_weight must be a number >= 0, not -1'):
                run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                           '--resume', '--max-iters', '3', '--set', 'diffusion.bone_weight=-1')
            self.assertEqual(os.path.getmtime(os.path.join(ck, 'diffusion', 'last.pt')), before)
            for bad in ('0', '-2', '"two"'):  # so is a timestep power that is not a number > 0
                with self.assertRaisesRegex(AssertionError, 'diffusion.t_power must be a finite number > 0'):
                    run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                               '--resume', '--max-iters', '3', '--set', f'diffusion.t_power={bad}')
            self.assertEqual(os.path.getmtime(os.path.join(ck, 'diffusion', 'last.pt')), before)
            for bad in ('1', '-0.1', 'null'):  # so is a guidance drop share outside [0, 1)
                with self.assertRaisesRegex(AssertionError, r'diffusion.cond_drop must be a number in \[0, 1\)'):
                    run_module('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck,
                               '--resume', '--max-iters', '3', '--set', f'diffusion.cond_drop={bad}')
            self.assertEqual(os.path.getmtime(os.path.join(ck, 'diffusion', 'last.pt')), before)
            self.assertEqual(man['onnx']['decoder']['outputs'][0]['shape'], ['B', 1, '4*d', '4*h', '4*w'])


class DiffusionStepTest(unittest.TestCase):
    """A draw with a non-finite loss or gradient is left out: weights, optimiser state and so the
    EMA and the checkpoint stay finite (a NaN once turned a whole run's checkpoint into NaN)."""

    def setUp(self):
        from ldm.unet import UNet3d
        torch.manual_seed(0)
        self.unet = UNet3d(widths=(8, 16, 16), heads=8)
        self.opt = torch.optim.Adam(self.unet.parameters(), lr=1e-3)
        self.sched = Schedule.from_config(None)
        self.z0 = torch.randn(2, 8, 6, 4, 4)
        self.coords = torch.rand(2, 3, 6, 4, 4)

    def weights(self):
        return {n: p.detach().clone() for n, p in self.unet.named_parameters()}

    def test_a_finite_draw_steps(self):
        before = self.weights()
        for bf16 in (False, True):
            loss, stepped = T.diffusion_step(self.unet, self.opt, self.sched, self.z0, self.coords, bf16)
            self.assertTrue(stepped)
            self.assertTrue(torch.isfinite(loss))
        self.assertTrue(any(not torch.equal(before[n], p) for n, p in self.unet.named_parameters()))

    def test_a_non_finite_draw_changes_nothing(self):
        T.diffusion_step(self.unet, self.opt, self.sched, self.z0, self.coords, False)  # Adam has state now
        before = self.weights()
        state = {k: {n: v.clone() for n, v in st.items()} for k, st in self.opt.state.items()}
        bad = self.coords.clone()
        bad[0, 0, 0, 0, 0] = float('nan')
        for bf16 in (False, True):
            loss, stepped = T.diffusion_step(self.unet, self.opt, self.sched, self.z0, bad, bf16)
            self.assertFalse(stepped)
            self.assertFalse(torch.isfinite(loss))
        for n, p in self.unet.named_parameters():
            self.assertTrue(torch.equal(before[n], p), n)
        for k, st in self.opt.state.items():
            for n, v in st.items():
                self.assertTrue(torch.equal(state[k][n], v), n)


class BoneWeightedLossTest(unittest.TestCase):
    """diffusion.bone_weight: the eps loss weighted per latent voxel by the bone in its image block."""

    def test_bone_fraction_is_the_block_mean_of_the_threshold(self):
        g = torch.Generator().manual_seed(1)
        image = torch.rand((2, 1, 16, 8, 24), generator=g)
        got = T.latent_bone_fraction(image, 8, 0.6)
        # independently: split every axis into (blocks, 8) and average the indicator in numpy
        ind = (image.numpy() >= 0.6).astype(np.float64).reshape(2, 1, 2, 8, 1, 8, 3, 8)
        want = ind.mean(axis=(3, 5, 7))
        self.assertEqual(tuple(got.shape), (2, 1, 2, 1, 3))
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)

    def test_weighted_loss(self):
        g = torch.Generator().manual_seed(2)
        pred, eps = torch.randn((2, 8, 3, 4, 5), generator=g), torch.randn((2, 8, 3, 4, 5), generator=g)
        err = ((pred - eps) ** 2).numpy()
        self.assertAlmostEqual(float(T.eps_loss(pred, eps)), float(err.mean()), places=5)
        # uniform weights: the plain mean squared error, whatever their size
        self.assertAlmostEqual(float(T.eps_loss(pred, eps, torch.full((2, 1, 3, 4, 5), 7.0))), float(err.mean()),
                               places=5)
        # weight 1 + 9 on one latent voxel of sample 1: its 8 channels count 10 times
        w = torch.ones((2, 1, 3, 4, 5))
        w[1, 0, 2, 1, 3] = 10.0
        want = (err.sum() + 9 * err[1, :, 2, 1, 3].sum()) / (err.size + 9 * 8)
        self.assertAlmostEqual(float(T.eps_loss(pred, eps, w)), float(want), places=5)


class CheckpointGuardTest(unittest.TestCase):
    def test_non_finite_weights_never_replace_the_checkpoint(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'last.pt')
            good = {'model': {'w': torch.ones(3), 'n': torch.tensor(4)}, 'ema': {'w': torch.ones(3)}, 'iter': 5}
            T.save_checkpoint(good, path)
            for key in ('model', 'ema'):
                bad = {'model': {'w': torch.ones(3)}, 'ema': {'w': torch.ones(3)}, 'iter': 6}
                bad[key]['w'][1] = float('nan') if key == 'model' else float('inf')
                self.assertEqual(T.non_finite_weights(bad), [f'{key}.w'])
                with self.assertRaisesRegex(SystemExit, rf'non-finite weights at iter 6 .*{key}\.w.*not overwritten'):
                    T.save_checkpoint(bad, path)
                self.assertEqual(T.torch_load(path)['iter'], 5)
            self.assertFalse(os.path.exists(path + '.tmp'))


class ScheduleAndEmaTest(unittest.TestCase):
    def test_lr_warms_up_then_follows_the_cosine(self):
        lr, lo = 5e-4, 3e-5
        self.assertAlmostEqual(T.lr_at(0.0, lr, lo), 0.05 * lr)  # warm-up floor
        self.assertAlmostEqual(T.lr_at(0.01, lr, lo), 0.5 * lr)
        self.assertAlmostEqual(T.lr_at(0.02, lr, lo), lr)
        self.assertAlmostEqual(T.lr_at(0.51, lr, lo), (lr + lo) / 2)  # the cosine's midpoint
        self.assertAlmostEqual(T.lr_at(1.0, lr, lo), lo)
        self.assertAlmostEqual(T.lr_at(1.7, lr, lo), lo)  # past the budget (a resumed run)

    def test_ema_moves_towards_the_model_and_copies_buffers(self):
        torch.manual_seed(0)
        model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
        with torch.no_grad():
            model.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
            ema.weight.zero_()
            model.running_mean.fill_(7.0)
        T.ema_update(ema, model, 0, 0.999)  # step 0: decay 1/10
        self.assertTrue(torch.allclose(ema.weight, 0.9 * model.weight))
        self.assertTrue(torch.equal(ema.running_mean, model.running_mean))
        before = ema.weight.clone()
        T.ema_update(ema, model, 10**6, 0.999)  # late: the decay is capped at max_decay
        self.assertTrue(torch.allclose(ema.weight, 0.999 * before + 0.001 * model.weight))


class TimestepDrawTest(unittest.TestCase):
    """diffusion.t_power: the training timesteps' distribution against its closed form."""

    def test_power_one_is_the_uniform_ddpm_draw(self):
        # the default draws exactly what torch.randint draws (runs before t_power are unchanged)
        torch.manual_seed(11)
        a = T.draw_timesteps(1000, 64, 'cpu')
        torch.manual_seed(11)
        self.assertTrue(torch.equal(a, torch.randint(0, 1000, (64,))))

    def test_powers_follow_their_cdf_and_reach_every_noise_level(self):
        torch.manual_seed(3)
        n, big_t = 200_000, 1000
        t = T.draw_timesteps(big_t, n, 'cpu', 2.0)
        self.assertEqual(t.dtype, torch.int64)
        self.assertGreaterEqual(int(t.min()), 0)
        self.assertLessEqual(int(t.max()), big_t - 1)
        self.assertGreater(int(t.max()), 990)  # the highest noise levels are still drawn
        for k in (10, 100, 250, 500, 900):
            # P(t < k) = P(u < (k / T)^(1/2)); binomial sd <= 0.0012 at n = 200k
            self.assertAlmostEqual(float((t < k).double().mean()), (k / big_t) ** 0.5, delta=0.005, msg=k)
        t = T.draw_timesteps(big_t, n, 'cpu', 0.5)  # ... and below 1 towards high noise
        for k in (100, 500, 900):
            self.assertAlmostEqual(float((t < k).double().mean()), (k / big_t) ** 2, delta=0.005, msg=k)


class ConditionDropTest(unittest.TestCase):
    """diffusion.cond_drop: classifier-free guidance's training draw (drop_conditioning)."""

    def test_zero_share_changes_nothing_and_draws_nothing(self):
        rng = np.random.default_rng(4)
        state = rng.bit_generator.state
        coords = torch.rand(6, 3, 2, 3, 4)
        self.assertIs(T.drop_conditioning(coords, rng, 0.0), coords)
        self.assertEqual(rng.bit_generator.state, state)

    def test_whole_samples_become_the_null_condition_at_the_share(self):
        rng = np.random.default_rng(5)
        coords = torch.rand(20_000, 3, 2, 2, 2) + 0.5  # never zero by itself
        out = T.drop_conditioning(coords, rng, 0.25)
        null = out.flatten(1).abs().sum(1) == 0
        # a sample is either all zero or exactly its own coordinates
        self.assertTrue(torch.equal(out[~null], coords[~null]))
        # the share: binomial sd 0.003 at n = 20k
        self.assertAlmostEqual(float(null.double().mean()), 0.25, delta=0.015)
        # the same draw as a reference computation from the same generator state
        ref = np.random.default_rng(5).random(20_000) < 0.25
        self.assertTrue(np.array_equal(null.numpy(), ref))


class DeviceTest(unittest.TestCase):
    """The training draws and schedule follow the model's device. PyTorch's 'meta' device
    (shapes only, no data) stands in for CUDA on CPU-only machines: mixing it with CPU
    tensors fails exactly as mixing CUDA and CPU tensors does."""

    def devices(self):
        return ['cpu', 'meta'] + (['cuda'] if torch.cuda.is_available() else [])

    def test_noisy_batch_on_model_device(self):
        sched = Schedule.from_json(PAPER_SCHEDULER)
        for dev in self.devices():
            z0 = torch.zeros(3, 8, 2, 3, 4, device=dev)
            for t_power in (1.0, 2.0):
                z_t, t, eps = T.noisy_batch(sched, z0, t_power)
                for x in (z_t, t, eps):
                    self.assertEqual(x.device.type, dev)
                self.assertEqual(tuple(z_t.shape), (3, 8, 2, 3, 4))
                self.assertEqual(t.dtype, torch.int64)

    def test_q_sample_on_device_and_formula(self):
        sched = Schedule.from_json(PAPER_SCHEDULER)
        for dev in self.devices():
            z0 = torch.ones(2, 8, 1, 1, 1, device=dev)
            t = torch.tensor([0, 999], device=dev)
            self.assertEqual(sched.q_sample(z0, t, torch.zeros_like(z0)).device.type, dev)
        # value check on CPU against the closed form sqrt(ab) z0 + sqrt(1 - ab) eps
        z0, eps = torch.randn(2, 8, 1, 1, 2), torch.randn(2, 8, 1, 1, 2)
        t = torch.tensor([10, 700])
        ab = torch.tensor([float(sched.alpha_bar[10]), float(sched.alpha_bar[700])]).view(2, 1, 1, 1, 1)
        expected = ab.sqrt() * z0 + (1 - ab).sqrt() * eps
        self.assertLess(float((sched.q_sample(z0, t, eps) - expected).abs().max()), 1e-6)

    def test_noise_with_cpu_generator_moves_to_z_device(self):
        for dev in self.devices():
            z = torch.zeros(1, 8, 2, 2, 2, device=dev)
            self.assertEqual(randn_like_on(z, torch.Generator().manual_seed(0)).device.type, dev)
        a = randn_like_on(torch.zeros(1, 8, 2, 2, 2), torch.Generator().manual_seed(3))
        b = torch.randn((1, 8, 2, 2, 2), generator=torch.Generator().manual_seed(3))
        self.assertTrue(torch.equal(a, b))

    def test_rng_states_round_trip_through_checkpoint(self):
        import tempfile as tf
        dev = 'cuda' if torch.cuda.is_available() else 'cpu'
        torch.manual_seed(5)
        if dev == 'cuda':
            torch.cuda.manual_seed_all(5)
        with tf.TemporaryDirectory() as d:
            path = os.path.join(d, 'last.pt')
            T.save_atomic(T.rng_states(dev), path)
            self.assertEqual(T.torch_load(path)['torch_rng'].device.type, 'cpu')
            expect_cpu = torch.rand(4)
            expect_cuda = torch.rand(4, device='cuda') if dev == 'cuda' else None
            torch.manual_seed(123)
            # as a resume on the GPU used to load it: states mapped onto the training device
            T.restore_rng_states(T.torch_load(path, map_location=dev))
            self.assertTrue(torch.equal(torch.rand(4), expect_cpu))
            if dev == 'cuda':
                self.assertTrue(torch.equal(torch.rand(4, device='cuda'), expect_cuda))
            else:
                self.assertNotIn('cuda_rng', T.torch_load(path))


if __name__ == '__main__':
    unittest.main()


class ConfigOverrides(unittest.TestCase):
    def test_set_replaces_existing_keys_by_dotted_path(self):
        cfg = {'seed': 0, 'diffusion': {'lr': 5e-4, 'scans': []}}
        T.apply_overrides(cfg, ['diffusion.lr=0.00025', 'seed=3'])
        self.assertEqual(cfg, {'seed': 3, 'diffusion': {'lr': 0.00025, 'scans': []}})

    def test_unknown_keys_and_malformed_items_are_refused(self):
        for bad in ['diffusion.lrr=1', 'difusion.lr=1', 'diffusion.lr', '=3', 'seed.x=1']:
            with self.assertRaises(SystemExit, msg=bad):
                T.apply_overrides({'seed': 0, 'diffusion': {'lr': 1.0}}, [bad])


class LatentGridGroups(unittest.TestCase):
    """diffusion.latent_grid_groups: extra latent buckets at larger grids, drawn after the usual ones."""

    class PoolingEncoder:
        factor = 8

        def encode(self, image, coords):
            return torch.nn.functional.avg_pool3d(image, 8).repeat(1, 2, 1, 1, 1)

    def cfg(self, groups):
        return {'diffusion': {'latent_buckets': 3, 'latent_per_bucket': 2, 'latent_grid_groups': groups}}

    def scan(self):
        g = torch.Generator().manual_seed(0)
        vol = torch.rand((40, 48, 56), generator=g).numpy().astype('float32')
        return D.Scan('synthetic', vol, [[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]])

    def build(self, groups):
        sampler = D.Sampler([self.scan()], D.AugmentConfig(grid_min=16, grid_max=32), seed=5)
        return T.build_latent_cache(self.cfg(groups), self.PoolingEncoder(), sampler, torch.device('cpu'),
                                    log=lambda *_: None)

    def test_extra_groups_come_after_the_usual_buckets_unchanged(self):
        plain = self.build([])
        more = self.build([{'grid_min': 96, 'grid_max': 104, 'buckets': 2}])
        self.assertEqual(len(plain), 3)
        self.assertEqual(len(more), 5)
        for (z0, c0, f0), (z1, c1, f1) in zip(plain, more[:3]):
            self.assertTrue(torch.equal(z0, z1) and torch.equal(c0, c1) and torch.equal(f0, f1))
        for z, c, _ in plain:
            self.assertTrue(all(2 <= n <= 4 for n in z.shape[2:]), z.shape)
        for z, c, _ in more[3:]:
            self.assertEqual(z.shape[0], 2)
            self.assertTrue(all(n in (12, 13) for n in z.shape[2:]), z.shape)  # 96-104 voxels / 8
            self.assertEqual(tuple(c.shape[2:]), tuple(z.shape[2:]))

    def test_a_group_can_narrow_the_field_of_view(self):
        aug = D.AugmentConfig()
        grids = T.cache_bucket_grids(self.cfg([{'grid_min': 32, 'grid_max': 64, 'buckets': 2,
                                                 'fov_min': 0.12, 'fov_max': 0.45}]), aug)
        self.assertEqual([(a.fov_min, a.fov_max) for a in grids], [(0.45, 1.0)] * 3 + [(0.12, 0.45)] * 2)
        # the crops of such a bucket cover that fraction of the scan: finer spacing at the same grid
        rng = np.random.default_rng(3)
        scan = self.scan()
        for _ in range(20):
            spec = D.random_geometry(scan, (32, 32, 32), rng, grids[-1])
            for lo, hi in spec['fov']:
                self.assertTrue(0.12 - 1e-9 <= hi - lo <= 0.45 + 1e-9, spec['fov'])
        for bad in [{'fov_min': 0.0}, {'fov_min': 0.5, 'fov_max': 0.4}, {'fov_max': 1.5}]:
            with self.assertRaises(SystemExit, msg=str(bad)):
                T.cache_bucket_grids(self.cfg([{'grid_min': 32, 'grid_max': 64, 'buckets': 1, **bad}]), aug)

    def test_a_prefix_stands_for_the_first_buckets(self):
        groups = [{'grid_min': 16, 'grid_max': 24, 'buckets': 2, 'fov_min': 0.2, 'fov_max': 0.3}]
        plain = self.build([])
        sampler = D.Sampler([self.scan()], D.AugmentConfig(grid_min=16, grid_max=32), seed=9)
        more = T.build_latent_cache(self.cfg(groups), self.PoolingEncoder(), sampler, torch.device('cpu'),
                                    log=lambda *_: None, prefix=plain)
        self.assertEqual(len(more), 5)
        for (z0, _, _), (z1, _, _) in zip(plain, more[:3]):
            self.assertIs(z0, z1)
        for z, _, _ in more[3:]:
            self.assertEqual(z.shape[0], 2)
            self.assertTrue(all(n in (2, 3) for n in z.shape[2:]), z.shape)  # 16-24 voxels / 8
        with self.assertRaises(SystemExit):
            T.build_latent_cache(self.cfg([]), self.PoolingEncoder(), sampler, torch.device('cpu'),
                                 log=lambda *_: None, prefix=more)

    def test_the_cache_holds_no_autograd_graph(self):
        """Encoding runs without autograd: a cached latent that kept its graph would hold every
        activation of its crop (a 288-bucket cache of 96-128-voxel crops once filled 24 GB)."""
        class ConvEncoder(self.PoolingEncoder):
            conv = torch.nn.Conv3d(1, 2, 8, stride=8)

            def encode(self, image, coords):
                return self.conv(image)

        sampler = D.Sampler([self.scan()], D.AugmentConfig(grid_min=16, grid_max=32), seed=5)
        cache = T.build_latent_cache(self.cfg([]), ConvEncoder(), sampler, torch.device('cpu'), log=lambda *_: None)
        for z, _, bone in cache:
            self.assertFalse(z.requires_grad or bone.requires_grad)
            self.assertIsNone(z.grad_fn)

    def test_malformed_groups_are_refused(self):
        aug = D.AugmentConfig()
        for bad in [{'grid_min': 96, 'grid_max': 128}, {'grid_min': 96, 'grid_max': 128, 'buckets': 2, 'x': 1},
                    {'grid_min': 100, 'grid_max': 128, 'buckets': 2}, {'grid_min': 128, 'grid_max': 96, 'buckets': 2},
                    {'grid_min': 96, 'grid_max': 128, 'buckets': 0}]:
            with self.assertRaises(SystemExit, msg=str(bad)):
                T.cache_bucket_grids(self.cfg([bad]), aug)
        grids = T.cache_bucket_grids(self.cfg([{'grid_min': 96, 'grid_max': 128, 'buckets': 2}]), aug)
        self.assertEqual([(a.grid_min, a.grid_max) for a in grids], [(32, 64)] * 3 + [(96, 128)] * 2)
