"""Weights read back from ONNX files (ldm/onnx_weights.py) and the committed demo model's
extra golden case (ldm/demo_golden.py).

- Round trip: a tiny random-weight export loaded into freshly initialised modules gives
  back exactly the exported modules' parameters (fp32), or their fp16 rounding (fp16).
- Demo model: modules rebuilt from configs/demo.json with the committed ONNX weights
  reproduce golden/golden.json (recorded from the original checkpoints at export) within
  1e-5, and golden/unet-attention.json (multi-token bottleneck) within 1e-5.
"""
import json
import os
import sys
import tempfile
import unittest
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
DEMO = os.path.join(TRAINING, '..', 'geometry-ldm-demo')
sys.path.insert(0, TRAINING)
from ldm import demo_golden as DG  # noqa: E402
from ldm import export as E  # noqa: E402
from ldm.onnx_weights import load_from_onnx, onnx_state  # noqa: E402
from ldm.train import load_config  # noqa: E402
from ldm.unet import UNet3d  # noqa: E402
from ldm.vqgan import ExportDecoder, ExportEncoder, VQAutoencoder  # noqa: E402

torch.set_num_threads(1)


def fresh_parts(seed):
    torch.manual_seed(seed)
    ae = VQAutoencoder(widths=(4, 8, 8), n_res=1, z_ch=8, n_codes=32)
    return {'encoder': ExportEncoder(ae), 'decoder': ExportDecoder(ae),
            'unet': UNet3d(z_ch=8, coord_ch=3, widths=(8, 16, 16), n_res=1, heads=8)}


class RoundTripTest(unittest.TestCase):
    def check(self, fp16):
        ae, unet = E.tiny_models(0)
        # distinct GroupNorm affines (fresh ones are all 1/0: a wrong mapping would go unseen)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in unet.modules():
                if isinstance(m, torch.nn.GroupNorm):
                    m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        ref = {'encoder': ExportEncoder(ae), 'decoder': ExportDecoder(ae), 'unet': unet}
        with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
            warnings.simplefilter('ignore')
            E.export_all(ae, unet, d, fp16=fp16, manifest_extra={'name': 'x'})
            got = fresh_parts(99)
            for part in ('encoder', 'decoder', 'unet'):
                load_from_onnx(got[part], os.path.join(d, f'{part}.onnx'))
        n_groupnorm = 0
        for part in ('encoder', 'decoder', 'unet'):
            want = ref[part].state_dict()
            for k, v in got[part].state_dict().items():
                if k.endswith(('cluster_size', 'embed_avg', 'initialised')):
                    continue  # EMA training state: not in the ONNX graph
                w = want[k]
                if fp16 and w.is_floating_point() and w.numel() >= 16:
                    w = w.half().float()
                self.assertTrue(torch.equal(v, w), f'{part}.{k}')
                if isinstance(got[part].get_submodule(k.rpartition('.')[0]), torch.nn.GroupNorm):
                    n_groupnorm += 1
        self.assertEqual(n_groupnorm, 2 * sum(isinstance(m, torch.nn.GroupNorm) for m in unet.modules()))

    def test_fp32_round_trip_exact(self):
        self.check(False)

    def test_fp16_round_trip_is_the_fp16_rounding(self):
        self.check(True)

    def test_missing_weight_raises(self):
        with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ae, unet = E.tiny_models(0)
            E.export_all(ae, unet, d, manifest_extra={'name': 'x'})
            bigger = UNet3d(z_ch=8, coord_ch=3, widths=(8, 16, 16), n_res=2, heads=8)
            with self.assertRaises(ValueError):
                onnx_state(os.path.join(d, 'unet.onnx'), bigger)


@unittest.skipUnless(os.path.exists(os.path.join(DEMO, 'model.json')), 'no demo model')
class DemoModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfg = load_config(os.path.join(TRAINING, 'configs', 'demo.json'))
        with open(os.path.join(DEMO, 'model.json')) as f:
            cls.manifest = json.load(f)
        with open(os.path.join(DEMO, cls.manifest['golden']['path'])) as f:
            cls.golden = json.load(f)
        cls.parts = DG.rebuild(cfg, DEMO, cls.manifest)

    def test_rebuilt_modules_reproduce_export_golden(self):
        rep = DG.reproduce(self.parts, self.golden)
        self.assertEqual(sorted(rep), ['decoder', 'encoder', 'unet'])
        for part, r in rep.items():
            self.assertGreater(r['maxAbs'], 0.1, part)
            self.assertLessEqual(r['maxAbsDiff'], 1e-5, part)

    def test_attention_golden_reproduced_and_multi_token(self):
        with open(os.path.join(DEMO, E.ATTENTION_GOLDEN_PATH)) as f:
            committed = json.load(f)
        self.assertEqual(committed['latentDims'], [12, 16, 20])
        self.assertEqual(committed['bottleneckDims'], [2, 2, 3])
        self.assertEqual(committed['bottleneckTokens'], 12)
        att = E.attention_golden(self.parts['unet'])
        self.assertEqual(att['unet']['inputs'], committed['unet']['inputs'])
        d = (DG.decode(att['unet']['outputs']['eps']) - DG.decode(committed['unet']['outputs']['eps'])).abs().max()
        self.assertLessEqual(float(d), 1e-5)
        self.assertGreater(committed['maxAbsDiffSelfOnlyAttention'], 100 * self.manifest['golden']['toleranceAbs'])


if __name__ == '__main__':
    unittest.main()
