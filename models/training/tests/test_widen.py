"""Function-preserving widening of the UNet (ldm/widen.py): the widened UNet computes what its
narrow parent computes (the parent's own forward pass is the truth), its channel copies part ways
under training, and widenings that cannot preserve the function are refused."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ldm.unet import UNet3d  # noqa: E402
from ldm.widen import widen_unet  # noqa: E402

torch.set_num_threads(1)


def random_unet(widths, n_res, seed, **kw):
    """A UNet whose every tensor is random (GroupNorm affine and zero-initialised biases too), so that
    no term of the comparison is trivially 0 or 1."""
    torch.manual_seed(seed)
    u = UNet3d(z_ch=8, coord_ch=3, widths=widths, n_res=n_res, heads=8, **kw)
    with torch.no_grad():
        for p in u.parameters():
            p.copy_(torch.randn_like(p) * (0.5 if p.dim() <= 1 else 1.0 / max(1, p[0].numel()) ** 0.5))
    return u.eval()


def inputs(seed, shape=(2, 8, 17, 12, 9)):  # a 3x2x2 bottleneck: attention over 12 positions
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(*shape, generator=g)
    coords = torch.rand(shape[0], 3, *shape[2:], generator=g) * 2 - 1
    t = torch.tensor([37.0, 811.0][: shape[0]])
    return z, t, coords


class WidenTest(unittest.TestCase):
    def check_same_function(self, widths, n_res, k):
        narrow = random_unet(widths, n_res, seed=3)
        wide = UNet3d(z_ch=8, coord_ch=3, widths=tuple(k * w for w in widths), n_res=n_res, heads=8,
                      temb_ch=widths[0], norm_group_div=k).eval()
        widen_unet(narrow, wide, k, torch.Generator().manual_seed(0))
        z, t, coords = inputs(5)
        with torch.no_grad():
            ref, got = narrow(z, t, coords), wide(z, t, coords)
        scale = ref.abs().max().item()
        self.assertGreater(scale, 0.1)
        self.assertLess((got - ref).abs().max().item(), 2e-5 * scale, f'widths {widths} n_res {n_res} k {k}')
        return narrow, wide

    def test_widened_unet_computes_the_narrow_one(self):
        for widths, n_res, k in (((8, 16, 16), 1, 2), ((8, 16, 16), 2, 2), ((8, 16, 16), 1, 3)):
            self.check_same_function(widths, n_res, k)

    def test_copies_part_ways_under_training(self):
        _, wide = self.check_same_function((8, 16, 16), 1, 2)
        z, t, coords = inputs(6)
        wide.train()
        wide(z, t, coords).square().mean().backward()
        params = dict(wide.named_parameters())
        # the input convolution's output channels 0 and 1 are copies of one parent channel: equal
        # weights (its inputs are not widened, so nothing is split), yet other gradients
        self.assertTrue(torch.equal(params['inp.weight'][0], params['inp.weight'][1]))
        v0 = 2 * wide.attn.ch  # the attention's value rows (its query and key copies meet their equal
        # partners' copies in every product, so they part ways only once their inputs do)
        for name, row in (('inp.weight', 0), ('down_blocks.0.0.c1.weight', 0), ('mid1.c2.weight', 0),
                          ('attn.qkv.weight', v0), ('out.weight', 0)):
            g = params[name].grad
            self.assertGreater((g[row] - g[row + 1]).abs().max().item(), 1e-3 * g.abs().max().item(), name)

    def test_refuses_widenings_that_change_the_function(self):
        narrow = random_unet((8, 16, 16), 1, seed=1)
        g = torch.Generator().manual_seed(0)
        cases = [
            (dict(widths=(16, 32, 32), temb_ch=8, norm_group_div=1), 'norm_group_div'),
            (dict(widths=(16, 32, 32), norm_group_div=2), 'temb_ch'),
            (dict(widths=(16, 32, 16), temb_ch=8, norm_group_div=2), 'cannot widen 16 channels'),
            (dict(widths=(16, 32, 32), n_res=2, temb_ch=8, norm_group_div=2), 'not in the narrow UNet'),
        ]
        for kw, words in cases:
            kw = dict(kw)
            wide = UNet3d(z_ch=8, coord_ch=3, n_res=kw.pop('n_res', 1), heads=8, **kw)
            with self.assertRaises(ValueError) as e:
                widen_unet(narrow, wide, 2, g)
            self.assertIn(words, str(e.exception), kw)

    def test_default_architecture_is_unchanged(self):
        # temb_ch and norm_group_div at their defaults: the layout every exported model has
        u = UNet3d(z_ch=8, coord_ch=3, widths=(32, 64, 64), n_res=1, heads=8)
        self.assertEqual(u.temb_ch, 32)
        self.assertEqual(tuple(u.temb[0].weight.shape), (128, 32))
        groups = {n: m.num_groups for n, m in u.named_modules() if isinstance(m, torch.nn.GroupNorm)}
        # measured on unet.py before temb_ch and norm_group_div existed (the layout of 0.6.1's unet.onnx)
        self.assertEqual(groups, {'down_blocks.0.0.n1': 16, 'down_blocks.0.0.n2': 16, 'down_blocks.1.0.n1': 16,
                                  'down_blocks.1.0.n2': 32, 'down_blocks.2.0.n1': 32, 'down_blocks.2.0.n2': 32,
                                  'mid1.n1': 32, 'mid1.n2': 32, 'attn.norm': 32, 'mid2.n1': 32, 'mid2.n2': 32,
                                  'up_blocks.0.0.n1': 32, 'up_blocks.0.0.n2': 32, 'up_blocks.1.0.n1': 32,
                                  'up_blocks.1.0.n2': 32, 'up_blocks.2.0.n1': 32, 'up_blocks.2.0.n2': 16,
                                  'out_norm': 16})
        self.assertEqual(sum(p.numel() for p in u.parameters()), 2_376_392)


if __name__ == '__main__':
    unittest.main()
