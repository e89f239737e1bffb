"""Real CT for training: loading (DICOM / NIfTI -> HU + LPS affine), intensity
mapping, and geometry augmentation (random FOV crops, grid sizes and rotations)
implemented as ONE affine per sample + trilinear grid_sample (align_corners=True,
in index space); the sample's coordinate channels come from that same affine
via the geometry twin (ldm.geometry), in the scan's 'scan-extent' group space.

Held out: lidc-idri-0001 is the evaluation scan and is refused for training.
"""
from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import dicom_geometry as DG
from . import geometry as G

# Held-out evaluation scans (docs/super-resolution.md, the sr-quality harness): never trained on.
# crlm-ct-1004: held out since 2026-12-04 (never trained on before), an abdomen check in sr-quality
# (name, path relative to the data root, kind): the evaluation scans of sr-quality and
# ldm.compare_autoencoders; HELD_OUT are their names, which every loader refuses for training.
HELD_OUT_SCANS = (
    ('lidc-idri-0001', 'lidc-idri-0001', 'dicom'),
    ('4d-lung-113-phase40', 'train/4d-lung-113-phase40.nii.gz', 'nifti'),
    ('head-neck-pet-ct-chus-052', 'train/head-neck-pet-ct-chus-052.nii.gz', 'nifti'),
    ('crlm-ct-1004', 'train/crlm-ct-1004.nii.gz', 'nifti'),
)
HELD_OUT = tuple(name for name, _, _ in HELD_OUT_SCANS)
DEFAULT_DATA_ROOT = os.environ.get('SHARED_DATA') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'shared', 'data'))


class DataError(ValueError):
    """Data that training refuses; `code` is the TypeScript reader's code for the same refusal."""

    def __init__(self, message: str, code: str = 'invalid-input'):
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------- intensity mapping

@dataclass
class Intensity:
    """model = clip((HU - lo) / (hi - lo), 0, 1): 0 = lo HU (air at -1000), 1 = hi HU."""
    lo: float = -1000.0
    hi: float = 1000.0

    def to_model(self, hu):
        return np.clip((np.asarray(hu, np.float32) - self.lo) / (self.hi - self.lo), 0.0, 1.0).astype(np.float32)

    def to_hu(self, m):
        return np.asarray(m, np.float32) * (self.hi - self.lo) + self.lo

    def to_json(self):
        # the fields of volume/intensity.ts IntensityParams
        return {'huMin': self.lo, 'huMax': self.hi, 'modelMin': 0.0, 'modelMax': 1.0, 'clip': True,
                'outsideValueModel': 0.0}


# ----------------------------------------------------------------- loading

MIN_SLICES = 4  # the TypeScript reader's minSlices: fewer is not a volume


def load_dicom_series(folder: str, allow_tilt: bool = False):
    """-> (hu [nz, ny, nx] float32, index->patient affine), by the same rules as the viewer's reader
    (dicom_geometry.py = geometry/dicomGeometry.ts, same tolerances and codes): every file must be
    DICOM (an unreadable one is named, never skipped), LOCALIZER images are left out, at least 4
    slices, RescaleSlope/Intercept present on every slice, a regular stack (non-uniform spacing,
    a misaligned slice or a gantry tilt raise DataError with the TS code; allow_tilt accepts a
    uniform tilt with its sheared affine)."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    files = [f for f in sorted(glob.glob(os.path.join(folder, '*'))) if os.path.isfile(f)]
    slices, inputs = [], []
    for f in files:
        try:
            ds = pydicom.dcmread(f)
        except (InvalidDicomError, OSError, ValueError) as e:
            raise DataError(f'{f}: not a readable DICOM file ({e})', 'invalid-input')
        if 'PixelData' not in ds:
            raise DataError(f'{f}: no pixel data (not an image)', 'not-image')
        image_type = [str(v).upper() for v in (ds.get('ImageType') or [])]
        if len(image_type) > 2 and image_type[2] == 'LOCALIZER':
            continue
        for tag in ('RescaleSlope', 'RescaleIntercept'):
            if tag not in ds or ds.get(tag) in (None, '') or not math.isfinite(float(ds.get(tag))):
                raise DataError(f'{f}: {tag} is missing or not a number', 'invalid-rescale')
        slices.append(ds)
        inputs.append(DG.SliceInput(
            [float(v) for v in ds.ImagePositionPatient] if 'ImagePositionPatient' in ds else None,
            [float(v) for v in ds.ImageOrientationPatient] if 'ImageOrientationPatient' in ds else None,
            [float(v) for v in ds.PixelSpacing] if 'PixelSpacing' in ds else None,
            int(ds.Rows) if 'Rows' in ds else None, int(ds.Columns) if 'Columns' in ds else None,
            float(ds.SliceThickness) if ds.get('SliceThickness') not in (None, '') else None,
            os.path.basename(f)))
    if len(slices) < MIN_SLICES:
        raise DataError(f'{folder}: only {len(slices)} image slices: a volume needs at least {MIN_SLICES}',
                        'too-few-slices')
    try:
        _dims, affine, stack, _report = DG.regular_geometry(inputs, allow_tilt=allow_tilt)
    except DG.GeometryError as e:
        raise DataError(f'{folder}: {e}', e.code) from e
    slices = [slices[o] for o in stack.order]
    vol = np.stack([s.pixel_array.astype(np.float32) * float(s.RescaleSlope) + float(s.RescaleIntercept)
                    for s in slices])
    return vol, affine


def load_nifti(path: str):
    """-> (hu [nz, ny, nx] float32, index->patient LPS affine). NIfTI's world is RAS:
    LPS = diag(-1, -1, 1) RAS; nibabel's array is indexed [i, j, k]."""
    import nibabel as nib
    img = nib.load(path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    if data.ndim != 3:
        raise DataError(f'{path}: expected a 3D image')
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(img.affine, np.float64)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), affine


