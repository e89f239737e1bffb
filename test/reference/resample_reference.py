#!/usr/bin/env python3
"""Golden fixture for extensions/geometry-ldm/src/volume/resample.ts.

Independent reference: torch.nn.functional.grid_sample in float64,
mode='bilinear' on a 5D input (= trilinear), align_corners=True, with
padding_mode='border' (compared everywhere) and padding_mode='zeros'
(compared only at sample points inside the box of source voxel centres).

Conventions (extensions/geometry-ldm/src/geometry/conventions.ts): index
(i, j, k) = (column, row, slice), dims [nx, ny, nz], C-order memory with i
fastest, tensor [B, C, D, H, W] = [1, 1, nz, ny, nx]. An affine maps index
(i, j, k, 1) to patient mm; the source index of target voxel (i, j, k) is
inv(source.affine) @ target.affine @ (i, j, k, 1). grid_sample's grid has
last dim (x, y, z) = (W, H, D) = (i, j, k), normalised with
align_corners=True as x_norm = 2 * i / (nx - 1) - 1 (an axis of size 1
unnormalises to 0 whatever the value; we pass 0).

Usage: /usr/bin/python3 test/reference/resample_reference.py [--out PATH]
(default: the committed fixture extensions/geometry-ldm/src/volume/__fixtures__/resample-golden.json).
resample.test.ts reruns this script and compares the numbers with the committed fixture.
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, 'extensions', 'geometry-ldm', 'src', 'volume', '__fixtures__', 'resample-golden.json')

# A sample point counts as inside the box of voxel centres when it is within this many voxels of it.
INSIDE_TOLERANCE = 1e-6
# No fixture point may be outside by more than INSIDE_TOLERANCE but less than this (ambiguous band).
AMBIGUOUS_BAND = 1e-3


def rotation(axis, deg):
    """4x4 rotation by `deg` degrees about the unit vector `axis` (Rodrigues), right-handed."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    t = math.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    r = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
    m = np.eye(4)
    m[:3, :3] = r
    return m


def translation(t):
    m = np.eye(4)
    m[:3, 3] = t
    return m


def scaling(s):
    return np.diag([s[0], s[1], s[2], 1.0])


def index_matrix(rows):
    """4x4 from a 3x4 list (target index -> source index)."""
    m = np.eye(4)
    m[:3, :] = np.asarray(rows, dtype=np.float64)
    return m


def sample_points(src_affine, tgt_affine, tdims):
    """Continuous source indices (i, j, k) of every target voxel, shape [tnz, tny, tnx, 3]."""
    tnx, tny, tnz = tdims
    kk, jj, ii = np.meshgrid(np.arange(tnz), np.arange(tny), np.arange(tnx), indexing='ij')
    homo = np.stack([ii, jj, kk, np.ones_like(ii)], axis=-1).astype(np.float64)
    m = np.linalg.inv(src_affine) @ tgt_affine
    return (homo @ m.T)[..., :3]


def grid_sample(data, sdims, pts, padding):
    snx, sny, snz = sdims
    vol = torch.from_numpy(data.reshape(snz, sny, snx)).to(torch.float64)[None, None]
    norm = np.empty_like(pts)
    for a, n in enumerate(sdims):
        norm[..., a] = 2.0 * pts[..., a] / (n - 1) - 1.0 if n > 1 else 0.0
    grid = torch.from_numpy(norm)[None]
    out = F.grid_sample(vol, grid, mode='bilinear', padding_mode=padding, align_corners=True)
    return out[0, 0].numpy().reshape(-1)


def inside_mask(pts, sdims):
    outside_by = np.zeros(pts.shape[:-1])
    for a, n in enumerate(sdims):
        c = pts[..., a]
        outside_by = np.maximum(outside_by, np.maximum(-c, c - (n - 1)))
    ambiguous = (outside_by > INSIDE_TOLERANCE) & (outside_by < AMBIGUOUS_BAND)
    assert not ambiguous.any(), 'fixture point too close to the edge of the source box'
    return (outside_by <= INSIDE_TOLERANCE).reshape(-1)


def self_check(sdims, saffine, sdata, cases):
    """Guards the axis/normalisation convention of this script itself (not the TS code)."""
    # Sampling the source's own grid returns its data in C-order with i fastest.
    pts = sample_points(saffine, saffine, sdims)
    assert np.allclose(grid_sample(sdata, sdims, pts, 'border'), sdata, rtol=0, atol=1e-12)
    # A linear field of the index, a + b*i + c*j + d*k, is reproduced exactly at points inside the box.
    snx, sny, snz = sdims
    kk, jj, ii = np.meshgrid(np.arange(snz), np.arange(sny), np.arange(snx), indexing='ij')
    coef = (0.25, 1.5, -2.0, 0.75)
    field = (coef[0] + coef[1] * ii + coef[2] * jj + coef[3] * kk).reshape(-1).astype(np.float64)
    for _name, src_name, tdims, taffine, _z in cases:
        if src_name != 'main':
            continue
        pts = sample_points(saffine, taffine, tdims)
        clamped = np.stack([np.clip(pts[..., a], 0, n - 1) for a, n in enumerate(sdims)], axis=-1)
        expect = (coef[0] + coef[1] * clamped[..., 0] + coef[2] * clamped[..., 1] + coef[3] * clamped[..., 2]).reshape(-1)
        assert np.allclose(grid_sample(field, sdims, pts, 'border'), expect, rtol=0, atol=1e-9)


