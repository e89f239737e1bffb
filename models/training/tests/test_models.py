"""Architecture, schedule and losses: shapes, any latent size, EMA codebook, formulas."""
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm.losses import adaptive_weight, bone_weights, spectral_loss, weighted_recon_loss  # noqa: E402
from ldm.schedule import PAPER_SCHEDULER, Schedule, ddim_sample, super_resolve_latent  # noqa: E402
from ldm.unet import GroupNorm32, SelfAttention3d, UNet3d  # noqa: E402
from ldm.vqgan import VQAutoencoder, VectorQuantizerEMA  # noqa: E402

torch.set_num_threads(1)


class ArchitectureTest(unittest.TestCase):
    def test_autoencoder_shapes_factor8(self):
        ae = VQAutoencoder(widths=(4, 8, 8), n_res=3, n_codes=16)
        x, c = torch.rand(2, 1, 16, 24, 32), torch.rand(2, 3, 16, 24, 32)
        recon, commit, perp = ae(x, c)
        self.assertEqual(tuple(recon.shape), (2, 1, 16, 24, 32))
        self.assertEqual(tuple(ae.encode(x, c).shape), (2, 8, 2, 3, 4))
        self.assertEqual(sum(isinstance(m, torch.nn.Conv3d) and m.stride == (2, 2, 2) for m in ae.encoder.modules()), 3)

    def test_quantised_latent_is_codebook_vectors(self):
        ae = VQAutoencoder(widths=(4, 8, 8), n_codes=16).eval()
        z = ae.encode(torch.rand(1, 1, 16, 16, 16), torch.rand(1, 3, 16, 16, 16))
        flat = z.permute(0, 2, 3, 4, 1).reshape(-1, 8)
        d = torch.cdist(flat, ae.vq.embedding).min(1).values
        self.assertLess(float(d.max()), 1e-5)

    def test_continuous_latent_is_the_encoder_output_and_noise_only_in_training(self):
        torch.manual_seed(0)
        ae = VQAutoencoder(widths=(4, 8, 8), n_codes=16, quantise=False, latent_noise=0.5)
        x, c = torch.rand(1, 1, 16, 16, 16), torch.rand(1, 3, 16, 16, 16)
        ae.eval()
        z = ae.encoder(torch.cat([x, c], 1))
        self.assertTrue(torch.equal(ae.encode(x, c), z))
        recon, commit, perp = ae(x, c)
        self.assertTrue(torch.allclose(recon, ae.decode(z)))  # no noise outside training
        self.assertEqual((float(commit), float(perp)), (0.0, 0.0))
        ae.train()
        noisy, _, _ = ae(x, c)
        self.assertFalse(torch.allclose(noisy, ae.decode(z), atol=1e-6))
        noisy.sum().backward()  # gradients reach the encoder (no codebook in the way)
        self.assertGreater(float(ae.encoder.net[0].weight.grad.abs().sum()), 0.0)

    def test_ema_codebook_moves_towards_data_and_commitment(self):
        vq = VectorQuantizerEMA(n_codes=4, dim=8, decay=0.5)
        vq.train()
        z = torch.randn(1, 8, 2, 2, 2) + 3.0
        for _ in range(20):
            q, commit, _ = vq(z)
        self.assertLess(float(commit), 1.0)
        # straight-through: gradient reaches z
        z.requires_grad_(True)
        q, commit, _ = vq(z)
        q.sum().backward()
        self.assertTrue(torch.allclose(z.grad, torch.ones_like(z)))

    def test_unet_three_levels_and_8_head_bottleneck_attention(self):
        unet = UNet3d(widths=(8, 16, 32), heads=8).eval()
        self.assertEqual(len(unet.down_blocks), 3)
        self.assertEqual(len(unet.up_blocks), 3)
        self.assertEqual([m.stride for m in unet.downs], [(2, 2, 2)] * 3)
        self.assertEqual([b[0].c2.out_channels for b in unet.down_blocks], [8, 16, 32])
        self.assertEqual(unet.attn.heads, 8)
        self.assertEqual(sum(isinstance(m, SelfAttention3d) for m in unet.modules()), 1)
        # the attention sits at the bottleneck: three stride-2 downsamplings of the input grid
        seen = []
        unet.attn.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[1:])))
        with torch.no_grad():
            unet(torch.randn(1, 8, 16, 24, 40), torch.tensor([3.0]), torch.rand(1, 3, 16, 24, 40))
        self.assertEqual(seen, [(32, 2, 3, 5)])

    def test_attention_equals_torch_multihead_attention_with_8_heads(self):
        """SelfAttention3d == x + out-proj(nn.MultiheadAttention(num_heads=8)) over the voxels as tokens,
        with the 1x1x1 qkv / out convolutions as the in/out projections."""
        torch.manual_seed(0)
        attn = SelfAttention3d(32, heads=8).eval()
        x = torch.randn(2, 32, 2, 3, 4)
        mha = torch.nn.MultiheadAttention(32, num_heads=8, batch_first=True).eval()
        with torch.no_grad():
            mha.in_proj_weight.copy_(attn.qkv.weight.reshape(96, 32))
            mha.in_proj_bias.copy_(attn.qkv.bias)
            mha.out_proj.weight.copy_(attn.out.weight.reshape(32, 32))
            mha.out_proj.bias.copy_(attn.out.bias)
            tokens = attn.norm(x).flatten(2).transpose(1, 2)  # [B, N, C]
            ref = x + mha(tokens, tokens, tokens, need_weights=False)[0].transpose(1, 2).reshape(x.shape)
            got = attn(x)
        self.assertLess(float((got - ref).abs().max()), 1e-5)
        # and not the same as with another head count (the check sees the head split)
        mha4 = torch.nn.MultiheadAttention(32, num_heads=4, batch_first=True).eval()
        mha4.load_state_dict(mha.state_dict())
        with torch.no_grad():
            ref4 = x + mha4(tokens, tokens, tokens, need_weights=False)[0].transpose(1, 2).reshape(x.shape)
        self.assertGreater(float((got - ref4).abs().max()), 1e-3)

    def test_unet_any_latent_size(self):
        unet = UNet3d(widths=(8, 16, 16), heads=8)
        for shape in [(1, 1, 1), (3, 5, 7), (4, 4, 4), (6, 8, 5)]:
            z = torch.randn(2, 8, *shape)
            c = torch.rand(2, 3, *shape)
            eps = unet(z, torch.tensor([0.0, 999.0]), c)
            self.assertEqual(tuple(eps.shape), (2, 8) + shape)

    def test_unet_under_bf16_autocast_follows_float32(self):
        """diffusion.bf16 trains the UNet under CPU bf16 autocast: GroupNorm32 computes in float32
        (plain nn.GroupNorm refuses a bf16 input in torch 1.13), the float32 path is nn.GroupNorm's
        bit for bit, and the bf16 prediction stays within bf16 rounding of the float32 one."""
        torch.manual_seed(0)
        gn = GroupNorm32(4, 16)
        ref = torch.nn.GroupNorm(4, 16)
        ref.load_state_dict(gn.state_dict())
        x = torch.randn(2, 16, 3, 4, 5)
        self.assertTrue(torch.equal(gn(x), ref(x)))
        y = gn(x.bfloat16())
        self.assertEqual(y.dtype, torch.bfloat16)
        self.assertLess(float((y.float() - ref(x)).abs().max()), 0.05)
        unet = UNet3d(widths=(16, 32, 32), heads=8)
        z, c, t = torch.randn(2, 8, 8, 8, 8), torch.rand(2, 3, 8, 8, 8), torch.tensor([10.0, 700.0])
        with torch.no_grad():
            full = unet(z, t, c)
            with torch.autocast('cpu', dtype=torch.bfloat16):
                low = unet(z, t, c).float()
        rel = float((low - full).norm() / full.norm())
        self.assertLess(rel, 0.05)
        self.assertGreater(rel, 0.0)  # it did run in bf16


