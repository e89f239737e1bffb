"""Writes the shared acquisition fixture (Python side of the cross-language check).

    /usr/bin/python3 models/training/tests/make_acquisition_fixture.py [--check]

Output: extensions/geometry-ldm/src/volume/__fixtures__/acquisition.json.
volume/acquisition.test.ts recomputes every case with the TS module; test_acquisition.py
checks that the current Python code reproduces the file (--check does the same from here).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ldm.acquisition import Acquisition, AxisAcquisition, down_matrix, up_matrix  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
FIXTURE = os.path.join(REPO, 'extensions', 'geometry-ldm', 'src', 'volume', '__fixtures__', 'acquisition.json')

AXIS_CASES = [
    ('block average 4', 12, AxisAcquisition(3, 1.5, 4.0, 'box', 4.0)),
    ('box, 2.5 voxels', 10, AxisAcquisition(4, 0.75, 2.5, 'box', 2.5)),
    ('thin box with gaps', 13, AxisAcquisition(4, 0.2, 3.7, 'box', 1.3)),
    ('Gaussian 5 mm from 3 mm', 15, AxisAcquisition(9, 1 / 3, 5 / 3, 'gaussian', 5 / 3)),
    ('Gaussian overlapping', 20, AxisAcquisition(10, 0.5, 2.0, 'gaussian', 3.0)),
    ('Gaussian wide, cut by the edges', 9, AxisAcquisition(2, 1.0, 6.0, 'gaussian', 8.0)),
    ('point', 11, AxisAcquisition(5, 0.3, 2.2, 'point', 0.0)),
    ('edge phase', 8, AxisAcquisition(3, -0.5, 3.5, 'box', 3.5)),
    ('single sample', 6, AxisAcquisition(1, 2.5, 6.0, 'box', 6.0)),
]

# fine grid [nx, ny, nz] = [9, 8, 12]; axes in (i, j, k) order
VOLUME_DIMS = [9, 8, 12]
VOLUME_AXES = [
    AxisAcquisition(6, 0.25, 1.5, 'box', 1.5),
    AxisAcquisition(8, 0.0, 1.0, 'box', 1.0),  # identity
    AxisAcquisition(4, 0.4, 3.0, 'gaussian', 3.6),
]


def axis_json(ax: AxisAcquisition) -> dict:
    return {'count': ax.count, 'first': ax.first, 'spacing': ax.spacing, 'profile': ax.profile, 'width': ax.width}


def build() -> dict:
    cases = []
    for name, n, ax in AXIS_CASES:
        cases.append({'name': name, 'n': n, 'axis': axis_json(ax), 'down': down_matrix(n, ax).tolist(),
                      'up': up_matrix(n, ax).tolist()})
    rng = np.random.default_rng(7)
    nx, ny, nz = VOLUME_DIMS
    # smooth-ish CT-like values: air, soft tissue and a bright block
    x = -1000 + 1100 * (rng.random((nz, ny, nx)) > 0.4) + 50 * rng.standard_normal((nz, ny, nx))
    x[4:8, 2:5, 3:6] = 1200
    x = x.astype(np.float32)
    acq = Acquisition((nz, ny, nx), VOLUME_AXES[::-1], dtype=torch.float64)
    xt = torch.from_numpy(x).double()
    y = acq.down(xt)
    bp = acq.back_project(y, 10)
    start = torch.full_like(xt, -200.0)
    proj3 = acq.project(start, y, 3)
    return {
        'note': 'written by models/training/tests/make_acquisition_fixture.py; do not edit',
        'axisCases': cases,
        'volume': {
            'dims': VOLUME_DIMS,
            'axes': [axis_json(a) for a in VOLUME_AXES],
            'x': x.ravel().tolist(),
            'acquired': y.numpy().ravel().tolist(),
            'backProjection10': bp.numpy().ravel().tolist(),
            'projectFromMinus200Iter3': proj3.numpy().ravel().tolist(),
        },
    }


def _round(v):
    if isinstance(v, float):
        return float(f'{v:.9g}')
    if isinstance(v, list):
        return [_round(e) for e in v]
    if isinstance(v, dict):
        return {k: _round(e) for k, e in v.items()}
    return v


def main():
    data = _round(build())
    if '--check' in sys.argv:
        with open(FIXTURE) as f:
            old = json.load(f)
        if old != data:
            sys.exit('acquisition fixture differs from the current Python code: rerun without --check')
        print('fixture matches')
        return
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, 'w') as f:
        json.dump(data, f)
        f.write('\n')
    print('wrote', FIXTURE)


if __name__ == '__main__':
    main()
