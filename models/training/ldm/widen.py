"""Function-preserving widening of the diffusion UNet (Net2WiderNet, Chen et al. 2016).

A UNet of widths k*w is started from a trained UNet of widths w so that it computes exactly what
the narrow one does; training then has k times the channels to use without starting from
scratch (a wider UNet from scratch was far behind within a CPU session: BENCHMARKS.md, W8).

Every widened channel c of the narrow UNet becomes the k adjacent channels k*c .. k*c+k-1 with c's
incoming weights and bias (the copies carry the same activation); a layer reading widened
channels splits each weight over the k copies with shares that sum to 1, so it sums to the narrow
layer's output. The shares are random (1/k plus zero-sum noise), so the copies get different
gradients and part ways in training (the attention's query and key copies once their inputs
have) while the function at the start is exactly the parent's.
GroupNorm keeps the parent's group count (UNet3d norm_group_div = k), so each group holds the
copies of its parent group's channels and has the same mean and variance. The timestep embedding
keeps the parent's size (temb_ch), its MLP is copied as it is. In the bottleneck attention each
head's query.key sums k copies of every product against a scale 1/sqrt(k * head_dim): the query
rows are scaled by 1/sqrt(k) so the attention weights stay the parent's.
"""
from __future__ import annotations

import math

import torch

from .unet import SelfAttention3d, UNet3d


def widen_unet(narrow: UNet3d, wide: UNet3d, factor: int, generator: torch.Generator, share_noise: float = 0.25) -> None:
    """Writes into `wide` (widths factor x narrow's, temb_ch = narrow's, norm_group_div = factor x
    narrow's) the weights that make it compute what `narrow` does. share_noise: the split shares
    are 1/factor + u with u uniform in +-share_noise/factor, centred to sum to 0 over the copies.
    Raises ValueError naming the first tensor or norm whose shapes do not fit a widening by `factor`."""
    k = int(factor)
    if k < 1:
        raise ValueError(f'widening factor must be a positive integer, not {factor!r}')
    if wide.temb_ch != narrow.temb_ch:
        raise ValueError(f'the wide UNet needs temb_ch {narrow.temb_ch} (the narrow one\'s), not {wide.temb_ch}')
    nmods, wmods = dict(narrow.named_modules()), dict(wide.named_modules())
    for name, m in wmods.items():
        if isinstance(m, torch.nn.GroupNorm):
            p = nmods.get(name)
            if not isinstance(p, torch.nn.GroupNorm):
                raise ValueError(f'{name}: not in the narrow UNet (another depth or layout)')
            if p.num_groups != m.num_groups or m.num_channels != k * p.num_channels:
                raise ValueError(f'{name}: GroupNorm of {m.num_channels} channels in {m.num_groups} groups cannot '
                                 f'widen {p.num_channels} channels in {p.num_groups} groups by {k} '
                                 f'(set norm_group_div to the factor)')
    nstate, wstate = narrow.state_dict(), wide.state_dict()
    out = {}
    for key, wt in wstate.items():
        if key not in nstate:
            raise ValueError(f'{key}: not in the narrow UNet (another depth or layout)')
        src = nstate[key].to(torch.float64)
        dst = src
        if wt.shape[0] == k * src.shape[0] and k > 1:
            dst = dst.repeat_interleave(k, dim=0)  # each output channel -> k adjacent copies
        elif wt.shape[0] != src.shape[0]:
            raise ValueError(f'{key}: {tuple(src.shape)} -> {tuple(wt.shape)} is not a widening by {k}')
        if src.dim() >= 2:
            if wt.shape[1] == k * src.shape[1] and k > 1:
                dst = dst.repeat_interleave(k, dim=1)
                cin = src.shape[1]
                u = (torch.rand((dst.shape[0], cin, k), generator=generator, dtype=torch.float64) * 2 - 1) * share_noise / k
                share = 1.0 / k + (u - u.mean(dim=2, keepdim=True))  # sums to exactly 1 over the copies
                share = share.reshape(dst.shape[0], cin * k, *([1] * (dst.dim() - 2)))
                dst = dst * share
            elif wt.shape[1] != src.shape[1]:
                raise ValueError(f'{key}: {tuple(src.shape)} -> {tuple(wt.shape)} is not a widening by {k}')
        if wt.shape[2:] != dst.shape[2:]:
            raise ValueError(f'{key}: kernel {tuple(src.shape[2:])} -> {tuple(wt.shape[2:])}')
        out[key] = dst
    # attention: the query rows (the first third of qkv's outputs) by 1/sqrt(k), see the module doc
    for name, m in wmods.items():
        if isinstance(m, SelfAttention3d):
            for part in ('weight', 'bias'):
                out[f'{name}.qkv.{part}'][: m.ch] /= math.sqrt(k)
    wide.load_state_dict({key: v.to(wstate[key].dtype) for key, v in out.items()})