class ScheduleTest(unittest.TestCase):
    def test_scaled_linear_betas(self):
        s = Schedule.from_json(PAPER_SCHEDULER)
        self.assertAlmostEqual(s.betas[0], 0.0015, places=12)
        self.assertAlmostEqual(s.betas[-1], 0.0195, places=12)
        mid = (np.sqrt(0.0015) + (np.sqrt(0.0195) - np.sqrt(0.0015)) * 500 / 999) ** 2
        self.assertAlmostEqual(s.betas[500], mid, places=12)
        np.testing.assert_allclose(s.alpha_bar, np.cumprod(1 - s.betas))

    def test_plans_match_typescript_formulas(self):
        s = Schedule.from_json(PAPER_SCHEDULER)
        self.assertEqual(s.leading_plan(50)[:3], [980, 960, 940])
        self.assertEqual(s.leading_plan(50)[-1], 0)
        self.assertEqual(s.partial_plan(100, 10), [100, 90, 80, 70, 60, 50, 40, 30, 20, 10])
        self.assertEqual(s.partial_plan(100, 3), [100, 67, 33])

    def test_ddim_with_true_eps_recovers_z0(self):
        s = Schedule.from_json(PAPER_SCHEDULER)
        z0 = torch.randn(1, 8, 2, 2, 2, dtype=torch.float64)
        eps = torch.randn_like(z0)
        zt = s.q_sample(z0, torch.tensor([700]), eps).double()
        # an oracle that knows z0: eps_hat = (z_t - sqrt(ab) z0) / sqrt(1 - ab)
        class Oracle(torch.nn.Module):
            def forward(self, z, t, c):
                ab = s.alpha_bar[int(t[0])]
                return (z - np.sqrt(ab) * z0) / np.sqrt(1 - ab)
        out = ddim_sample(Oracle(), s, zt, None, steps=20, t_start=700)
        self.assertLess(float((out - z0).abs().max()), 1e-6)

    def test_guidance_combines_the_null_and_conditional_predictions(self):
        s = Schedule.from_json(PAPER_SCHEDULER)
        torch.manual_seed(2)
        z_T = torch.randn(2, 8, 2, 3, 2)
        coords = torch.rand(2, 3, 2, 3, 2) + 0.5
        unet = UNet3d(widths=(8, 16, 16)).eval()

        class Wrapped(torch.nn.Module):  # null_out(eps_cond, z, t) stands for the null prediction
            def __init__(self, null_out, scale=1.0):
                super().__init__()
                self.null_out, self.scale = null_out, scale

            def forward(self, z, t, c):
                eps = unet(z, t, coords) * self.scale  # the conditional prediction, whatever c
                return self.null_out(eps) if bool((c == 0).all()) else eps

        with torch.no_grad():
            plain = ddim_sample(Wrapped(lambda e: e), s, z_T, coords, steps=4)
            # a null prediction equal to the conditional one: the unguided result
            same = ddim_sample(Wrapped(lambda e: e), s, z_T, coords, steps=4, guidance=3.0)
            # a zero null prediction: s x eps, the unguided sampler on a UNet scaled by s
            zero = ddim_sample(Wrapped(torch.zeros_like), s, z_T, coords, steps=4, guidance=3.0)
            scaled = ddim_sample(Wrapped(lambda e: e, 3.0), s, z_T, coords, steps=4)
            real = ddim_sample(unet, s, z_T, coords, steps=4, guidance=3.0)
        self.assertTrue(torch.equal(same, plain))
        self.assertTrue(torch.equal(zero, scaled))
        self.assertGreater(float((real - plain).abs().max()), 1e-3)  # the real null call differs

    def test_super_resolve_runs(self):
        unet = UNet3d(widths=(8, 16, 16)).eval()
        z = super_resolve_latent(unet, Schedule.from_json(PAPER_SCHEDULER), torch.randn(1, 8, 2, 3, 2), torch.rand(1, 3, 2, 3, 2), cycles=2, steps=3,
                                 generator=torch.Generator().manual_seed(0))
        self.assertEqual(tuple(z.shape), (1, 8, 2, 3, 2))


