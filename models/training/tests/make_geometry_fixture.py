"""Writes the shared geometry fixture (Python side of the cross-language check).

    /usr/bin/python3 models/training/tests/make_geometry_fixture.py [--check]

Output: extensions/geometry-ldm/src/geometry/__fixtures__/coords-python.json.
crossLanguage.test.ts recomputes every case with the TS geometry module;
test_geometry_fixture.py checks that the current Python code reproduces it.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ldm import geometry as G  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
FIXTURE = os.path.join(REPO, 'extensions', 'geometry-ldm', 'src', 'geometry', '__fixtures__', 'coords-python.json')

# A chest CT-like scan: 0.7 mm in-plane, 2.5 mm slices, standard axial.
SCAN_AFFINE = G.dicom_affine([1, 0, 0, 0, 1, 0], [0.703125, 0.703125], [-180.0, -200.5, -320.25], [0, 0, 2.5])
SCAN_DIMS = [512, 512, 133]
# A gantry-tilted stack (sheared affine), IOP 1,0,0 / 0,0.948,-0.317.
_c, _s = np.cos(np.deg2rad(18.5)), np.sin(np.deg2rad(18.5))
TILT_AFFINE = G.dicom_affine([1, 0, 0, 0, _c, -_s], [0.488, 0.488], [-125.0, -90.0, 40.0], [0, 0, 5.0])
TILT_DIMS = [512, 512, 28]
ANATOMICAL = G.anatomical_group_space([500.0, 400.0, 900.0], [0.5, 0.5, 1.0], [0.0, 0.0, 150.0], 'upper leg to neck')


def specs():
    g_scan = G.scan_extent_group_space(SCAN_DIMS, SCAN_AFFINE)
    g_tilt = G.scan_extent_group_space(TILT_DIMS, TILT_AFFINE)
    shear = [0.05, 0.01, 0.002, 0.1, -0.003, 0.08, 0.004, -0.2, 0.02, 0.005, 0.035, 0.3, 0, 0, 0, 1]
    return [
        ('full-fov-scan-extent', {'dims': SCAN_DIMS, 'indexToPatient': G.to_list(SCAN_AFFINE)}, g_scan,
         {'kind': 'fov', 'dims': [16, 8, 24]}),
        ('partial-fov-upper-body', {'dims': SCAN_DIMS, 'indexToPatient': G.to_list(SCAN_AFFINE)}, g_scan,
         {'kind': 'fov', 'dims': [16, 16, 8], 'fov': [[0.1, 0.9], [0.0, 1.0], [0.5, 1.0]]}),
        ('fov-rotated', {'dims': SCAN_DIMS, 'indexToPatient': G.to_list(SCAN_AFFINE)}, g_scan,
         {'kind': 'fov', 'dims': [16, 8, 24], 'fov': [[0.2, 0.8], [0.1, 0.9], [0.0, 1.0]], 'rotationDeg': [10, -20, 33]}),
        ('quarter-turn', None, ANATOMICAL,
         {'kind': 'fov', 'dims': [8, 16, 16], 'rotationDeg': [0, 0, 90]}),
        ('spacing-anatomical', None, ANATOMICAL,
         {'kind': 'spacing', 'dims': [16, 8, 24], 'spacingMm': [3.0, 4.5, 2.5], 'fovCentre': [0.4, 0.55, 0.7], 'rotationDeg': [-5, 12, 0]}),
        ('affine-with-shear', None, ANATOMICAL,
         {'kind': 'affine', 'dims': [16, 8, 24], 'indexToGroup': shear}),
        ('tilted-scan-extent', {'dims': TILT_DIMS, 'indexToPatient': G.to_list(TILT_AFFINE)}, g_tilt,
         {'kind': 'fov', 'dims': [16, 16, 8], 'fov': [[0.0, 1.0], [0.25, 0.75], [0.0, 1.0]], 'rotationDeg': [18.5, 0, 0]}),
    ]


def f32list(a):
    return [float(repr_f32) for repr_f32 in (np.format_float_positional(x, unique=True, trim='-') for x in np.asarray(a, np.float32).ravel())]


def build():
    cases = []
    for name, scan, g, spec in specs():
        r = G.resolve_geometry(spec, g)
        latent_dims = G.pooled_dims(r.dims)
        cases.append({
            'name': name,
            'scan': scan,  # when present, the group space is scan-extent of this grid
            'groupSpace': g.to_json(),
            'spec': spec,
            'expected': {
                'dims': list(r.dims),
                'indexToGroup': G.to_list(r.index_to_group),
                'indexToPatient': G.to_list(r.index_to_patient),
                'spacingMm': [float(x) for x in r.spacing_mm],
                'centreGroup': [float(x) for x in r.centre_group],
                'latentDims': list(latent_dims),
                'latentAffine': G.to_list(G.latent_affine(r.index_to_group)),
                'channels': f32list(G.coordinate_channels(r.dims, r.index_to_group)),
                'latentConditioning': f32list(G.latent_conditioning(r.dims, r.index_to_group)),
            },
        })
    return {
        'description': 'Coordinate channels computed by models/training/ldm/geometry.py; '
                       'regenerate with /usr/bin/python3 models/training/tests/make_geometry_fixture.py',
        'layout': 'channels: float32 [3, nz, ny, nx] flattened C-order; affines: 16 row-major numbers',
        'cases': cases,
    }


def main():
    data = build()
    if '--check' in sys.argv:
        with open(FIXTURE) as f:
            old = json.load(f)
        ok = json.dumps(old, sort_keys=True) == json.dumps(json.loads(json.dumps(data)), sort_keys=True)
        print('fixture up to date' if ok else 'fixture differs')
        sys.exit(0 if ok else 1)
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
        f.write('\n')
    prettier = os.path.join(REPO, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):  # the repository's `prettier --check .` covers this file
        import subprocess
        subprocess.run([prettier, '--write', FIXTURE], check=False, cwd=REPO, stdout=subprocess.DEVNULL)
    print('wrote', FIXTURE, os.path.getsize(FIXTURE), 'bytes')


if __name__ == '__main__':
    main()
