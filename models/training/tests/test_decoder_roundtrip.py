"""The up-convolution's shuffle form maps back to the ConvTranspose weights exactly, and an
autoencoder rebuilt from exported ONNX files (train.init_from_model) decodes as those files do."""
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from ldm import export as E  # noqa: E402
from ldm.train import build_autoencoder, init_from_model, load_config, torch_load  # noqa: E402
from ldm.vqgan import ExportDecoder, UpConv, conv_transpose_to_conv_weight, conv_weight_to_conv_transpose  # noqa: E402

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, '..', 'configs', 'tiny-test.json')


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
            out = os.path.join(d, 'model')
            E.main(['--tiny', '--config', TINY, '--out', out])
            cfg = load_config(TINY)
            ck = os.path.join(d, 'ae.pt')
            init_from_model(cfg, out, ck, lambda _m: None)
            ae = build_autoencoder(cfg)
            ae.load_state_dict(torch_load(ck)['model'])
            ae.eval()
            ref = ExportDecoder(build_autoencoder(cfg))
            from ldm.onnx_weights import load_from_onnx
            load_from_onnx(ref, os.path.join(out, 'decoder.onnx'))
            z = torch.randn(1, cfg['autoencoder']['z_ch'], 2, 3, 2)
            with torch.no_grad():
                self.assertLess(float((ae.decoder(z) - ref(z)).abs().max()), 1e-5)


if __name__ == '__main__':
    unittest.main()