class LossTest(unittest.TestCase):
    def test_spectral_loss(self):
        x = torch.rand(1, 1, 8, 8, 8)
        self.assertEqual(float(spectral_loss(x, x)), 0.0)
        # a shift changes phases only: |FFT| is (circularly) the same
        self.assertLess(float(spectral_loss(x, torch.roll(x, 3, dims=-1))), 1e-6)
        self.assertGreater(float(spectral_loss(x, x * 0.5)), 0.0)

    def test_bone_weighted_loss(self):
        # target: one voxel of bone (0.8 = 600 HU) in soft tissue (0.5); the error 0.1 everywhere
        y = torch.full((1, 1, 2, 2, 2), 0.5)
        y[0, 0, 0, 0, 0] = 0.8
        x = y + 0.1
        w = bone_weights(y, 0.6, 4.0)
        self.assertEqual(sorted(set(w.flatten().tolist())), [1.0, 5.0])
        # by hand: (7 * 1 + 1 * 5) / 8 voxels times the per-voxel error
        self.assertAlmostEqual(float(weighted_recon_loss('l1', x, y, w)), 12 / 8 * 0.1, places=6)
        self.assertAlmostEqual(float(weighted_recon_loss('l2', x, y, w)), 12 / 8 * 0.01, places=6)
        self.assertAlmostEqual(float(weighted_recon_loss('l2', x, y)), 0.01, places=6)

    def test_adaptive_weight_balances_gradient_norms(self):
        # rec = 3 * sum(p), g = sum(p): gradients 3 and 1 per element, so the weight is 3
        p = torch.ones(4, requires_grad=True)
        rec, g = 3 * p.sum(), p.sum()
        self.assertAlmostEqual(float(adaptive_weight(rec, g, p, eps=0.0)), 3.0, places=5)


class UpsampleTest(unittest.TestCase):
    def test_upsample2_is_nearest(self):
        import torch.nn.functional as F
        from ldm.unet import upsample2
        x = torch.randn(2, 3, 2, 3, 4)
        self.assertTrue(torch.equal(upsample2(x), F.interpolate(x, scale_factor=2.0, mode='nearest')))


if __name__ == '__main__':
    unittest.main()


class ScheduleSourceTest(unittest.TestCase):
    def test_model_json_round_trip_and_config(self):
        s = Schedule.from_config({'diffusion': {'T': 50, 'beta_start': 0.001, 'beta_end': 0.02}})
        again = Schedule.from_json(s.to_json())
        np.testing.assert_array_equal(again.betas, s.betas)
        self.assertEqual(len(s.betas), 50)
        np.testing.assert_array_equal(Schedule.from_config(None).betas, Schedule.from_json(PAPER_SCHEDULER).betas)

    def test_bad_schedules_are_refused(self):
        for bad in [{'betaSchedule': 'cosine'}, {'numTrainTimesteps': 1}, {'betaStart': 0.1, 'betaEnd': 0.01},
                    {'type': 'flow'}]:
            with self.assertRaises(ValueError, msg=bad):
                Schedule.from_json({**PAPER_SCHEDULER, **bad})
