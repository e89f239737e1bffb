"""ConvTranspose3d(k4, s2, p1) == Conv3d(k3, p1, 8*Cout) + voxel shuffle (random weights)."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm.vqgan import UpConv, VQAutoencoder, ExportDecoder  # noqa: E402

torch.set_num_threads(1)


class VoxelShuffleTest(unittest.TestCase):
    def test_equal_to_conv_transpose(self):
        g = torch.Generator().manual_seed(0)
        for cin, cout, shape in [(1, 1, (1, 1, 1)), (3, 2, (4, 5, 6)), (8, 4, (3, 7, 2)), (16, 8, (6, 6, 6)), (5, 3, (2, 9, 4))]:
            with self.subTest(cin=cin, cout=cout, shape=shape):
                ct = torch.nn.ConvTranspose3d(cin, cout, 4, 2, 1)
                with torch.no_grad():
                    ct.weight.copy_(torch.randn(ct.weight.shape, generator=g))
                    ct.bias.copy_(torch.randn(ct.bias.shape, generator=g))
                x = torch.randn(2, cin, *shape, generator=g)
                ref = ct(x)
                up = UpConv.from_conv_transpose(ct)
                out = up(x)
                exp = up.export_module()(x)
                self.assertEqual(tuple(out.shape), tuple(ref.shape))
                scale = ref.abs().max().item()
                self.assertLess((out - ref).abs().max().item(), 1e-5 * max(1.0, scale))
                self.assertLess((exp - ref).abs().max().item(), 1e-5 * max(1.0, scale))
                up.mode = 'transpose'
                self.assertLess((up(x) - ref).abs().max().item(), 1e-5 * max(1.0, scale))

    def test_gradients_match(self):
        ct = torch.nn.ConvTranspose3d(4, 3, 4, 2, 1)
        up = UpConv.from_conv_transpose(ct)
        x = torch.randn(1, 4, 3, 4, 5)
        ct(x).square().sum().backward()
        up(x).square().sum().backward()
        self.assertLess((ct.weight.grad - up.weight.grad).abs().max().item(), 1e-4)
        self.assertLess((ct.bias.grad - up.bias.grad).abs().max().item(), 1e-4)

    def test_decoder_export_form_equal(self):
        torch.manual_seed(1)
        ae = VQAutoencoder(widths=(4, 8, 8), n_codes=16).eval()
        z = torch.randn(1, 8, 2, 3, 2)
        a = ae.decode(z)
        b = ExportDecoder(ae)(z)
        self.assertEqual(tuple(a.shape), (1, 1, 16, 24, 16))
        self.assertLess((a - b).abs().max().item(), 1e-5)


if __name__ == '__main__':
    unittest.main()
