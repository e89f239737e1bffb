"""Acquisition model of a series and the measurement-consistency projection (Python twin of
extensions/geometry-ldm/src/volume/acquisition.ts; docs/super-resolution.md states the rule).

Per index axis, separable. Everything is in FINE-voxel units along that axis: fine voxel j
is the interval [j - 1/2, j + 1/2] (its centre j); acquired sample s is centred at
c_s = first + s * spacing and records the fine image weighted by its slice profile:

  box       width w:  weight of voxel j = |[j-1/2, j+1/2] n [c-w/2, c+w/2]|
  gaussian  FWHM w:   weight of voxel j = Phi((j+1/2-c)/sigma) - Phi((j-1/2-c)/sigma), sigma = w/(2 sqrt(2 ln 2))
                      (zero beyond 4 sigma + 1 voxel)
  point:              linear interpolation at c from the voxel centres (c clamped to [0, n-1])

Each row of D is normalised to sum 1 (a profile cut by the grid's edge averages what is
inside). U (the up operator) is linear interpolation from the sample centres to the voxel
centres, constant beyond the first/last centre: U y equals trilinear upsampling of the
acquired series onto the fine grid. The projection x <- x + U (y - D x), repeated,
makes the fine image reproduce the acquired samples (classical iterative back-projection,
Irani and Peleg 1991, when it starts from x = U y).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

PROFILES = ('box', 'gaussian', 'point')
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
GAUSS_RADIUS_SIGMAS = 4.0
DEFAULT_ITERATIONS = 10


class AcquisitionError(ValueError):
    pass


@dataclass(frozen=True)
class AxisAcquisition:
    """One axis: `count` samples centred at first + s * spacing (fine voxels), profile and width
    (fine voxels; ignored for 'point')."""
    count: int
    first: float
    spacing: float
    profile: str
    width: float

    def centres(self) -> np.ndarray:
        return self.first + self.spacing * np.arange(self.count, dtype=np.float64)


def identity_axis(n: int) -> AxisAcquisition:
    """An axis the acquisition did not degrade: one sample per fine voxel, box of one voxel (D = U = I)."""
    return AxisAcquisition(n, 0.0, 1.0, 'box', 1.0)


def _check(n: int, ax: AxisAcquisition) -> None:
    if ax.profile not in PROFILES:
        raise AcquisitionError(f"unknown slice profile '{ax.profile}' (box | gaussian | point)")
    if ax.count < 1 or not (ax.spacing > 0) or not math.isfinite(ax.first):
        raise AcquisitionError(f'invalid sampling: {ax.count} samples, first {ax.first}, spacing {ax.spacing}')
    if ax.profile != 'point' and not (ax.width > 0 and math.isfinite(ax.width)):
        raise AcquisitionError(f'slice width must be positive, got {ax.width}')
    c = ax.centres()
    if c[0] < -0.5 - 1e-9 or c[-1] > n - 0.5 + 1e-9:
        raise AcquisitionError(f'sample centres {c[0]:.3f}..{c[-1]:.3f} lie outside the fine grid [-0.5, {n - 0.5}]')


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + torch.erf(torch.from_numpy(np.asarray(x, np.float64)) / math.sqrt(2.0)).numpy())


def down_matrix(n: int, ax: AxisAcquisition) -> np.ndarray:
    """D [count, n], float64, rows sum to 1."""
    _check(n, ax)
    D = np.zeros((ax.count, n), np.float64)
    j = np.arange(n, dtype=np.float64)
    for s, c in enumerate(ax.centres()):
        if ax.profile == 'point':
            p = min(max(c, 0.0), n - 1.0)
            lo = min(int(math.floor(p)), n - 1)
            a = p - lo
            D[s, lo] += 1.0 - a
            if a > 0:
                D[s, lo + 1] += a
            continue
        if ax.profile == 'box':
            w = np.minimum(j + 0.5, c + ax.width / 2) - np.maximum(j - 0.5, c - ax.width / 2)
            w = np.maximum(w, 0.0)
        else:
            sigma = ax.width / FWHM_PER_SIGMA
            near = np.abs(j - c) <= GAUSS_RADIUS_SIGMAS * sigma + 1.0
            w = np.zeros(n)
            w[near] = _phi((j[near] + 0.5 - c) / sigma) - _phi((j[near] - 0.5 - c) / sigma)
        total = w.sum()
        if not total > 0:
            raise AcquisitionError(f'sample {s} at {c:.3f} covers no fine voxel')
        D[s] = w / total
    return D


def up_matrix(n: int, ax: AxisAcquisition) -> np.ndarray:
    """U [n, count], float64: linear interpolation from the sample centres, clamped."""
    _check(n, ax)
    c = ax.centres()
    U = np.zeros((n, ax.count), np.float64)
    for t in range(n):
        if ax.count == 1 or t <= c[0]:
            U[t, 0] = 1.0
        elif t >= c[-1]:
            U[t, -1] = 1.0
        else:
            s = int(np.searchsorted(c, t, side='right')) - 1
            a = (t - c[s]) / (c[s + 1] - c[s])
            U[t, s], U[t, s + 1] = 1.0 - a, a
    return U


def _is_identity(n: int, ax: AxisAcquisition) -> bool:
    return ax.count == n and ax.first == 0.0 and ax.spacing == 1.0 and (
        ax.profile == 'point' or (ax.profile == 'box' and ax.width == 1.0))


class Acquisition:
    """A separable acquisition of a fine grid of shape `shape` (array order, e.g. [nz, ny, nx]);
    `axes` in the same order. Operates on torch tensors whose last three dims are `shape`."""

    def __init__(self, shape: Sequence[int], axes: Sequence[AxisAcquisition], dtype=torch.float32):
        if len(shape) != 3 or len(axes) != 3:
            raise AcquisitionError('an acquisition needs three axes')
        self.shape = tuple(int(n) for n in shape)
        self.axes = tuple(axes)
        self.D: list = []
        self.U: list = []
        for n, ax in zip(self.shape, self.axes):
            if _is_identity(n, ax):
                self.D.append(None)
                self.U.append(None)
            else:
                self.D.append(torch.from_numpy(down_matrix(n, ax)).to(dtype))
                self.U.append(torch.from_numpy(up_matrix(n, ax)).to(dtype))

    @property
    def acquired_shape(self):
        return tuple(ax.count for ax in self.axes)

    @staticmethod
    def _apply(x: torch.Tensor, mats) -> torch.Tensor:
        for a, M in enumerate(mats):
            if M is None:
                continue
            d = x.dim() - 3 + a
            x = torch.movedim(torch.tensordot(x, M.to(x.dtype), dims=([d], [1])), -1, d)
        return x

    def down(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(x, self.D)

    def up(self, y: torch.Tensor) -> torch.Tensor:
        return self._apply(y, self.U)

    def project(self, x: torch.Tensor, y: torch.Tensor, iterations: int = DEFAULT_ITERATIONS) -> torch.Tensor:
        for _ in range(iterations):
            x = x + self.up(y - self.down(x))
        return x

    def back_project(self, y: torch.Tensor, iterations: int = DEFAULT_ITERATIONS) -> torch.Tensor:
        """Classical iterative back-projection: start from U y (trilinear), project."""
        return self.project(self.up(y), y, iterations)


def block_axis(n: int, factor: float, profile: str = 'box', width: Optional[float] = None) -> AxisAcquisition:
    """The acquisition that tiles a fine axis of n voxels with samples every `factor` voxels whose
    boxes share the fine grid's edges (sample s centred at (factor - 1)/2 + s * factor). For an
    integer factor and a box of width factor this is block averaging; n * ... must be covered:
    count = round(n / factor) (the evaluation crops n so that n / factor is an integer)."""
    count = int(round(n / factor))
    if abs(count * factor - n) > 1e-6:
        raise AcquisitionError(f'{n} voxels are not a whole number of {factor}-voxel samples')
    return AxisAcquisition(count, (factor - 1.0) / 2.0, float(factor), profile,
                           float(factor if width is None else width))
