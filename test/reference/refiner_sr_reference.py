#!/usr/bin/env python3
"""Reference of the 'ai' super-resolution mode (docs/super-resolution.md), in PyTorch.

Written from the documented rule, not from the TypeScript: the per-axis acquisition is
derived here from the two affines with numpy, back-projection and projection use
ldm.acquisition (itself checked against brute-force integration and the TS twin), the
refiner is the PyTorch module `ldm.export.tiny_refiner(seed)` (the weights the TS test
loads as ONNX) applied plane by plane on the body box only (the voxels above refinerBox.aboveHu
HU in the back-projection, grown by marginVoxels), each plane over its own body's columns
(refine_box), blended into the clamped back-projection over blendVoxels where the box cuts the
grid and where a plane's columns cut the box.

usage: refiner_sr_reference.py INPUT.json OUTPUT_DIR
INPUT.json: source (raw <f4 [nz][ny][nx]), sourceDims, sourceAffine, outputDims, outputAffine
(16 numbers, row-major), slice {profile, widthMm}, samples, iterations, modelSeed,
refinerBox {aboveHu, marginVoxels, blendVoxels, quantumVoxels, groupPlanes}.
Writes OUTPUT_DIR/{mean,std,classical,unprojected}.f32 ([nz][ny][nx] of the output grid).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'models', 'training'))
from ldm.acquisition import Acquisition, AxisAcquisition  # noqa: E402
from ldm.export import tiny_refiner  # noqa: E402
from ldm.refiner import hu_to_input, plane_features  # noqa: E402


def body_box(hu, above, margin):
    """Array slices (k, j, i) of the voxels above `above` HU, grown by `margin` and clipped; the
    refiner runs on that sub-volume as if it were the whole volume. Empty slices if none."""
    idx = np.nonzero(hu > above)
    if len(idx[0]) == 0:
        return (slice(0, 0),) * 3
    return tuple(slice(max(0, int(ax.min()) - margin), min(n, int(ax.max()) + margin + 1))
                 for ax, n in zip(idx, hu.shape))


def box_weight(box, shape, blend):
    """Blend weight inside the box (array order): min(1, d / blend), d the distance in voxels to
    the nearest face the box cut (a face on the grid's edge does not count)."""
    d = np.full([sl.stop - sl.start for sl in box], np.inf)
    for a, (sl, n) in enumerate(zip(box, shape)):
        t = np.arange(sl.stop - sl.start, dtype=np.float64)
        da = np.full_like(t, np.inf)
        if sl.start > 0:
            da = np.minimum(da, t)
        if sl.stop < n:
            da = np.minimum(da, t[::-1])
        d = np.minimum(d, da.reshape([-1 if b == a else 1 for b in range(3)]))
    return np.minimum(1.0, d / blend) if blend > 0 else np.ones_like(d)


def ramp(start, n, grid_n, blend):
    """min(1, d / blend) over indices 0..n-1 of a range starting at `start` in 0..grid_n-1, d the
    distance to the nearer end the range cut (an end on the grid's edge does not count)."""
    t = np.arange(n, dtype=np.float64)
    d = np.full(n, np.inf)
    if start > 0:
        d = np.minimum(d, t)
    if start + n < grid_n:
        d = np.minimum(d, t[::-1])
    return np.minimum(1.0, d / blend) if blend > 0 else np.ones(n)


def refine_box(net, sub, sub_hu, na, ra, ca, feats, flips, rule):
    """The box refined plane by plane, in input units: plane n along array axis `na` spans rows
    `ra` and columns `ca`; its neighbours n-1, n+1 repeat at the box's ends. Each plane is refined
    over its group's columns (groups of groupPlanes planes from plane 0): the group's bodies'
    (above rule['aboveHu'] HU) grown by marginVoxels, widened to multiples of quantumVoxels from
    column 0 and clipped; there the result is c + w (refined - c),
    c the plane's input, w the ramp over blendVoxels from the ends that cut the box's columns;
    elsewhere c. Mirroring (flips: rows, columns) is applied to the cropped input and undone."""
    v = sub.permute(na, ra, ca)
    vh = sub_hu.permute(na, ra, ca).numpy()
    n_planes, _, width = v.shape
    out = v.clone()
    q, m, blend, group = rule['quantumVoxels'], rule['marginVoxels'], rule['blendVoxels'], rule['groupPlanes']
    with torch.no_grad():
        for n in range(n_planes):
            g0 = n - n % group  # the plane's group: planes g0 .. g0 + group - 1 of the box
            cols = np.nonzero((vh[g0:g0 + group] > rule['aboveHu']).any((0, 1)))[0]
            if len(cols) == 0:
                continue
            lo, hi = int(cols.min()), int(cols.max())
            first = max(0, ((lo - m) // q) * q)
            last = min(width - 1, -((-(hi + m + 1)) // q) * q - 1)
            x = torch.stack([v[max(n - 1, 0)], v[n], v[min(n + 1, n_planes - 1)]])[None, :, :, first:last + 1]
            dims = [d for d, f in zip((2, 3), flips) if f]
            if dims:
                x = x.flip(dims)
            y = net(x, torch.tensor([feats], dtype=v.dtype))[0, 0]
            if dims:
                y = y.flip([d - 2 for d in dims])
            c = v[n, :, first:last + 1]
            w = torch.from_numpy(ramp(first, last - first + 1, width, blend))[None, :]
            out[n, :, first:last + 1] = c + w * (y - c)
    inv = [0, 0, 0]
    for dst, src in enumerate((na, ra, ca)):
        inv[src] = dst
    return out.permute(*inv).contiguous()


def main(inp_path, out_dir):
    torch.set_num_threads(1)
    p = json.load(open(inp_path))
    base = os.path.dirname(inp_path)
    sx, sy, sz = p['sourceDims']
    src = np.fromfile(os.path.join(base, p['source']), '<f4').reshape(sz, sy, sx).astype(np.float64)
    A = np.array(p['sourceAffine'], np.float64).reshape(4, 4)
    B = np.array(p['outputAffine'], np.float64).reshape(4, 4)
    M = np.linalg.inv(A) @ B  # output index -> source index, diagonal for same axes
    spacing_k = np.linalg.norm(A[:3, 2])
    prof, width_mm = p['slice']['profile'], p['slice']['widthMm']
    axes = []  # (i, j, k) order
    for a in range(3):
        r, o = M[a, a], M[a, 3]
        if a < 2:
            pr, w = ('point', 0.0) if prof == 'point' else ('box', 1.0 / r)
        else:
            pr, w = prof, (0.0 if prof == 'point' else width_mm / spacing_k / r)
        axes.append(AxisAcquisition(int(p['sourceDims'][a]), -o / r, 1.0 / r, pr, w))
    nx, ny, nz = p['outputDims']
    acq = Acquisition((nz, ny, nx), axes[::-1], dtype=torch.float64)
    y = torch.from_numpy(np.maximum(src, -1024.0))
    it = p['iterations']
    classical = acq.back_project(y, it)
    net = tiny_refiner(p['modelSeed']).double().eval()
    # rows: the axis with the largest acquired spacing (k on ties); array axis of (i, j, k) = (2, 1, 0)
    rows = 2
    for a in (1, 0):
        if axes[a].spacing > axes[rows].spacing + 1e-9:
            rows = a
    others = [a for a in range(3) if a != rows]
    arr = {0: 2, 1: 1, 2: 0}
    inp = hu_to_input(classical)
    rule = p['refinerBox']
    box = body_box(classical.numpy(), rule['aboveHu'], rule['marginVoxels'])
    weight = torch.from_numpy(box_weight(box, classical.shape, rule['blendVoxels']))
    samples, raws = [], []
    for s in range(p['samples']):
        cols, normal = others[s % 2], others[1 - s % 2]
        flips = (s // 2) % 4
        feats = plane_features(axes[rows], axes[cols], axes[normal])
        r = inp * 1000.0  # outside the box: the clamped back-projection, no residual
        if inp[box].numel():
            refined = refine_box(net, inp[box], classical[box], arr[normal], arr[rows], arr[cols], feats,
                                 (bool(flips & 1), bool(flips & 2)), rule) * 1000.0
            r[box] = r[box] + weight * (refined - r[box])
        raws.append(r)
        samples.append(acq.project(r, y, it))
    st = torch.stack(samples)
    os.makedirs(out_dir, exist_ok=True)
    out = {'mean': st.mean(0), 'std': st.std(0, unbiased=True) if len(samples) > 1 else torch.zeros_like(st[0]),
           'classical': classical, 'unprojected': torch.stack(raws).mean(0)}
    for k, v in out.items():
        v.numpy().astype('<f4').tofile(os.path.join(out_dir, k + '.f32'))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
