"""Autoencoder losses: L2 (or L1) + spectral (|FFT| magnitude) + commitment; optional hinge
patch-adversarial term, its weight optionally adaptive (Esser et al. 2021, VQGAN). No perceptual
loss: no pretrained 3D network is available here."""
import numpy as np
import torch
import torch.nn.functional as F


def bone_threshold(intensity, hu: float = 200.0) -> float:
    """The bone threshold in model units: `hu` (a config's bone_hu) through the data's intensity
    window (data.Intensity); the one rule both training stages' bone weighting uses."""
    return float(intensity.to_model(np.float32(hu)))


def bone_weights(target, threshold: float, weight: float):
    """Per-voxel loss weights 1 + weight where the target is at or above threshold (model
    units): bone is a few percent of a CT's voxels, so an unweighted L1/L2 lets an autoencoder
    spend its codes on the large air/lung/tissue edges and round bone off to soft tissue."""
    return 1.0 + weight * (target >= threshold).to(target.dtype)


def weighted_recon_loss(kind: str, x, y, w=None):
    """'l1' or 'l2' reconstruction loss, optionally weighted per voxel (mean of w * error)."""
    err = (x - y).abs() if kind == 'l1' else (x - y) ** 2
    return (err if w is None else w * err).mean()


def adaptive_weight(rec_loss, g_loss, last_weight, eps=1e-4, max_weight=1e4):
    """VQGAN's balance (Esser et al. 2021, eq. 7): ||grad rec|| / (||grad g|| + eps) at the
    decoder's last layer, so the adversarial term pulls as hard as the reconstruction term
    whatever their scales. A constant for the step (no gradient flows through it)."""
    g_rec = torch.autograd.grad(rec_loss, last_weight, retain_graph=True)[0]
    g_adv = torch.autograd.grad(g_loss, last_weight, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + eps)).clamp(0.0, max_weight).detach()


def spectral_loss(x, y):
    """Mean absolute difference of 3D FFT magnitudes (orthonormal, per sample/channel)."""
    fx = torch.fft.rfftn(x, dim=(-3, -2, -1), norm='ortho').abs()
    fy = torch.fft.rfftn(y, dim=(-3, -2, -1), norm='ortho').abs()
    return (fx - fy).abs().mean()


def hinge_d_loss(real_logits, fake_logits):
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def hinge_g_loss(fake_logits):
    return -fake_logits.mean()
