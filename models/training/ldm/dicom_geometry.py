"""Series -> affine for DICOM slices: the Python twin of extensions/geometry-ldm/src/geometry/
dicomGeometry.ts (sliceStack, stackReport, regularGeometry), same rules, same tolerances, same
error codes. The shared fixture extensions/geometry-ldm/src/geometry/__fixtures__/series-affine.json
(tests/make_series_affine_fixture.py) holds real and crafted series that both languages must
reproduce exactly, or both refuse with the same code.

Conventions (docs/conventions.md): index (i, j, k) = (column, row, slice); the affine maps index
to patient LPS mm; PixelSpacing is [row spacing, column spacing] (DICOM order); slices are sorted
along the normal N = X x Y of ImageOrientationPatient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

DEFAULT_TOLERANCES = {
    'spacingAbsMm': 0.02,
    'spacingRelative': 0.01,
    'tiltDeg': 0.1,
    'positionAbsMm': 0.05,
    'orientation': 1e-3,
    'consistency': 1e-4,
}


class GeometryError(ValueError):
    """A series that has no (regular) affine; `code` is the TypeScript GeometryError code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class SliceInput:
    """Geometry tags of one slice as numbers (None when absent); `id` names it in messages."""
    image_position: Optional[Sequence[float]]
    image_orientation: Optional[Sequence[float]]
    pixel_spacing: Optional[Sequence[float]]
    rows: Optional[int]
    columns: Optional[int]
    slice_thickness: Optional[float] = None
    id: str = ''

    @staticmethod
    def from_json(d: dict, n: int) -> 'SliceInput':
        return SliceInput(d.get('imagePositionPatient'), d.get('imageOrientationPatient'), d.get('pixelSpacing'),
                          d.get('rows'), d.get('columns'), d.get('sliceThickness'), d.get('id', f'#{n}'))


def _vector(value, length: int, tag: str, sid: str) -> np.ndarray:
    if value is None:
        raise GeometryError('missing-tag', f'{tag} is missing (slice {sid})')
    try:
        v = [float(x) for x in value]
    except (TypeError, ValueError):
        raise GeometryError('contradictory-tags', f'{tag} must be {length} finite numbers (slice {sid})')
    if len(v) != length or not all(math.isfinite(x) for x in v):
        raise GeometryError('contradictory-tags', f'{tag} must be {length} finite numbers (slice {sid})')
    return np.asarray(v, np.float64)


def _positive_int(value, tag: str, sid: str) -> int:
    if value is None:
        raise GeometryError('missing-tag', f'{tag} is missing (slice {sid})')
    if not (isinstance(value, (int, np.integer)) and int(value) > 0):
        raise GeometryError('contradictory-tags', f'{tag} must be a positive integer (slice {sid})')
    return int(value)


@dataclass
class SliceStack:
    order: List[int]
    positions: np.ndarray  # [n, 3], k order
    row_direction: np.ndarray
    column_direction: np.ndarray
    normal: np.ndarray
    in_plane_spacing: tuple  # (dx along i, dy along j)
    dims: tuple  # (nx, ny, nz)
    distances: np.ndarray
    gaps: np.ndarray
    slice_thickness: Optional[float]


def slice_stack(slices: Sequence[SliceInput], tol: dict) -> SliceStack:
    if not slices:
        raise GeometryError('missing-tag', 'no slices given')
    ids = [s.id or f'#{n}' for n, s in enumerate(slices)]
    first = slices[0]
    iop = _vector(first.image_orientation, 6, 'ImageOrientationPatient', ids[0])
    ps = _vector(first.pixel_spacing, 2, 'PixelSpacing', ids[0])
    rows = _positive_int(first.rows, 'Rows', ids[0])
    cols = _positive_int(first.columns, 'Columns', ids[0])
    x, y = iop[:3], iop[3:]
    if (abs(np.linalg.norm(x) - 1) > tol['orientation'] or abs(np.linalg.norm(y) - 1) > tol['orientation']
            or abs(float(x @ y)) > tol['orientation']):
        raise GeometryError('contradictory-tags',
                            f'ImageOrientationPatient is not two orthonormal directions (slice {ids[0]})')
    if not (ps[0] > 0 and ps[1] > 0):
        raise GeometryError('contradictory-tags', f'PixelSpacing must be positive (slice {ids[0]})')
    # re-orthonormalise: header values carry ~6 decimals
    xn = x / np.linalg.norm(x)
    y_raw = y - xn * float(y @ xn)
    yn = y_raw / np.linalg.norm(y_raw)
    normal = np.cross(xn, yn)
    positions = []
    for s, sid in zip(slices, ids):
        o = _vector(s.image_orientation, 6, 'ImageOrientationPatient', sid)
        if np.any(np.abs(o - iop) > tol['consistency']):
            raise GeometryError('mixed-orientation', f'slice {sid} has a different ImageOrientationPatient')
        p = _vector(s.pixel_spacing, 2, 'PixelSpacing', sid)
        if np.any(np.abs(p - ps) > tol['consistency'] * np.maximum(1.0, ps)):
            raise GeometryError('contradictory-tags', f'slice {sid} has a different PixelSpacing')
        if _positive_int(s.rows, 'Rows', sid) != rows or _positive_int(s.columns, 'Columns', sid) != cols:
            raise GeometryError('contradictory-tags', f'slice {sid} has a different Rows/Columns')
        positions.append(_vector(s.image_position, 3, 'ImagePositionPatient', sid))
    positions = np.asarray(positions)
    distances = positions @ normal
    order = sorted(range(len(slices)), key=lambda n: distances[n])  # stable, as Array.sort in JS
    positions, distances = positions[order], distances[order]
    gaps = np.diff(distances)
    min_gap = max(tol['spacingAbsMm'] * 0.01, 1e-4)
    for n, g in enumerate(gaps):
        if g < min_gap:
            raise GeometryError('duplicate-position', f'slices {ids[order[n]]} and {ids[order[n + 1]]} lie at the '
                                                      'same position along the normal')
    t = first.slice_thickness
    return SliceStack(order, positions, xn, yn, normal, (float(ps[1]), float(ps[0])), (cols, rows, len(slices)),
                      distances, gaps, float(t) if t is not None and t > 0 else None)


