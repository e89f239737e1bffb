"""Writes the shared series -> affine fixture (one specification, two readers).

    /usr/bin/python3 models/training/tests/make_series_affine_fixture.py [--check]

Output: extensions/geometry-ldm/src/geometry/__fixtures__/series-affine.json: the slice headers
(as numbers, in file order) of the real DICOM series in ../shared/data and of crafted edge cases
(gantry tilt, gaps, a shifted slice, non-square pixels, oblique, duplicates, mixed orientation,
missing tags, one slice), each with the affine the Python loader's rules give (ldm/dicom_geometry.py)
or the code it refuses with. geometry/seriesAffine.test.ts runs the TypeScript reader's rules
(geometry/dicomGeometry.ts) on the same headers and must get the same affine (1e-9 mm) or code;
test_series_affine_fixture.py checks that the Python code still reproduces the file.
"""
import glob
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ldm import dicom_geometry as DG  # noqa: E402
from ldm.data import DEFAULT_DATA_ROOT  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
FIXTURE = os.path.join(REPO, 'extensions', 'geometry-ldm', 'src', 'geometry', '__fixtures__', 'series-affine.json')
REAL = ['lidc-idri-0001', 'lung-pet-ct-dx-a0001', 'lung-pet-ct-dx-a0002', 'ge-head-gantry-tilt',
        'totalseg-abdomen/dicom']


def real_headers(rel):
    import pydicom
    out = []
    for f in sorted(glob.glob(os.path.join(DEFAULT_DATA_ROOT, rel, '*'))):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        image_type = [str(v).upper() for v in (ds.get('ImageType') or [])]
        if len(image_type) > 2 and image_type[2] == 'LOCALIZER':
            continue
        out.append({'id': os.path.basename(f),
                    'imagePositionPatient': [float(v) for v in ds.ImagePositionPatient],
                    'imageOrientationPatient': [float(v) for v in ds.ImageOrientationPatient],
                    'pixelSpacing': [float(v) for v in ds.PixelSpacing],
                    'rows': int(ds.Rows), 'columns': int(ds.Columns),
                    'sliceThickness': float(ds.SliceThickness) if ds.get('SliceThickness') not in (None, '') else None})
    return out


def stack(n, iop=(1, 0, 0, 0, 1, 0), ps=(0.7, 0.7), origin=(-100.0, -120.0, 50.0), step=(0.0, 0.0, 2.5),
          rows=64, cols=64, thickness=2.5):
    return [{'id': f'{k + 1}.dcm', 'imagePositionPatient': [origin[c] + k * step[c] for c in range(3)],
             'imageOrientationPatient': list(iop), 'pixelSpacing': list(ps), 'rows': rows, 'columns': cols,
             'sliceThickness': thickness} for k in range(n)]


def crafted():
    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    tilt_iop = (1, 0, 0, 0, c, -s)
    # a stack tilted 15 degrees: positions step along z only while the planes are rotated about x
    tilted = stack(10, iop=tilt_iop, step=(0.0, 0.0, 3.0))
    a, b = math.cos(math.radians(30)), math.sin(math.radians(30))
    oblique_iop = (a, b, 0, 0, 0, -1)  # a sagittal-ish oblique plane
    oblique_normal = np.cross(oblique_iop[:3], oblique_iop[3:])
    cases = [
        ('regular axial, reversed file order', list(reversed(stack(12))), {}),
        ('non-square pixels, rectangular grid', stack(8, ps=(0.5, 0.9), rows=40, cols=72), {}),
        ('oblique plane', stack(9, iop=oblique_iop, step=tuple(2.0 * oblique_normal)), {}),
        ('coronal', stack(6, iop=(1, 0, 0, 0, 0, -1), step=(0.0, 1.5, 0.0)), {}),
        ('gantry tilt 15 deg: refused', tilted, {}),
        ('gantry tilt 15 deg: allowTilt gives the sheared affine', tilted, {'allowTilt': True}),
        ('two slices missing (a 7.5 mm gap)', stack(12)[:5] + stack(12)[7:], {}),
        ('one slice shifted 0.3 mm in-plane', [dict(h, imagePositionPatient=[h['imagePositionPatient'][0] + 0.3,
                                                                            *h['imagePositionPatient'][1:]])
                                               if h['id'] == '5.dcm' else h for h in stack(10)], {}),
        ('duplicate position', stack(6) + [dict(stack(6)[2], id='dup.dcm')], {}),
        ('mixed orientation', stack(5) + [dict(stack(6)[5], imageOrientationPatient=[1, 0, 0, 0, 0.99, 0.14])], {}),
        ('ImagePositionPatient missing on one slice', stack(5) + [dict(stack(6)[5], imagePositionPatient=None)], {}),
        ('PixelSpacing differs on one slice', stack(5) + [dict(stack(6)[5], pixelSpacing=[0.7, 0.8])], {}),
        ('one slice', stack(1), {}),
        ('one slice, allowSingleSlice', stack(1), {'allowSingleSlice': True}),
        ('slightly irregular gaps within tolerance', [dict(h, imagePositionPatient=[
            *h['imagePositionPatient'][:2], h['imagePositionPatient'][2] + (0.01 if k % 2 else 0.0)])
            for k, h in enumerate(stack(10))], {}),
    ]
    return cases


def expected(headers, options):
    inputs = [DG.SliceInput.from_json(h, n) for n, h in enumerate(headers)]
    try:
        dims, affine, _stack, _report = DG.regular_geometry(inputs, allow_tilt=options.get('allowTilt', False),
                                                            allow_single_slice=options.get('allowSingleSlice', False))
    except DG.GeometryError as e:
        return {'error': e.code}
    return {'dims': list(dims), 'affine': [float(v) for v in affine.flatten()]}


def build():
    cases = []
    for rel in REAL:
        if not os.path.isdir(os.path.join(DEFAULT_DATA_ROOT, rel)):
            raise SystemExit(f'{rel}: the shared data is needed to write the fixture')
        headers = real_headers(rel)
        cases.append({'name': f'real: {rel}', 'options': {}, 'slices': headers, 'expected': expected(headers, {})})
    for name, headers, options in crafted():
        cases.append({'name': name, 'options': options, 'slices': headers, 'expected': expected(headers, options)})
    return {'note': 'written by models/training/tests/make_series_affine_fixture.py', 'cases': cases}


def main():
    fixture = build()
    if '--check' in sys.argv:
        with open(FIXTURE) as f:
            old = json.load(f)
        if json.dumps(old, sort_keys=True) != json.dumps(json.loads(json.dumps(fixture)), sort_keys=True):
            raise SystemExit('series-affine.json is out of date: rerun make_series_affine_fixture.py')
        print('series-affine.json is current')
        return
    with open(FIXTURE, 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')
    print(f'wrote {FIXTURE}: {len(fixture["cases"])} cases')
    for c in fixture['cases']:
        print(f'  {c["name"]}: {c["expected"].get("error") or c["expected"]["dims"]}')


if __name__ == '__main__':
    main()
