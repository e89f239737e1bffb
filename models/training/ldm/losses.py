"""Autoencoder losses: L2 + spectral (|FFT| magnitude) + commitment; optional hinge
patch-adversarial term. No perceptual loss: no pretrained 3D network is available here."""
import torch
import torch.nn.functional as F


def l2_loss(x, y):
    return F.mse_loss(x, y)


def spectral_loss(x, y):
    """Mean absolute difference of 3D FFT magnitudes (orthonormal, per sample/channel)."""
    fx = torch.fft.rfftn(x, dim=(-3, -2, -1), norm='ortho').abs()
    fy = torch.fft.rfftn(y, dim=(-3, -2, -1), norm='ortho').abs()
    return (fx - fy).abs().mean()


def hinge_d_loss(real_logits, fake_logits):
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def hinge_g_loss(fake_logits):
    return -fake_logits.mean()