def r9(values):
    """float32 values printed so that they parse back to the same float32."""
    return [float('%.9g' % v) for v in values]


def r12(values):
    return [float('%.12g' % v) for v in values]


def affine_list(a):
    assert np.allclose(a[3], [0, 0, 0, 1])
    out = [float(v) for v in a.reshape(-1)]
    out[12:16] = [0.0, 0.0, 0.0, 1.0]
    return out


def build():
    rng = np.random.RandomState(20240611)

    # Main source: 7x6x5, anisotropic spacing, rotated, off-origin; values N(0, 1) representable in float32.
    main_dims = (7, 6, 5)
    main_affine = translation([-3.0, 10.5, -20.0]) @ rotation([0.2, -0.3, 1.0], 10.0) @ scaling([0.9, 1.2, 2.0])
    main_data = rng.standard_normal(main_dims[0] * main_dims[1] * main_dims[2]).astype(np.float32).astype(np.float64)

    # Degenerate source: one slice (nz = 1).
    flat_dims = (5, 4, 1)
    flat_affine = translation([12.0, -4.0, 30.0]) @ scaling([1.5, 1.5, 3.0])
    flat_data = rng.standard_normal(flat_dims[0] * flat_dims[1]).astype(np.float32).astype(np.float64)

    sources = {
        'main': (main_dims, main_affine, main_data),
        'flat': (flat_dims, flat_affine, flat_data),
    }

    centre_idx = np.array([(n - 1) / 2 for n in main_dims] + [1.0])
    centre_mm = (main_affine @ centre_idx)[:3]
    rot30 = translation(centre_mm) @ rotation([0.3, 0.2, 0.93], 30.0) @ translation(-centre_mm)

    general_lin = rotation(rng.standard_normal(3), 47.0) @ index_matrix(
        [[0.8, 0.15, -0.1, 0.0], [0.05, 0.7, 0.2, 0.0], [-0.1, 0.1, 0.6, 0.0]]
    )
    general = translation([3.0, 2.5, 2.0]) @ general_lin @ translation([-3.5, -3.0, -2.5])

    flat_centre = (flat_affine @ np.array([2.0, 1.5, 0.0, 1.0]))[:3]
    flat_rot = translation(flat_centre) @ rotation([0, 0, 1], 20.0) @ translation(-flat_centre)

    cases = [
        # name, source, target dims, target affine, compare zeros?
        ('identity', 'main', main_dims, main_affine, True),
        ('upsample-x2-edge-to-edge', 'main', (13, 11, 9), main_affine @ scaling([0.5, 0.5, 0.5]), True),
        ('rotation-30deg', 'main', main_dims, rot30 @ main_affine, True),
        (
            'shear',
            'main',
            main_dims,
            main_affine @ index_matrix([[1, 0.3, 0, -0.45], [0.2, 1, 0.15, 0.35], [0, 0.25, 1, 0.12]]),
            True,
        ),
        (
            'partially-out-of-field',
            'main',
            (8, 7, 6),
            main_affine @ translation([3.7, -2.1, 2.3]) @ scaling([0.8, 0.8, 0.8]),
            True,
        ),
        ('general-affine', 'main', (8, 7, 6), main_affine @ general, True),
        (
            'flat-source-rotated-off-plane',
            'flat',
            (6, 5, 2),
            flat_rot @ flat_affine @ translation([-0.3, -0.2, 0.4]) @ scaling([0.8, 0.8, 0.7]),
            False,
        ),
    ]

    self_check(main_dims, main_affine, main_data, cases)

    out_cases = []
    for name, src_name, tdims, taffine, with_zeros in cases:
        sdims, saffine, sdata = sources[src_name]
        pts = sample_points(saffine, taffine, tdims)
        border = grid_sample(sdata, sdims, pts, 'border')
        case = {
            'name': name,
            'source': src_name,
            'target': {'dims': list(tdims), 'affine': affine_list(taffine)},
            'border': r12(border),
        }
        if with_zeros:
            inside = inside_mask(pts, sdims)
            zeros = grid_sample(sdata, sdims, pts, 'zeros')
            case['inside'] = [int(b) for b in inside]
            case['zeros'] = r12(zeros)
        out_cases.append(case)

    return {
        'description': 'torch.nn.functional.grid_sample (float64, trilinear, align_corners=True) reference '
        + 'for volume/resample.ts; "zeros" is only meaningful where "inside" is 1',
        'generator': 'test/reference/resample_reference.py',
        'insideTolerance': INSIDE_TOLERANCE,
        'sources': {
            name: {'dims': list(d), 'affine': affine_list(a), 'data': r9(v)} for name, (d, a, v) in sources.items()
        },
        'cases': out_cases,
    }


def to_json(obj, indent=0):
    """JSON with nested objects indented and every array of numbers on one line (compact, diffable)."""
    pad = ' ' * indent
    if isinstance(obj, dict):
        items = [f'{pad}  {json.dumps(k)}: {to_json(v, indent + 2)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [f'{pad}  {to_json(v, indent + 2)}' for v in obj]
        return '[\n' + ',\n'.join(items) + '\n' + pad + ']'
    return json.dumps(obj, separators=(', ', ': '))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    args = parser.parse_args()
    fixture = build()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(to_json(fixture) + '\n')


if __name__ == '__main__':
    main()