# name, relative path, loader. The TotalSegmentator DICOM series is JPEG 2000, which
# Debian's pydicom cannot decode without extra plugins: its NIfTI (a different torso CT)
# is used instead (example_ct_sm.nii.gz is a crop of the same scan: not used). The
# gantry-tilted head series has non-uniform gaps (1.08-7 mm): skipped.
TRAINING_SCANS = [
    ('lung-pet-ct-dx-a0001', 'lung-pet-ct-dx-a0001', 'dicom'),
    ('lung-pet-ct-dx-a0002', 'lung-pet-ct-dx-a0002', 'dicom'),
    ('totalseg-example-ct', 'totalseg-abdomen/example_ct.nii.gz', 'nifti'),
]
EVAL_SCAN = HELD_OUT_SCANS[0]


def refuse_held_out(name: str, where: str = '') -> None:
    """DataError when a path or volume name names a held-out scan (the one rule for all loaders)."""
    if any(h in name for h in HELD_OUT):
        raise DataError(f'{name}{where} is held out of training')


def load_scan(root: str, rel: str, kind: str, allow_held_out: bool = False):
    """kind: 'dicom' (a series folder), 'nifti' or 'packed' (ldm.scan_pack's NAME.i16.xz)."""
    if not allow_held_out:
        refuse_held_out(rel)
    path = os.path.join(root, rel)
    if kind == 'packed':
        from .scan_pack import load_packed
        return load_packed(path)
    if kind not in ('dicom', 'nifti'):
        raise ValueError(f'{rel}: unknown scan kind {kind!r} (dicom | nifti | packed)')  # a config error
    return load_dicom_series(path) if kind == 'dicom' else load_nifti(path)


# ----------------------------------------------------------------- pyramid + scan

def pool_volume(vol: np.ndarray, affine: np.ndarray, factors: Sequence[int]):
    """Area-average by integer factors (fx, fy, fz) (remainder dropped); new voxel I
    covers old f*I .. f*I+f-1, centre f*I + (f-1)/2."""
    fx, fy, fz = (int(f) for f in factors)
    nz, ny, nx = vol.shape
    pz, py, px = nz // fz, ny // fy, nx // fx
    v = vol[: pz * fz, : py * fy, : px * fx].astype(np.float64)
    v = v.reshape(pz, fz, py, fy, px, fx).mean(axis=(1, 3, 5)).astype(np.float32)
    a = G.compose(affine, np.array([[fx, 0, 0, (fx - 1) / 2], [0, fy, 0, (fy - 1) / 2], [0, 0, fz, (fz - 1) / 2],
                                    [0, 0, 0, 1]], dtype=np.float64))
    return v, a


@dataclass
class Level:
    spacing_goal: float
    vol: torch.Tensor  # [1, 1, nz, ny, nx] model scale
    affine: np.ndarray  # index -> patient
    inv: np.ndarray


