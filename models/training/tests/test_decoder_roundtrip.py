"""The up-convolution's shuffle form maps back to the ConvTranspose weights exactly, an
autoencoder rebuilt from exported ONNX files (train.init_from_model) decodes as those files do,
and the autoencoder stage's --init-from fine-tunes those weights and keeps their codebook."""
import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ldm import export as E  # noqa: E402
from ldm.train import autoencoder_from_model, build_autoencoder, init_from_model, load_config, torch_load  # noqa: E402
from ldm.vqgan import ExportDecoder, UpConv, conv_transpose_to_conv_weight, conv_weight_to_conv_transpose  # noqa: E402
from module_runner import run_module  # noqa: E402

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, '..', 'configs', 'tiny-test.json')


def tiny_export(d: str) -> str:
    """A random-weight tiny model exported into d/model. -> the model dir"""
    out = os.path.join(d, 'model')
    E.main(['--tiny', '--config', TINY, '--out', out])
    return out


def train(*args: str) -> str:
    """ldm.train with the tiny config on one thread -> its stdout (AssertionError unless it exits 0)."""
    return run_module('ldm.train', '--config', TINY, *args)


def skip_without_data(test: unittest.TestCase) -> None:
    from ldm import data as D
    if not os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002')):
        test.skipTest('no shared data')


def tiny_model_and_checkpoint(d: str):
    """A random-weight tiny model exported into d/model and its autoencoder rebuilt from the ONNX
    files into d/ae.pt (train.init_from_model). -> (config, model dir, checkpoint path)"""
    out = tiny_export(d)
    cfg = load_config(TINY)
    ck = os.path.join(d, 'ae.pt')
    init_from_model(cfg, out, ck, lambda _m: None)
    return cfg, out, ck


