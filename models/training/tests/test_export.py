"""Export of a tiny random-weight model: valid ONNX at opset 17, dynamic axes,
no ConvTranspose anywhere (onnxruntime-web WebGPU), optional fp16 weights, and a
UNet golden case whose bottleneck has several tokens.
(ONNX-vs-PyTorch numbers are checked with onnxruntime in models/training/exportOnnx.test.ts.)"""
import json
import os
import sys
import tempfile
import unittest
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm import export as E  # noqa: E402

torch.set_num_threads(1)


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import onnx
        cls.onnx = onnx
        cls.tmp = tempfile.TemporaryDirectory()
        cls.tmp16 = tempfile.TemporaryDirectory()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ae, unet = E.tiny_models(0)
            E.export_all(ae, unet, cls.tmp.name, manifest_extra={'name': 'x'})
            ae, unet = E.tiny_models(0)
            E.export_all(ae, unet, cls.tmp16.name, fp16=True, manifest_extra={'name': 'x'})

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        cls.tmp16.cleanup()

    def test_models_valid_opset17_no_convtranspose(self):
        for part in ('encoder', 'decoder', 'unet'):
            m = self.onnx.load(os.path.join(self.tmp.name, f'{part}.onnx'))
            self.onnx.checker.check_model(m)
            self.assertEqual([o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')], [17])
            ops = {n.op_type for n in m.graph.node}
            self.assertNotIn('ConvTranspose', ops, part)
            self.assertIn('Conv', ops)

    def test_dynamic_axes(self):
        m = self.onnx.load(os.path.join(self.tmp.name, 'encoder.onnx'))
        dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
        self.assertEqual(dims, ['B', 1, 'D', 'H', 'W'])
        m = self.onnx.load(os.path.join(self.tmp.name, 'unet.onnx'))
        self.assertEqual([i.name for i in m.graph.input], ['z_t', 't', 'coords'])

    def test_manifest_files(self):
        with open(os.path.join(self.tmp.name, 'model.json')) as f:
            man = json.load(f)
        for part in ('encoder', 'decoder', 'unet'):
            p = os.path.join(self.tmp.name, man['files'][part]['path'])
            self.assertEqual(man['files'][part]['bytes'], os.path.getsize(p))
            self.assertEqual(man['files'][part]['sha256'], E.sha256(p))
        self.assertEqual(man['golden']['toleranceAbs'], 1e-4)

    def test_attention_golden_has_a_multi_token_bottleneck(self):
        with open(os.path.join(self.tmp.name, E.ATTENTION_GOLDEN_PATH)) as f:
            g = json.load(f)
        self.assertEqual(g['unet']['inputs']['z_t']['shape'], [2, 8, 12, 16, 20])
        self.assertEqual(g['unet']['outputs']['eps']['shape'], [2, 8, 12, 16, 20])
        # the bottleneck grid the attention really sees (forward hook), not the formula
        _, unet = E.tiny_models(0)
        seen = []
        unet.attn.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[2:])))
        with torch.no_grad():
            unet(torch.zeros(2, 8, 12, 16, 20), torch.zeros(2), torch.zeros(2, 3, 12, 16, 20))
        self.assertEqual(seen, [tuple(g['bottleneckDims'])])
        self.assertEqual(g['bottleneckTokens'], 12)
        self.assertEqual(E.bottleneck_dims((2, 2, 3)), [1, 1, 1])  # golden.json's UNet case: one token
        self.assertGreater(g['maxAbsDiffSelfOnlyAttention'], 1e-2)

    def test_sr_t_start_and_cycles_from_the_config(self):
        self.assertEqual(E.contract_fields({})['superResolution']['tStart'], 100)  # the method's
        self.assertEqual(E.contract_fields({'contract': {'srTStart': 66}})['superResolution']['tStart'], 66)
        self.assertEqual(E.contract_fields({'contract': {}})['superResolution']['cycles'], 5)  # the paper's
        self.assertEqual(E.contract_fields({'contract': {'srCycles': 1}})['superResolution']['cycles'], 1)
        for bad in [0, 51, 2.5, True, '1']:
            with self.assertRaisesRegex(ValueError, 'contract.srCycles'):
                E.contract_fields({'contract': {'srCycles': bad}})
        for bad in (0, 1000, 66.5, '66', True):
            with self.assertRaisesRegex(ValueError, 'contract.srTStart'):
                E.contract_fields({'contract': {'srTStart': bad}})

    def test_guidance_scale_from_the_config(self):
        self.assertNotIn('guidanceScale', E.contract_fields({'contract': {}})['generation'])  # absent: none
        g = E.contract_fields({'contract': {'generationGuidanceScale': 2}})['generation']
        self.assertEqual(g['guidanceScale'], 2.0)
        for bad in (0.5, 21, '2', True, float('nan')):
            with self.assertRaisesRegex(ValueError, 'contract.generationGuidanceScale'):
                E.contract_fields({'contract': {'generationGuidanceScale': bad}})

    def test_latent_factor_outside_the_contract_is_refused(self):
        from ldm.unet import UNet3d
        from ldm.vqgan import VQAutoencoder
        with self.assertRaisesRegex(ValueError, 'latent factor 2'):
            E.tiny_models(0, factor=2)
        ae = VQAutoencoder(widths=(4,), n_res=1, z_ch=8, n_codes=32)  # one level: factor 2
        unet = UNet3d(z_ch=8, coord_ch=3, widths=(8, 16, 16), n_res=1, heads=8)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ValueError, 'latent factor 2'):
                E.export_all(ae, unet, d)
            self.assertEqual(os.listdir(d), [])  # nothing written

    def test_continuous_latent_export(self):
        """quantise off: the encoder graph has no nearest-code search and the manifest says so."""
        def ops(d):
            return {n.op_type for n in self.onnx.load(os.path.join(d, 'encoder.onnx')).graph.node}
        self.assertIn('ArgMin', ops(self.tmp.name))  # the quantised export searches the codebook
        ae, unet = E.tiny_models(0)
        ae.quantise = False
        with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
            warnings.simplefilter('ignore')
            E.export_all(ae, unet, d, manifest_extra={'name': 'x'})
            self.assertNotIn('ArgMin', ops(d))
            with open(os.path.join(d, 'model.json')) as f:
                latent = json.load(f)['latent']
            # read back (a warm start from the exported files): no codebook needed, same latents
            from ldm.train import autoencoder_from_model
            cfg = {'autoencoder': {'widths': [4, 8, 8], 'n_res': 1, 'z_ch': 8, 'n_codes': 32, 'ema_decay': 0.99}}
            back, _ = autoencoder_from_model(cfg, d)
            x, c = torch.rand(1, 1, 16, 16, 16), torch.rand(1, 3, 16, 16, 16)
            with torch.no_grad():
                self.assertFalse(back.quantise)
                self.assertTrue(torch.allclose(back.eval().encode(x, c), ae.eval().encode(x, c), atol=1e-6))
        self.assertIs(latent['quantised'], False)
        self.assertNotIn('codebookSize', latent)

    def test_fp16_weights_smaller(self):
        a = os.path.getsize(os.path.join(self.tmp.name, 'unet.onnx'))
        b = os.path.getsize(os.path.join(self.tmp16.name, 'unet.onnx'))
        self.assertLess(b, 0.6 * a)
        m = self.onnx.load(os.path.join(self.tmp16.name, 'unet.onnx'))
        self.onnx.checker.check_model(m)
        self.assertIn('Cast', {n.op_type for n in m.graph.node})


