"""Geometry-conditioned latent diffusion (training, reference inference, export).

Python twin of extensions/geometry-ldm/src/geometry (see docs/conventions.md).
"""
