"""Latent-diffusion UNet (docs/method.md section 3).

Input: noisy latent z_t (8 ch) + 3 latent-size coordinate channels; timestep t
(float, 0-based, [B]); output: predicted noise eps (8 ch). 3 levels (paper widths
128/256/256; a config value here), one or more residual blocks per level with a
sinusoidal timestep embedding, multi-head self-attention (8 heads) at the
bottleneck. Works for any latent size >= 1 per axis: down = Conv3d(k3, s2, p1)
(ceil), up = nearest x2 (expand + reshape) then cropped to the skip's size (no ConvTranspose, so
onnxruntime-web's WebGPU EP can run it).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class Float32Compute:
    """Mixin for a module that computes in float32 whatever its input's dtype, autocast off, and
    returns the input's dtype. A float32 input takes the plain path, so the traced ONNX graph is
    the plain module's. Used where torch 1.13's CPU bf16 autocast (train.py, diffusion.bf16)
    fails: see GroupNorm32 and DownConv3d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return super().forward(x)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float()).to(x.dtype)


class GroupNorm32(Float32Compute, nn.GroupNorm):
    """GroupNorm in float32: torch 1.13's group_norm refuses a bf16 input with float32 affine
    weights."""


class DownConv3d(Float32Compute, nn.Conv3d):
    """The stride-2 downsampling convolution in float32: torch 1.13's CPU bf16 kernel gave
    non-finite weight gradients for some draws on small odd grids (a 3x4x3 input to the third
    downsampling)."""


def _groups(ch: int) -> int:
    """GroupNorm's group count for `ch` channels: up to 32 groups of at least 2 channels."""
    for g in (32, 16, 8, 4, 2, 1):
        if ch % g == 0 and ch // g >= 2:
            return g
    return 1


def _norm(ch: int, group_div: int = 1) -> GroupNorm32:
    """GroupNorm over `ch` channels with the group count of ch / group_div channels: a UNet widened
    by duplicating each channel k times (ldm/widen.py, group_div = k) keeps its narrow parent's
    groups, so each group's mean and variance, hence its output, stay the parent's."""
    if ch % group_div:
        raise ValueError(f'{ch} channels do not split by norm_group_div {group_div}')
    return GroupNorm32(_groups(ch // group_div), ch)


class TResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, group_div=1):
        super().__init__()
        self.n1 = _norm(cin, group_div)
        self.c1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = _norm(cout, group_div)
        self.c2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class SelfAttention3d(nn.Module):
    def __init__(self, ch, heads=8, group_div=1):
        super().__init__()
        assert ch % heads == 0
        self.heads = heads
        self.ch = ch
        self.norm = _norm(ch, group_div)
        self.qkv = nn.Conv3d(ch, 3 * ch, 1)
        self.out = nn.Conv3d(ch, ch, 1)

    def forward(self, x):
        b, _, d, h, w = x.shape
        c = self.ch  # static (keeps the exported graph free of traced Python numbers)
        hd = c // self.heads
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, hd, d * h * w)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # [B, heads, hd, N]
        attn = torch.softmax(torch.matmul(q.transpose(2, 3), k) * (1.0 / math.sqrt(hd)), dim=-1)  # [B, heads, N, N]
        o = torch.matmul(v, attn.transpose(2, 3))  # [B, heads, hd, N]
        return x + self.out(o.reshape(b, c, d, h, w))


def upsample2(h: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour x2 as Unsqueeze + Expand + Reshape (no Resize op in the ONNX graph)."""
    b, c, d, hh, w = h.shape
    h = h[:, :, :, None, :, None, :, None].expand(b, c, d, 2, hh, 2, w, 2)
    return h.reshape(b, c, d * 2, hh * 2, w * 2)


class UNet3d(nn.Module):
    """temb_ch: the sinusoidal timestep embedding's size (the MLP after it has 4x that); default
    widths[0]. norm_group_div: see _norm. Both defaults give the architecture every exported model
    before them has; a widened UNet (ldm/widen.py) keeps its parent's temb_ch and sets the factor."""

    def __init__(self, z_ch=8, coord_ch=3, widths=(32, 64, 64), n_res=1, heads=8, temb_ch=None, norm_group_div=1):
        super().__init__()
        self.z_ch = z_ch
        w0 = widths[0]
        self.temb_ch = int(temb_ch or w0)
        self.tdim = 4 * self.temb_ch
        gd = int(norm_group_div)
        self.temb = nn.Sequential(nn.Linear(self.temb_ch, self.tdim), nn.SiLU(), nn.Linear(self.tdim, self.tdim))
        self.inp = nn.Conv3d(z_ch + coord_ch, w0, 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        skips = []
        c = w0
        for li, w in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(n_res):
                blocks.append(TResBlock(c, w, self.tdim, gd))
                c = w
            self.down_blocks.append(blocks)
            skips.append(c)
            self.downs.append(DownConv3d(c, c, 3, stride=2, padding=1))
        # bottleneck after 3 downsamplings
        self.mid1 = TResBlock(c, c, self.tdim, gd)
        self.attn = SelfAttention3d(c, heads, gd)
        self.mid2 = TResBlock(c, c, self.tdim, gd)
        self.up_blocks = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for li in reversed(range(len(widths))):
            w = widths[li]
            self.up_convs.append(nn.Conv3d(c, c, 3, padding=1))
            blocks = nn.ModuleList()
            blocks.append(TResBlock(c + skips[li], w, self.tdim, gd))
            for _ in range(n_res - 1):
                blocks.append(TResBlock(w, w, self.tdim, gd))
            self.up_blocks.append(blocks)
            c = w
        self.out_norm = _norm(c, gd)
        self.out = nn.Conv3d(c, z_ch, 3, padding=1)

    def forward(self, z_t, t, coords):
        temb = self.temb(timestep_embedding(t, self.temb_ch))
        h = self.inp(torch.cat([z_t, coords], 1))
        hs = []
        for blocks, down in zip(self.down_blocks, self.downs):
            for blk in blocks:
                h = blk(h, temb)
            hs.append(h)
            h = down(h)
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        for up, blocks in zip(self.up_convs, self.up_blocks):
            skip = hs.pop()
            h = upsample2(h)
            h = h[:, :, : skip.shape[2], : skip.shape[3], : skip.shape[4]]
            h = up(h)
            h = torch.cat([h, skip], 1)
            for blk in blocks:
                h = blk(h, temb)
        return self.out(F.silu(self.out_norm(h)))