class DemoManifestTest(unittest.TestCase):
    """The export command in models/training/README.md reproduces the committed model.json's
    contract, card and metrics fields (everything but files/onnx/golden/latent, which come
    from the checkpoints at export)."""

    def test_documented_command_reproduces_committed_fields(self):
        import re
        import shlex
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(here, 'README.md')) as f:
            readme = f.read()
        cmd = re.search(r'/usr/bin/python3 -m ldm\.export (--config configs/demo\.json(?:[^\n]*\\\n)*[^\n]*)', readme)
        self.assertIsNotNone(cmd, 'export command for configs/demo.json in README.md')
        argv = shlex.split(cmd.group(1).replace('\\\n', ' '))
        opts = dict(zip(argv[::2], argv[1::2]))
        self.assertEqual(opts['--out'], '../geometry-ldm-demo')
        for k in ('--manifest-extra', '--metrics'):
            self.assertIn(k, opts)
            self.assertTrue(os.path.exists(os.path.join(here, opts[k])), opts[k])
        from ldm.train import load_config
        extra = E.manifest_extra(load_config(os.path.join(here, opts['--config'])),
                                 os.path.join(here, opts['--manifest-extra']), os.path.join(here, opts['--metrics']))
        with open(os.path.join(here, opts['--out'], 'model.json')) as f:
            committed = json.load(f)
        mine = [k for k in committed if k not in ('schemaVersion', 'files', 'onnx', 'golden', 'latent')]
        self.assertEqual(mine, list(extra))  # same fields, same order
        for k in mine:
            self.assertEqual(committed[k], extra[k], k)


if __name__ == '__main__':
    unittest.main()