class Scan:
    """One training volume in model intensities, with an area-averaged pyramid
    (level goals 1.5, 3, 6, 12 mm) so that coarse samples are not aliased."""

    def __init__(self, name: str, vol_model: np.ndarray, affine: np.ndarray, goals=(1.5, 3.0, 6.0, 12.0)):
        self.name = name
        self.dims = (vol_model.shape[2], vol_model.shape[1], vol_model.shape[0])
        self.affine = G.as_affine(affine)
        self.group = G.scan_extent_group_space(self.dims, self.affine)
        spacing = G.axis_lengths(self.affine)
        self.levels: List[Level] = []
        for goal in goals:
            f = [max(1, int(math.floor(goal / s + 1e-6))) for s in spacing]
            v, a = pool_volume(vol_model, self.affine, f) if max(f) > 1 else (vol_model, self.affine)
            self.levels.append(Level(goal, torch.from_numpy(np.ascontiguousarray(v))[None, None], a, G.invert(a)))

    def level_for(self, spacing_mm: float) -> Level:
        best = self.levels[0]
        for lv in self.levels:
            if lv.spacing_goal <= spacing_mm:
                best = lv
        return best


def sample_volume(level_vol: torch.Tensor, level_inv: np.ndarray, dims, index_to_patient: np.ndarray,
                  fill: float = 0.0) -> torch.Tensor:
    """Trilinear resampling of a source volume [1,1,nz,ny,nx] on the target grid `dims`
    whose index -> patient affine is given: ONE affine (target index -> source index),
    grid_sample with align_corners=True; outside the source -> `fill`. Returns [nz', ny', nx']."""
    m = G.compose(level_inv, index_to_patient)  # target index -> source index
    nx, ny, nz = (int(n) for n in dims)
    sz, sy, sx = level_vol.shape[2:]
    # normalised grid: g = 2 * idx / (n - 1) - 1 per source axis (x <-> W/i, y <-> H/j, z <-> D/k)
    norm = np.diag([2.0 / max(sx - 1, 1), 2.0 / max(sy - 1, 1), 2.0 / max(sz - 1, 1), 1.0])
    norm[:3, 3] = -1.0
    a = torch.from_numpy(G.compose(norm, m)[:3]).double()  # [3, 4]
    k, j, i = torch.meshgrid(torch.arange(nz, dtype=torch.float64), torch.arange(ny, dtype=torch.float64),
                             torch.arange(nx, dtype=torch.float64), indexing='ij')
    pts = torch.stack([i, j, k, torch.ones_like(i)], -1)  # [nz, ny, nx, 4]
    grid = (pts @ a.t()).float()[None]  # [1, nz, ny, nx, 3] (x, y, z)
    src = level_vol - fill if fill != 0.0 else level_vol
    out = F.grid_sample(src, grid, mode='bilinear', padding_mode='zeros', align_corners=True)[0, 0]
    return out + fill if fill != 0.0 else out


# ----------------------------------------------------------------- augmentation

@dataclass
class AugmentConfig:
    grid_min: int = 32
    grid_max: int = 64
    grid_multiple: int = 8
    fov_min: float = 0.45  # fraction of the scan extent per axis (group units)
    fov_max: float = 1.0
    rotation_prob: float = 0.5
    rotation_max_deg: Sequence[float] = (10.0, 10.0, 20.0)  # about x, y, z
    max_spacing_mm: float = 12.0

    @staticmethod
    def from_json(d: dict) -> 'AugmentConfig':
        return AugmentConfig(**d)


def random_geometry(scan: Scan, dims, rng: np.random.Generator, cfg: AugmentConfig) -> dict:
    fov = []
    for a in range(3):
        frac = rng.uniform(cfg.fov_min, cfg.fov_max)
        # keep spacing sane: at most max_spacing_mm
        frac = min(frac, cfg.max_spacing_mm * (dims[a] - 1) / scan.group.extent_mm[a])
        lo = rng.uniform(0.0, 1.0 - frac) if frac < 1 else 0.0
        fov.append([float(lo), float(lo + frac)])
    spec = {'kind': 'fov', 'dims': [int(n) for n in dims], 'fov': fov}
    if rng.uniform() < cfg.rotation_prob:
        spec['rotationDeg'] = [float(rng.uniform(-m, m)) for m in cfg.rotation_max_deg]
    return spec