def stack_report(stack: SliceStack, tol: dict) -> dict:
    n = len(stack.positions)
    if n < 2:
        return {'meanGapMm': 0.0, 'nonUniform': False, 'tiltDeg': 0.0, 'inPlaneDriftMm': 0.0, 'tilted': False,
                'lineDeviationsMm': [0.0] * n, 'maxLineDeviationMm': 0.0, 'misalignedSlices': []}
    extent = stack.distances[-1] - stack.distances[0]
    mean_gap = extent / (n - 1)
    max_dev = float(np.max(np.abs(stack.gaps - mean_gap)))
    p0 = stack.positions[0]
    step = stack.positions[-1] - p0
    cos_angle = min(1.0, abs(float(step @ stack.normal)) / float(np.linalg.norm(step)))
    tilt = math.degrees(math.acos(cos_angle))

    def in_plane(v):
        return math.hypot(float(v @ stack.row_direction), float(v @ stack.column_direction))

    drift = in_plane(step)
    devs = [in_plane(p - p0 - step * ((stack.distances[k] - stack.distances[0]) / extent))
            for k, p in enumerate(stack.positions)]
    return {
        'meanGapMm': float(mean_gap),
        'nonUniform': max_dev > max(tol['spacingAbsMm'], tol['spacingRelative'] * mean_gap),
        'tiltDeg': tilt,
        'inPlaneDriftMm': drift,
        'tilted': tilt > tol['tiltDeg'] or drift > tol['positionAbsMm'],
        'lineDeviationsMm': devs,
        'maxLineDeviationMm': max(devs),
        'misalignedSlices': [k for k, d in enumerate(devs) if d > tol['positionAbsMm']],
    }


def regular_geometry(slices: Sequence[SliceInput], allow_tilt: bool = False, allow_single_slice: bool = False,
                     tolerances: Optional[dict] = None):
    """-> (dims (nx, ny, nz), 4x4 affine, stack, report), or GeometryError with the TS code."""
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    stack = slice_stack(slices, tol)
    report = stack_report(stack, tol)
    dx, dy = stack.in_plane_spacing
    ex, ey = stack.row_direction * dx, stack.column_direction * dy
    n = len(stack.positions)

    def sid(k):
        s = slices[stack.order[k]]
        return s.id or f'#{stack.order[k]}'

    if n == 1:
        if not allow_single_slice:
            raise GeometryError('single-slice', 'a single slice has no volume geometry (slice spacing is unknown)')
        if stack.slice_thickness is None:
            raise GeometryError('missing-tag', 'a single slice needs SliceThickness to define its extent')
        ez = stack.normal * stack.slice_thickness
    else:
        if report['misalignedSlices']:
            worst = int(np.argmax(report['lineDeviationsMm']))
            raise GeometryError('misaligned-slice', f'slice {sid(worst)} (k = {worst}) lies '
                                                    f'{report["maxLineDeviationMm"]:.3f} mm in-plane off the line '
                                                    f'through the first and last slice')
        if report['nonUniform']:
            raise GeometryError('non-uniform-spacing', f'slice gaps vary from {stack.gaps.min():.3f} to '
                                                       f'{stack.gaps.max():.3f} mm')
        if report['tilted'] and not allow_tilt:
            raise GeometryError('gantry-tilt', f'gantry tilt of {report["tiltDeg"]:.2f} degrees '
                                               f'({report["inPlaneDriftMm"]:.3f} mm in-plane drift)')
        step = stack.positions[-1] - stack.positions[0]
        ez = step / (n - 1) if report['tilted'] else stack.normal * report['meanGapMm']
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2], affine[:3, 3] = ex, ey, ez, stack.positions[0]
    return stack.dims, affine, stack, report