class DecoderRoundTrip(unittest.TestCase):
    def test_inverse_of_the_shuffle_form(self):
        torch.manual_seed(0)
        m = UpConv(5, 3)
        w, b = conv_transpose_to_conv_weight(m.weight.detach(), m.bias.detach())
        w2, b2 = conv_weight_to_conv_transpose(w, b, 3)
        self.assertTrue(torch.equal(w2, m.weight.detach()))
        self.assertTrue(torch.equal(b2, m.bias.detach()))
        bad = w.clone()
        bad[0, 0, 2, 2, 2] += 1.0  # a zero-tap slot of parity 0
        with self.assertRaises(ValueError):
            conv_weight_to_conv_transpose(bad, b, 3)

    def test_rebuilt_autoencoder_decodes_like_the_exported_decoder(self):
        with tempfile.TemporaryDirectory() as d:
            cfg, out, ck = tiny_model_and_checkpoint(d)
            ae = build_autoencoder(cfg)
            ae.load_state_dict(torch_load(ck)['model'])
            ae.eval()
            ref = ExportDecoder(build_autoencoder(cfg))
            from ldm.onnx_weights import load_from_onnx
            load_from_onnx(ref, os.path.join(out, 'decoder.onnx'))
            z = torch.randn(1, cfg['autoencoder']['z_ch'], 2, 3, 2)
            with torch.no_grad():
                self.assertLess(float((ae.decoder(z) - ref(z)).abs().max()), 1e-5)

    def test_autoencoder_stage_fine_tunes_the_exported_weights(self):
        skip_without_data(self)
        with tempfile.TemporaryDirectory() as d:
            ck = os.path.join(d, 'ck')
            out = tiny_export(d)
            cfg = load_config(TINY)
            from ldm.onnx_weights import load_from_onnx
            from ldm.vqgan import ExportEncoder
            ref = ExportEncoder(build_autoencoder(cfg))
            load_from_onnx(ref, os.path.join(out, 'encoder.onnx'))
            codebook = ref.vq.embedding.clone()
            log = train('--stage', 'autoencoder', '--init-from', out, '--checkpoint-dir', ck, '--max-iters', '1',
                      '--set', 'autoencoder.bf16=true', '--set', 'autoencoder.adversarial_weight=0')
            self.assertIn('warm-started from', log)
            saved = torch_load(os.path.join(ck, 'autoencoder', 'last.pt'))
            self.assertEqual(saved['iter'], 1)
            ae = build_autoencoder(cfg)
            ae.load_state_dict(saved['model'])
            # one small step from the exported weights (a fresh start would differ by far more)
            first = next(ae.encoder.parameters()).detach()
            start = next(ref.parameters()).detach()
            self.assertLess(float((first - start).abs().max()), 0.01 * float(start.abs().max()) + 0.01)
            # the codebook is kept: codes that no latent used in the step are unchanged (a codebook
            # treated as uninitialised would be re-drawn from the encoder's outputs)
            kept = ((ae.vq.embedding - codebook).abs().max(1).values < 1e-4).float().mean()
            self.assertGreater(float(kept), 0.5)

    def test_decoder_only_fine_tune_keeps_encoder_and_codebook(self):
        """train_parts 'decoder' (a VQ-GAN term on a frozen latent space): after adversarial steps
        the encoder and every code are bit-identical to the exported model's, so latents (and a UNet
        trained on them) stay valid, while the decoder has moved."""
        skip_without_data(self)
        with tempfile.TemporaryDirectory() as d:
            ck = os.path.join(d, 'ck')
            out = tiny_export(d)
            cfg = load_config(TINY)
            before, _ = autoencoder_from_model(cfg, out)
            train('--stage', 'autoencoder', '--init-from', out, '--checkpoint-dir', ck, '--max-iters', '3',
                  '--set', 'autoencoder.bf16=true', '--set', 'autoencoder.train_parts="decoder"',
                  '--set', 'autoencoder.recon_loss="l1"', '--set', 'autoencoder.adversarial_weight=0.5',
                  '--set', 'autoencoder.adversarial_start=1', '--set', 'autoencoder.adversarial_adaptive=true',
                  '--set', 'autoencoder.log_every=1')
            saved = torch_load(os.path.join(ck, 'autoencoder', 'last.pt'))
            self.assertEqual(saved['iter'], 3)
            self.assertIsNotNone(saved['disc'])
            after = build_autoencoder(cfg)
            after.load_state_dict(saved['model'])
            ref = before.state_dict()
            for k, v in after.state_dict().items():
                if k.startswith('encoder.') or k.startswith('vq.embedding'):
                    self.assertTrue(torch.equal(v, ref[k]), k)
            moved = max(float((v - ref[k]).abs().max()) for k, v in after.state_dict().items()
                        if k.startswith('decoder.'))
            self.assertGreater(moved, 0)
            # the adversarial term was on from step 2 with a positive adaptive weight
            with open(os.path.join(ck, 'autoencoder', 'log.jsonl')) as f:
                recs = [json.loads(line) for line in f if '"iter"' in line]
            self.assertEqual(recs[0]['adv_w'], 0.0)
            self.assertGreater(recs[-1]['adv_w'], 0.0)

    def test_unet_warm_start_keeps_or_rescales_the_latent_scale(self):
        """A UNet warm start keeps the exported model's latent scale (the one its UNet learned
        with); diffusion.rescale_latents sets 1 / std of the cached latents instead (for an
        autoencoder whose latents' spread changed)."""
        skip_without_data(self)
        with tempfile.TemporaryDirectory() as d:
            out = tiny_export(d)
            with open(os.path.join(out, 'model.json')) as f:
                exported = json.load(f)['latent']['scale']
            scales = []
            for i, rescale in enumerate(('false', 'true')):
                ck = os.path.join(d, f'ck{i}')
                train('--stage', 'diffusion', '--init-from', out, '--checkpoint-dir', ck, '--max-iters', '1',
                      '--set', f'diffusion.rescale_latents={rescale}')
                cache = torch_load(os.path.join(ck, 'diffusion', 'latents.pt'))
                allz = torch.cat([b[0].flatten() for b in cache['buckets']])
                scales.append((torch_load(os.path.join(ck, 'diffusion', 'last.pt'))['latent_scale'],
                               1.0 / float(allz.std())))
            self.assertEqual(scales[0][0], exported)
            self.assertAlmostEqual(scales[1][0], scales[1][1], places=4)
            self.assertGreater(abs(scales[1][0] - exported), 1e-3)

    def test_fresh_unet_of_other_widths_trains_and_exports(self):
        """--fresh-unet with --init-from: the exported autoencoder, a UNet of other widths from scratch
        at 1 / std of its latents; ldm.export then builds the UNet from the checkpoint's own widths
        (the config file's would not fit its weights)."""
        skip_without_data(self)
        with tempfile.TemporaryDirectory() as d:
            out = tiny_export(d)
            ck = os.path.join(d, 'ck')
            log = train('--stage', 'diffusion', '--init-from', out, '--fresh-unet', '--checkpoint-dir', ck,
                        '--max-iters', '1', '--set', 'diffusion.widths=[16, 32, 32]')
            self.assertIn('UNet from scratch', log)
            self.assertNotIn('UNet warm-started', log)
            saved = torch_load(os.path.join(ck, 'diffusion', 'last.pt'))
            self.assertEqual(saved['config']['diffusion']['widths'], [16, 32, 32])
            self.assertEqual(saved['model']['inp.weight'].shape[0], 16)
            cache = torch_load(os.path.join(ck, 'diffusion', 'latents.pt'))
            allz = torch.cat([b[0].flatten() for b in cache['buckets']])
            self.assertAlmostEqual(saved['latent_scale'], 1.0 / float(allz.std()), places=4)
            # the autoencoder is the exported one: it encodes as encoder.onnx does
            ae_ck = torch_load(os.path.join(ck, 'autoencoder', 'last.pt'))
            self.assertEqual(ae_ck['from_onnx'], out)
            model2 = os.path.join(d, 'model2')
            run_module('ldm.export', '--config', TINY, '--out', model2, '--checkpoint-dir', ck)
            from ldm.onnx_weights import onnx_state
            from ldm.train import build_unet
            cfg = load_config(TINY)
            cfg['diffusion']['widths'] = [16, 32, 32]
            state, _ = onnx_state(os.path.join(model2, 'unet.onnx'), build_unet(cfg))
            self.assertTrue(torch.equal(state['inp.weight'], saved['ema']['inp.weight']))

    def test_unet_grown_deeper_computes_what_the_exported_one_does(self):
        """diffusion.n_res 2 warm-started from a model exported with n_res 1: the added blocks
        start as the identity, so the grown UNet's output equals the exported UNet's (rebuilt from
        unet.onnx as it is); a file lacking other weights is refused."""
        from ldm.onnx_weights import load_from_onnx
        from ldm.train import build_unet, load_unet_growing
        with tempfile.TemporaryDirectory() as d:
            out = tiny_export(d)
            cfg = load_config(TINY)
            cfg['diffusion']['n_res'] = 2
            unet = build_unet(cfg)
            added = load_unet_growing(unet, os.path.join(out, 'unet.onnx'))
            self.assertEqual(added, ['down_blocks.0.1', 'down_blocks.1.1', 'down_blocks.2.1',
                                     'up_blocks.0.1', 'up_blocks.1.1', 'up_blocks.2.1'])
            unet.eval()
            torch.manual_seed(0)
            z = torch.randn(2, 8, 3, 4, 5)
            t = torch.tensor([10.0, 700.0])
            c = torch.randn(2, 3, 3, 4, 5)
            exported = build_unet(load_config(TINY))
            load_from_onnx(exported, os.path.join(out, 'unet.onnx'))
            exported.eval()
            with torch.no_grad():
                mine, ref = unet(z, t, c), exported(z, t, c)
            self.assertGreater(float(ref.abs().max()), 1e-3)
            self.assertLess(float((mine - ref).abs().max()), 1e-5)
            # not a copy of the exported UNet: the added blocks' first convolutions keep their own
            # (random) weights, and their gradients are not zero, so training moves them
            torch.nn.functional.mse_loss(unet(z, t, c), torch.zeros_like(ref)).backward()
            self.assertGreater(float(unet.get_submodule('up_blocks.0.1').c2.weight.grad.abs().max()), 0)
            # a model without the first block of a level is not this architecture
            cfg3 = load_config(TINY)
            cfg3['diffusion']['widths'] = [8, 16, 16, 16]
            with self.assertRaises(ValueError):
                load_unet_growing(build_unet(cfg3), os.path.join(out, 'unet.onnx'))

    def test_unet_widened_computes_what_the_exported_one_does(self):
        """diffusion.widths doubled (norm_group_div 2, temb_ch the file's) warm-started from a model
        exported at the tiny widths: init_from_model widens unet.onnx's UNet (ldm/widen.py), so the
        wide UNet's output equals the exported UNet's; a width change that is no such widening is
        refused before anything is written."""
        from ldm.onnx_weights import load_from_onnx
        from ldm.train import build_unet
        with tempfile.TemporaryDirectory() as d:
            cfg, out, ck = tiny_model_and_checkpoint(d)
            cfg['diffusion'].update(widths=[16, 32, 32], temb_ch=8, norm_group_div=2)
            logs = []
            init = init_from_model(cfg, out, ck, logs.append)
            self.assertTrue(any('widened 2x' in str(m) for m in logs))
            wide = build_unet(cfg)
            wide.load_state_dict(init['unet'])
            exported = build_unet(load_config(TINY))
            load_from_onnx(exported, os.path.join(out, 'unet.onnx'))
            torch.manual_seed(0)
            z, t, c = torch.randn(2, 8, 9, 10, 11), torch.tensor([10.0, 700.0]), torch.randn(2, 3, 9, 10, 11)
            with torch.no_grad():
                mine, ref = wide.eval()(z, t, c), exported.eval()(z, t, c)
            self.assertGreater(float(ref.abs().max()), 1e-3)
            self.assertLess(float((mine - ref).abs().max()), 1e-5)
            for bad, words in (({'norm_group_div': 1}, 'norm_group_div'), ({'temb_ch': None}, 'temb_ch'),
                               ({'widths': [16, 32, 48], 'norm_group_div': 2, 'temb_ch': 8}, 'one whole factor')):
                cfg2 = load_config(TINY)
                cfg2['diffusion'].update(widths=[16, 32, 32], temb_ch=8, norm_group_div=2)
                cfg2['diffusion'].update(bad)
                with self.assertRaises(SystemExit) as e:
                    init_from_model(cfg2, out, ck, lambda _m: None)
                self.assertIn(words, str(e.exception))

    def test_compare_autoencoders_reads_both_sides(self):
        from ldm import data as D
        from ldm.compare_autoencoders import compare
        if not os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lidc-idri-0001')):
            self.skipTest('no shared data')
        with tempfile.TemporaryDirectory() as d:
            cfg, out, ck = tiny_model_and_checkpoint(d)
            rows = compare(cfg, out, ck, log=lambda _m: None)
            # the same weights on both sides: the same error on every held-out crop
            self.assertEqual(len(rows), 20)
            for r in rows:
                self.assertAlmostEqual(r['modelHu'], r['checkpointHu'], places=3)
                self.assertGreater(r['modelHu'], 0)
            # a checkpoint with other weights differs
            other = torch_load(ck)
            other['model'] = {k: (v + 0.05 if k.startswith('decoder.') and v.is_floating_point() else v)
                              for k, v in other['model'].items()}
            torch.save(other, ck)
            rows = compare(cfg, out, ck, log=lambda _m: None)
            self.assertTrue(any(abs(r['modelHu'] - r['checkpointHu']) > 1 for r in rows))
            # a checkpoint of another architecture (latent factor 4) is built from its own config
            import copy
            cfg4 = copy.deepcopy(cfg)
            cfg4['autoencoder']['widths'] = [4, 8]
            self.assertEqual(build_autoencoder(cfg4).factor, 4)
            torch.save({'model': build_autoencoder(cfg4).state_dict(), 'config': cfg4}, ck)
            rows = compare(cfg, out, ck, log=lambda _m: None)
            self.assertEqual(len(rows), 20)
            self.assertTrue(all(r['checkpointHu'] > 0 for r in rows))
            # the spine picture: 2 chest scans x (real, model, checkpoint); the real crop is the
            # same whichever autoencoder; a PNG is written
            from ldm.compare_autoencoders import spine_picture
            png = os.path.join(d, 'spine.png')
            pic = spine_picture(cfg, out, ck, png, log=lambda _m: None)
            self.assertEqual([(r['scan'], r['which']) for r in pic],
                             [(s, w) for s in ('lidc-idri-0001', '4d-lung-113-phase40')
                              for w in ('real', 'model', 'checkpoint')])
            self.assertTrue(all(0 <= r['boneBodyPercent'] <= 100 for r in pic))
            with open(png, 'rb') as f:
                self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')


if __name__ == '__main__':
    unittest.main()
