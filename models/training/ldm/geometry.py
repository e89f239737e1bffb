"""Python twin of extensions/geometry-ldm/src/geometry/*.ts (docs/conventions.md).

Everything here must give the same numbers as the TypeScript code; the shared
fixture test (tests/make_geometry_fixture.py, crossLanguage.test.ts) checks it.

- Affines: 4x4 numpy float64 arrays, last row 0 0 0 1 (TS: 16 numbers, row-major).
- Index (i, j, k) = (column, row, slice) at voxel centres; dims = (nx, ny, nz).
- Tensors: [C, nz, ny, nx] (ONNX [B, C, D, H, W]).
- Patient space: DICOM LPS mm. Group space: (u, v, w) along (+x, +y, +z),
  group = (patient - origin_mm) / extent_mm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

LATENT_FACTOR = 8

Vec3 = Tuple[float, float, float]


class GeometryError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------- affines (affine.ts)

def identity() -> np.ndarray:
    return np.eye(4, dtype=np.float64)


def as_affine(a) -> np.ndarray:
    """4x4 float64 from a 4x4 array or 16 row-major numbers."""
    m = np.asarray(a, dtype=np.float64)
    if m.shape == (16,):
        m = m.reshape(4, 4)
    if m.shape != (4, 4):
        raise GeometryError('invalid-spec', 'affine must be 4x4')
    return m.copy()


def to_list(a: np.ndarray) -> list:
    """16 row-major numbers (the TS representation)."""
    return [float(x) for x in np.asarray(a, dtype=np.float64).reshape(16)]


def from_columns(ex, ey, ez, origin) -> np.ndarray:
    m = identity()
    m[:3, 0] = ex
    m[:3, 1] = ey
    m[:3, 2] = ez
    m[:3, 3] = origin
    return m


def translation(t) -> np.ndarray:
    return from_columns([1, 0, 0], [0, 1, 0], [0, 0, 1], t)


def scaling(s) -> np.ndarray:
    return from_columns([s[0], 0, 0], [0, s[1], 0], [0, 0, s[2]], [0, 0, 0])


def _snap_quarter(r: float, v: float) -> float:
    q = r / (math.pi / 2)
    if abs(q - round(q)) < 1e-12:
        return float(round(v))
    return v


def _cos(r: float) -> float:
    return _snap_quarter(r, math.cos(r))


def _sin(r: float) -> float:
    return _snap_quarter(r, math.sin(r))


def rotation_euler_deg(rx_deg: float, ry_deg: float, rz_deg: float) -> np.ndarray:
    """R = Rz(rz) * Ry(ry) * Rx(rx), degrees, extrinsic, right-handed (as TS)."""
    ax, ay, az = (d * math.pi / 180 for d in (rx_deg, ry_deg, rz_deg))
    rx = np.array([[1, 0, 0, 0], [0, _cos(ax), -_sin(ax), 0], [0, _sin(ax), _cos(ax), 0], [0, 0, 0, 1]], dtype=np.float64)
    ry = np.array([[_cos(ay), 0, _sin(ay), 0], [0, 1, 0, 0], [-_sin(ay), 0, _cos(ay), 0], [0, 0, 0, 1]], dtype=np.float64)
    rz = np.array([[_cos(az), -_sin(az), 0, 0], [_sin(az), _cos(az), 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
    return compose(rz, ry, rx)


def compose(*ms) -> np.ndarray:
    """compose(a, b, c) = a @ b @ c (c applied first)."""
    if not ms:
        return identity()
    acc = as_affine(ms[-1])
    for m in reversed(ms[:-1]):
        acc = as_affine(m) @ acc
        acc[3] = [0, 0, 0, 1]
    return acc


def invert(a) -> np.ndarray:
    a = as_affine(a)
    lin = a[:3, :3]
    det = np.linalg.det(lin)
    sc = np.abs(lin).max()
    if not np.isfinite(det) or sc == 0 or abs(det) <= 1e-12 * sc ** 3:
        raise GeometryError('singular-affine', 'affine is singular')
    out = identity()
    inv = np.linalg.inv(lin)
    out[:3, :3] = inv
    out[:3, 3] = -inv @ a[:3, 3]
    return out


def apply_point(a, p) -> np.ndarray:
    a = as_affine(a)
    return a[:3, :3] @ np.asarray(p, dtype=np.float64) + a[:3, 3]


def axis_lengths(a) -> np.ndarray:
    a = as_affine(a)
    return np.linalg.norm(a[:3, :3], axis=0)


# ----------------------------------------------------------------- group space (groupSpace.ts)

@dataclass
class GroupSpace:
    kind: str  # 'scan-extent' | 'anatomical'
    origin_mm: np.ndarray
    extent_mm: np.ndarray
    label: Optional[str] = None

    def to_json(self) -> dict:
        d = {'kind': self.kind, 'originMm': [float(x) for x in self.origin_mm], 'extentMm': [float(x) for x in self.extent_mm]}
        if self.label is not None:
            d['label'] = self.label
        return d

    @staticmethod
    def from_json(d: dict) -> 'GroupSpace':
        return GroupSpace(d['kind'], np.asarray(d['originMm'], np.float64), np.asarray(d['extentMm'], np.float64), d.get('label'))


def _check_extent(e) -> None:
    if not all(np.isfinite(x) and x > 0 for x in e):
        raise GeometryError('invalid-spec', 'group space extent must be positive mm')


def patient_to_group(g: GroupSpace) -> np.ndarray:
    _check_extent(g.extent_mm)
    return compose(scaling([1 / g.extent_mm[0], 1 / g.extent_mm[1], 1 / g.extent_mm[2]]), translation(-np.asarray(g.origin_mm)))


def group_to_patient(g: GroupSpace) -> np.ndarray:
    _check_extent(g.extent_mm)
    e = g.extent_mm
    return from_columns([e[0], 0, 0], [0, e[1], 0], [0, 0, e[2]], g.origin_mm)


def centre_bounding_box(dims, index_to_patient) -> Tuple[np.ndarray, np.ndarray]:
    mn = np.full(3, np.inf)
    mx = np.full(3, -np.inf)
    for i in (0, dims[0] - 1):
        for j in (0, dims[1] - 1):
            for k in (0, dims[2] - 1):
                p = apply_point(index_to_patient, [i, j, k])
                mn = np.minimum(mn, p)
                mx = np.maximum(mx, p)
    return mn, mx


def scan_extent_group_space(dims, index_to_patient, fallback_extent_mm: float = 1.0) -> GroupSpace:
    mn, mx = centre_bounding_box(dims, index_to_patient)
    extent = mx - mn
    origin = mn.copy()
    for a in range(3):
        if extent[a] < 1e-9:
            extent[a] = fallback_extent_mm
            origin[a] = mn[a] - fallback_extent_mm / 2
    return GroupSpace('scan-extent', origin, extent)


def anatomical_group_space(reference_extent_mm, anchor_group, anchor_patient_mm, label=None) -> GroupSpace:
    _check_extent(reference_extent_mm)
    ref = np.asarray(reference_extent_mm, np.float64)
    origin = np.asarray(anchor_patient_mm, np.float64) - np.asarray(anchor_group, np.float64) * ref
    return GroupSpace('anatomical', origin, ref, label)


def index_to_group(index_to_patient, g: GroupSpace) -> np.ndarray:
    return compose(patient_to_group(g), index_to_patient)


def index_to_patient_from_group(index_to_group_affine, g: GroupSpace) -> np.ndarray:
    return compose(group_to_patient(g), index_to_group_affine)


# ----------------------------------------------------------------- generation geometry (generationGeometry.ts)

@dataclass
class ResolvedGeometry:
    dims: Tuple[int, int, int]
    index_to_group: np.ndarray
    index_to_patient: np.ndarray
    spacing_mm: np.ndarray
    centre_group: np.ndarray


def _check_dims(dims) -> None:
    if len(dims) != 3 or not all(int(n) == n and n > 0 for n in dims):
        raise GeometryError('invalid-spec', 'grid size must be three positive integers')


def _centred_grid(dims, spacing_mm, centre_mm, rotation_deg) -> np.ndarray:
    return compose(
        translation(centre_mm),
        rotation_euler_deg(*rotation_deg),
        scaling(spacing_mm),
        translation([-(dims[0] - 1) / 2, -(dims[1] - 1) / 2, -(dims[2] - 1) / 2]),
    )


def resolve_geometry(spec: dict, g: GroupSpace) -> ResolvedGeometry:
    """spec: {'kind': 'fov', 'dims', 'fov'?, 'rotationDeg'?} | {'kind': 'spacing', 'dims',
    'spacingMm', 'fovCentre'?, 'rotationDeg'?} | {'kind': 'affine', 'dims', 'indexToGroup'}
    (the TS GenerationGeometrySpec, same key names)."""
    dims = tuple(int(n) for n in spec['dims'])
    _check_dims(dims)
    kind = spec['kind']
    if kind == 'affine':
        a = as_affine(spec['indexToGroup'])
        if not np.all(np.isfinite(a)) or not np.allclose(a[3], [0, 0, 0, 1]):
            raise GeometryError(
                'invalid-spec', 'indexToGroup must be a 4x4 affine of finite numbers with last row 0 0 0 1')
        invert(a)  # a singular linear part has no grid: raises 'singular-affine' (as generationGeometry.ts)
        i2p = index_to_patient_from_group(a, g)
    elif kind == 'fov':
        fov = spec.get('fov') or [[0, 1], [0, 1], [0, 1]]
        for r in fov:
            if len(r) != 2 or not all(np.isfinite(r)) or r[1] < r[0]:
                raise GeometryError('invalid-spec', 'FOV must be three [lo, hi] ranges with lo <= hi')
        spacing = []
        for a in range(3):
            lo, hi = fov[a]
            if dims[a] == 1:
                spacing.append(max(hi - lo, 1e-6) * g.extent_mm[a])
                continue
            if hi == lo:
                raise GeometryError('invalid-spec', 'FOV range is empty')
            spacing.append((hi - lo) / (dims[a] - 1) * g.extent_mm[a])
        centre_group = [(fov[a][0] + fov[a][1]) / 2 for a in range(3)]
        i2p = _centred_grid(dims, spacing, apply_point(group_to_patient(g), centre_group), spec.get('rotationDeg') or [0, 0, 0])
    elif kind == 'spacing':
        sp = spec['spacingMm']
        if not all(s > 0 for s in sp):
            raise GeometryError('invalid-spec', 'spacing must be positive mm')
        centre_group = spec.get('fovCentre') or [0.5, 0.5, 0.5]
        i2p = _centred_grid(dims, sp, apply_point(group_to_patient(g), centre_group), spec.get('rotationDeg') or [0, 0, 0])
    else:
        raise GeometryError('invalid-spec', f'unknown geometry kind {kind}')
    i2g = compose(patient_to_group(g), i2p)
    spacing_mm = np.array([math.hypot(i2p[0, c], i2p[1, c], i2p[2, c]) for c in range(3)])
    centre = apply_point(i2g, [(dims[0] - 1) / 2, (dims[1] - 1) / 2, (dims[2] - 1) / 2])
    return ResolvedGeometry(dims, i2g, i2p, spacing_mm, centre)


def fov_of(dims, i2g) -> np.ndarray:
    """[[lo, hi]] x 3 covered by the voxel centres (group units)."""
    mn, mx = centre_bounding_box(dims, i2g)
    return np.stack([mn, mx], axis=1)


# ----------------------------------------------------------------- coordinate channels (coordinateChannels.ts)

def coordinate_channels(dims, a) -> np.ndarray:
    """float32 [3, nz, ny, nx]: channels[c] = (A (i, j, k, 1))[c], float64 maths."""
    a = as_affine(a)
    nx, ny, nz = (int(n) for n in dims)
    i = np.arange(nx, dtype=np.float64)[None, None, :]
    j = np.arange(ny, dtype=np.float64)[None, :, None]
    k = np.arange(nz, dtype=np.float64)[:, None, None]
    out = np.empty((3, nz, ny, nx), dtype=np.float32)
    for c in range(3):
        # same association as the TS loop: r0*i + ((r1*j + r2*k) + r3)
        base = (a[c, 1] * j + a[c, 2] * k) + a[c, 3]
        out[c] = a[c, 0] * i + base
    return out


def pooled_dims(dims, factor: int = LATENT_FACTOR) -> Tuple[int, int, int]:
    return tuple(int(n) // factor for n in dims)


def avg_pool(channels: np.ndarray, factor: int = LATENT_FACTOR) -> np.ndarray:
    """AvgPool3d(f, f) on [C, nz, ny, nx] (floor), sums in float64, float32 result."""
    c, nz, ny, nx = channels.shape
    pz, py, px = nz // factor, ny // factor, nx // factor
    x = channels[:, : pz * factor, : py * factor, : px * factor].astype(np.float64)
    x = x.reshape(c, pz, factor, py, factor, px, factor).mean(axis=(2, 4, 6))
    return x.astype(np.float32)


def latent_affine(i2g, factor: int = LATENT_FACTOR) -> np.ndarray:
    h = (factor - 1) / 2
    return compose(i2g, np.array([[factor, 0, 0, h], [0, factor, 0, h], [0, 0, factor, h], [0, 0, 0, 1]], dtype=np.float64))


def latent_conditioning(dims, i2g, factor: int = LATENT_FACTOR) -> np.ndarray:
    return coordinate_channels(pooled_dims(dims, factor), latent_affine(i2g, factor))


# ----------------------------------------------------------------- DICOM-style affine

def dicom_affine(iop: Sequence[float], pixel_spacing: Sequence[float], first_ipp: Sequence[float], step) -> np.ndarray:
    """affine = [X*dc, Y*dr, step, IPP_0] (columns); PixelSpacing = [dr, dc]."""
    x = np.asarray(iop[:3], np.float64)
    y = np.asarray(iop[3:], np.float64)
    dr, dc = float(pixel_spacing[0]), float(pixel_spacing[1])
    return from_columns(x * dc, y * dr, np.asarray(step, np.float64), np.asarray(first_ipp, np.float64))
