"""The super-resolution refiner: a 2.5D residual CNN that refines planes of a back-projected
volume (docs/super-resolution.md). TypeScript twin of its input/output contract:
extensions/geometry-ldm/src/inference/refiner.ts.

A plane holds two fine axes, rows (A) and columns (B); its normal is N. Input: the plane and
its two neighbours along N (``context`` = 3 planes, previous/centre/next), in HU / 1000
clamped to [-1.024, 3.071], and 12 acquisition features (4 for each of A, B, N:
spacing / 4, width / 4, Gaussian flag, point flag; spacing and width in fine voxels; an axis
the acquisition did not degrade is spacing 1, width 1, box). Output: the refined centre
plane (same units): centre + a learned residual (the output layer starts at zero, so an
untrained refiner is the identity).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .acquisition import AxisAcquisition

HU_SCALE = 1000.0
HU_CLAMP = (-1024.0, 3071.0)
FEATURES_PER_AXIS = 4
FEATURE_SCALE = 4.0


def axis_features(ax: AxisAcquisition) -> list:
    point = ax.profile == 'point'
    return [ax.spacing / FEATURE_SCALE, 0.0 if point else ax.width / FEATURE_SCALE,
            1.0 if ax.profile == 'gaussian' else 0.0, 1.0 if point else 0.0]


def plane_features(rows: AxisAcquisition, cols: AxisAcquisition, normal: AxisAcquisition) -> list:
    return axis_features(rows) + axis_features(cols) + axis_features(normal)


def hu_to_input(hu: torch.Tensor) -> torch.Tensor:
    return hu.clamp(*HU_CLAMP) / HU_SCALE


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, h):
        return h + self.b(F.relu(self.a(h)))


class Refiner(nn.Module):
    def __init__(self, channels: int = 48, blocks: int = 6, context: int = 3):
        super().__init__()
        if context % 2 != 1:
            raise ValueError('context must be odd (centre plane plus neighbours on both sides)')
        self.context = context
        self.head = nn.Conv2d(context, channels, 3, padding=1)
        # the acquisition enters as a per-channel bias (not as constant maps: those would differ
        # from a bias at the zero-padded border)
        self.cond = nn.Linear(3 * FEATURES_PER_AXIS, channels)
        self.body = nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, 1, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, planes: torch.Tensor, acquisition: torch.Tensor) -> torch.Tensor:
        """planes [B, context, H, W], acquisition [B, 12] -> [B, 1, H, W]."""
        c = self.context // 2
        h = F.relu(self.head(planes) + self.cond(acquisition)[:, :, None, None])
        return planes[:, c:c + 1] + self.tail(self.body(h))


def refiner_shape(weights: dict) -> dict:
    """Refiner(**result) for weights given as {name: tensor or shape} (a state dict, or an ONNX
    file's initializer dims: the names agree): a checkpoint says its own architecture."""
    blocks = len({k.split('.')[1] for k in weights if k.startswith('body.')})
    head = weights['head.weight']
    channels, context = (int(d) for d in tuple(getattr(head, 'shape', head))[:2])
    return {'channels': channels, 'blocks': blocks, 'context': context}


def refiner_from_state(state: dict) -> Refiner:
    """A refiner of the state's architecture holding its weights."""
    net = Refiner(**refiner_shape(state))
    net.load_state_dict(state)
    return net


def refiner_from_onnx(path: str) -> Refiner:
    """A refiner rebuilt from an exported refiner.onnx (architecture from its initializers'
    shapes): the committed model's refiner without its checkpoint, which is not in git."""
    from .onnx_weights import load_from_onnx, onnx_constants
    net = Refiner(**refiner_shape(onnx_constants(path)))
    load_from_onnx(net, path)
    return net


def refiner_from_file(path: str) -> Refiner:
    """The refiner in a training checkpoint (its EMA weights, .pt) or in an exported refiner.onnx."""
    if path.endswith('.onnx'):
        return refiner_from_onnx(path)
    from .train import torch_load
    return refiner_from_state(torch_load(path)['ema'])


def build_refiner(cfg: dict) -> Refiner:
    r = cfg['refiner']
    return Refiner(channels=r['channels'], blocks=r['blocks'], context=r['context'])


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def flops_per_voxel(net: Refiner) -> float:
    """Multiply-adds x 2 per output voxel of one plane pass (convolutions only)."""
    total = 0
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            total += m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
    return 2.0 * total


def refine_planes(net: Refiner, volume: torch.Tensor, plane_axes: Sequence[int],
                  features: Sequence[float], batch: int = 8, flip=(False, False), autocast: bool = False) -> torch.Tensor:
    """Refine every plane of a 3D volume (HU/1000, array order) spanned by plane_axes = (rows, cols);
    the normal is the remaining axis; neighbours beyond the ends repeat the end plane.
    flip: mirror rows / columns before the network and back after (test-time augmentation)."""
    rows, cols = plane_axes
    normal = ({0, 1, 2} - {rows, cols}).pop()
    v = volume.permute(normal, rows, cols)  # [N, H, W]
    n = v.shape[0]
    k = net.context // 2
    padded = torch.cat([v[:1].expand(k, -1, -1), v, v[-1:].expand(k, -1, -1)], 0)
    out = torch.empty_like(v)
    feats = torch.tensor(list(features), dtype=volume.dtype)[None]
    dims = [d for d, f in zip((2, 3), flip) if f]
    with torch.no_grad():
        for s in range(0, n, batch):
            e = min(n, s + batch)
            x = torch.stack([padded[i:i + net.context] for i in range(s, e)])
            if dims:
                x = x.flip(dims)
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
                y = net(x, feats.expand(e - s, -1))[:, 0].float()
            if dims:
                y = y.flip([d - 1 for d in dims])
            out[s:e] = y
    inv = [0, 0, 0]
    for dst, src in enumerate((normal, rows, cols)):
        inv[src] = dst
    return out.permute(*inv).contiguous()