def random_dims(rng: np.random.Generator, cfg: AugmentConfig):
    choices = np.arange(cfg.grid_min, cfg.grid_max + 1, cfg.grid_multiple)
    return tuple(int(rng.choice(choices)) for _ in range(3))


def make_sample(scan: Scan, spec: dict) -> dict:
    """Image (model scale) and coordinate channels of `scan` on the geometry `spec`
    (a ldm.geometry resolve_geometry spec in the scan's scan-extent group space)."""
    r = G.resolve_geometry(spec, scan.group)
    level = scan.level_for(float(min(r.spacing_mm)))
    image = sample_volume(level.vol, level.inv, r.dims, r.index_to_patient, fill=0.0)
    coords = torch.from_numpy(G.coordinate_channels(r.dims, r.index_to_group))
    return {'image': image[None], 'coords': coords, 'spec': spec, 'resolved': r, 'scan': scan.name}


class Sampler:
    def __init__(self, scans: List[Scan], cfg: AugmentConfig, seed: int = 0):
        self.scans, self.cfg = scans, cfg
        self.rng = np.random.default_rng(seed)

    def batch(self, batch_size: int, dims=None):
        dims = dims or random_dims(self.rng, self.cfg)
        items = []
        for _ in range(batch_size):
            scan = self.scans[int(self.rng.integers(len(self.scans)))]
            items.append(make_sample(scan, random_geometry(scan, dims, self.rng, self.cfg)))
        return (torch.stack([it['image'] for it in items]), torch.stack([it['coords'] for it in items]), items)

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, s):
        self.rng.bit_generator.state = s


def slab(hu: np.ndarray, affine: np.ndarray, start: int, stop: Optional[int]):
    """Slices [start, stop) of a volume indexed [k, j, i] (stop None: to the end), with the
    index -> patient affine of the slab (its index (0, 0, 0) is the source's (0, 0, start)).
    A training scan's "slices" entry: e.g. the chest of a head-to-thigh scan, so that its
    scan-extent group space is a chest's like the other chest scans'."""
    n = hu.shape[0]
    stop = n if stop is None else int(stop)
    start = int(start)
    if not 0 <= start < stop <= n:
        raise DataError(f'slices [{start}, {stop}) outside the volume\'s {n} slices')
    out = G.as_affine(affine).copy()
    out[:3, 3] = out[:3, :3] @ np.array([0.0, 0.0, float(start)]) + out[:3, 3]
    return np.ascontiguousarray(hu[start:stop]), out


def load_training_scans(root: Optional[str] = None, intensity: Optional[Intensity] = None, log=print,
                        scan_list: Optional[list] = None) -> List[Scan]:
    """scan_list: [{"name", "path" (relative to root, or absolute), "kind": "dicom" | "nifti" | "packed",
    optional "slices": [start, stop or null] (a slab of the stored slice axis)}];
    default TRAINING_SCANS (the shared demo data minus the held-out scan)."""
    root = root or DEFAULT_DATA_ROOT
    intensity = intensity or Intensity()
    entries = ([(e['name'], e['path'], e['kind'], e.get('slices')) for e in scan_list] if scan_list
               else [(*e, None) for e in TRAINING_SCANS])
    scans = []
    for name, rel, kind, slices in entries:
        try:
            hu, aff = load_scan(root, rel, kind)
        except (DataError, FileNotFoundError, OSError) as e:
            log(f'skipping {name}: {e}')
            continue
        if slices is not None:  # a config error: refused, not skipped
            hu, aff = slab(hu, aff, slices[0], slices[1])
        scans.append(Scan(name, intensity.to_model(hu), aff))
        log(f'loaded {name}: grid {scans[-1].dims}, spacing {np.round(G.axis_lengths(aff), 3).tolist()} mm, '
            f'extent {np.round(scans[-1].group.extent_mm, 1).tolist()} mm')
    if not scans:
        raise DataError(f'no training scans found under {root}')
    return scans


def load_eval_scan(root: Optional[str] = None, intensity: Optional[Intensity] = None,
                   scan: Optional[Sequence[str]] = None) -> Scan:
    """scan: (name, path relative to root or absolute, 'dicom' | 'nifti'); default EVAL_SCAN
    (lidc-idri-0001 of the shared data)."""
    root = root or DEFAULT_DATA_ROOT
    intensity = intensity or Intensity()
    name, rel, kind = scan or EVAL_SCAN
    hu, aff = load_scan(root, rel, kind, allow_held_out=True)
    return Scan(name, intensity.to_model(hu), aff)
