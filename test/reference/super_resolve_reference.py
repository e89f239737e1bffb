#!/usr/bin/env python3
"""Independent reference of the super-resolution pipeline (docs/method.md section 4).

Written from the method, not from the TypeScript: torch grid_sample (float64)
for the trilinear upsampling, the Python geometry twin for coordinate
channels, the DDIM update written out below, and the PyTorch modules with the
original ConvTranspose3d decoder (the ONNX graphs use the Conv3d + voxel-shuffle
form). Weights: the tiny random-weight model `ldm.export.tiny_models(seed)`,
the same weights the TS test loads as ONNX. Noise comes from the input files,
so both sides use identical noise.

usage: super_resolve_reference.py INPUT.json OUTPUT_DIR
INPUT.json: source (raw <f4 file, [nz][ny][nx]), sourceDims, sourceAffine (16),
paddedDims, paddedAffine, offset, outputDims, intensity {huMin, huMax,
modelMin, modelMax}, latentScale, tStart, ddimSteps, cycles, samples, noise
(raw <f4 file [samples][cycles][C*d*h*w]), schedule {T, betaStart, betaEnd},
modelSeed.
Writes OUTPUT_DIR/mean.f32, std.f32, upsampled.f32 ([nz][ny][nx] of the output grid).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'models', 'training'))
from ldm import geometry as G  # noqa: E402
from ldm.export import tiny_models  # noqa: E402


def trilinear(src: np.ndarray, src_affine: np.ndarray, dims, affine: np.ndarray) -> np.ndarray:
    """Sample src (index->patient src_affine) at the voxel centres of a grid, border padding."""
    nx, ny, nz = dims
    m = np.linalg.inv(src_affine) @ affine
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing='ij')
    idx = np.stack([i, j, k, np.ones_like(i)], -1).astype(np.float64) @ m.T
    snz, sny, snx = src.shape
    grid = np.stack([2 * idx[..., 0] / (snx - 1) - 1, 2 * idx[..., 1] / (sny - 1) - 1, 2 * idx[..., 2] / (snz - 1) - 1], -1)
    out = F.grid_sample(torch.from_numpy(src.astype(np.float64))[None, None], torch.from_numpy(grid)[None],
                        mode='bilinear', padding_mode='border', align_corners=True)
    return out[0, 0].numpy()


def main(inp_path: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    with open(inp_path) as f:
        p = json.load(f)
    base = os.path.dirname(inp_path)
    sdims = p['sourceDims']
    src = np.fromfile(os.path.join(base, p['source']), '<f4').reshape(sdims[2], sdims[1], sdims[0])
    a_src = np.asarray(p['sourceAffine'], np.float64).reshape(4, 4)
    pdims = p['paddedDims']
    a_pad = np.asarray(p['paddedAffine'], np.float64).reshape(4, 4)

    up = trilinear(src, a_src, pdims, a_pad)
    it = p['intensity']
    x = (np.clip(up, it['huMin'], it['huMax']) - it['huMin']) / (it['huMax'] - it['huMin'])
    x = x * (it['modelMax'] - it['modelMin']) + it['modelMin']

    g = G.scan_extent_group_space(sdims, a_src)
    a = G.index_to_group(a_pad, g)
    coords = torch.from_numpy(G.coordinate_channels(pdims, a).astype(np.float32))[None]
    factor = int(p.get('latentFactor', 8))
    lc = torch.from_numpy(G.latent_conditioning(pdims, a, factor).astype(np.float32))[None]

    ae, unet = tiny_models(p['modelSeed'], factor)
    ae.eval()
    unet.eval()
    scale = float(p['latentScale'])

    s = p['schedule']
    betas = torch.linspace(s['betaStart'] ** 0.5, s['betaEnd'] ** 0.5, s['T'], dtype=torch.float64) ** 2
    ab = torch.cumprod(1 - betas, 0)
    t0, k = p['tStart'], p['ddimSteps']
    # t_i = round(t0 * (k - i) / k), halves up; after the last one: the clean sample (alpha_bar = 1).
    ts = [(2 * t0 * (k - i) + k) // (2 * k) for i in range(k)]

    with torch.no_grad():
        z0 = ae.encode(torch.from_numpy(x.astype(np.float32))[None, None], coords) * scale
        n_lat = z0.numel()
        noise = np.fromfile(os.path.join(base, p['noise']), '<f4').reshape(p['samples'], p['cycles'], n_lat)
        outs = []
        for smp in range(p['samples']):
            z = z0.double()
            for c in range(p['cycles']):
                eps = torch.from_numpy(noise[smp, c].astype(np.float64)).reshape(z0.shape)
                z = (ab[t0].sqrt() * z + (1 - ab[t0]).sqrt() * eps).float().double()
                for n, t in enumerate(ts):
                    ab_t = ab[t]
                    ab_prev = ab[ts[n + 1]] if n + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
                    e = unet(z.float(), torch.tensor([float(t)]), lc).double()
                    x0 = (z - (1 - ab_t).sqrt() * e) / ab_t.sqrt()
                    z = (ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * e).float().double()
            img = ae.decode((z / scale).float())[0, 0].double().numpy()
            hu = (img - it['modelMin']) / (it['modelMax'] - it['modelMin']) * (it['huMax'] - it['huMin']) + it['huMin']
            o = p['offset']
            od = p['outputDims']
            outs.append(hu[o[2]:o[2] + od[2], o[1]:o[1] + od[1], o[0]:o[0] + od[0]])
        stack = np.stack(outs)
        mean = stack.mean(0)
        std = stack.std(0, ddof=1) if len(outs) > 1 else np.zeros_like(mean)
    o, od = p['offset'], p['outputDims']
    os.makedirs(out_dir, exist_ok=True)
    mean.astype('<f4').tofile(os.path.join(out_dir, 'mean.f32'))
    std.astype('<f4').tofile(os.path.join(out_dir, 'std.f32'))
    up[o[2]:o[2] + od[2], o[1]:o[1] + od[1], o[0]:o[0] + od[0]].astype('<f4').tofile(os.path.join(out_dir, 'upsampled.f32'))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
