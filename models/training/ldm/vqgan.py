"""VQ-VAE / VQ-GAN autoencoder (docs/method.md section 2).

Encoder: 3 x [Conv3d(k4, s2, p1) + ReLU], 3 residual blocks
(conv k3 -> ReLU -> conv k1 -> ReLU, plus skip), 1x1 conv to n_z = 8 channels,
then vector quantisation (codebook 512 x 8, EMA updates, commitment 0.25).
Input: 1 image channel + 3 coordinate channels. Latent factor 8 (the paper's); in general
2 ** len(widths), one stride-2 convolution per width (VQAutoencoder.factor).

Decoder: 1 conv to the widest width, 3 residual blocks, 3 x [transposed
Conv3d(k4, s2, p1) + ReLU], conv k3 to 1 channel. The transposed convolutions
are parametrised exactly like nn.ConvTranspose3d (weight [Cin, Cout, 4, 4, 4])
but computed as Conv3d(k3, p1, 8*Cout) + voxel shuffle, which is the same
function (tests/test_voxel_shuffle.py) and is what onnxruntime-web's WebGPU EP
can run (it has no 3D ConvTranspose).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# Per axis: output parity p (0 even, 1 odd) and conv tap t (0..2, input offset t-1)
# -> ConvTranspose kernel index (4 = a zero tap). Even: (w3, w1, 0); odd: (0, w2, w0).
_TAP = [[3, 1, 4], [4, 2, 0]]


def _tap_index():
    iz = torch.empty(8, 3, 3, 3, dtype=torch.long)
    iy = torch.empty_like(iz)
    ix = torch.empty_like(iz)
    for p in range(8):
        pz, py, px = (p >> 2) & 1, (p >> 1) & 1, p & 1
        for a in range(3):
            for b in range(3):
                for c in range(3):
                    iz[p, a, b, c] = _TAP[pz][a]
                    iy[p, a, b, c] = _TAP[py][b]
                    ix[p, a, b, c] = _TAP[px][c]
    return iz, iy, ix


_IZ, _IY, _IX = _tap_index()


def conv_transpose_to_conv_weight(weight: torch.Tensor, bias: torch.Tensor | None):
    """ConvTranspose3d(k4, s2, p1) weight [Cin, Cout, 4, 4, 4] -> Conv3d weight
    [8*Cout, Cin, 3, 3, 3] (+ bias [8*Cout]); output channel = co*8 + (pz*4 + py*2 + px).
    Differentiable (index gather), so training can use it directly."""
    cin, cout = weight.shape[0], weight.shape[1]
    w = F.pad(weight, (0, 1, 0, 1, 0, 1))  # index 4 -> zero tap
    w = w[:, :, _IZ, _IY, _IX]  # [Cin, Cout, 8, 3, 3, 3]
    w = w.permute(1, 2, 0, 3, 4, 5).reshape(cout * 8, cin, 3, 3, 3)
    b = None if bias is None else bias.repeat_interleave(8)
    return w, b


def conv_weight_to_conv_transpose(w: torch.Tensor, b: torch.Tensor, cout: int):
    """Inverse of conv_transpose_to_conv_weight: Conv3d weight [8*Cout, Cin, 3, 3, 3] (+ bias)
    -> ConvTranspose3d(k4, s2, p1) weight [Cin, Cout, 4, 4, 4] (+ bias [Cout]). Every kernel tap
    appears in exactly one (parity, offset) slot; the slots of the zero tap must hold zeros
    (raises otherwise: the weight did not come from a ConvTranspose)."""
    cin = w.shape[1]
    g = w.reshape(cout, 8, cin, 3, 3, 3).permute(2, 0, 1, 3, 4, 5)  # [Cin, Cout, 8, 3, 3, 3]
    full = torch.zeros(cin, cout, 5, 5, 5, dtype=w.dtype)
    full[:, :, _IZ, _IY, _IX] = g
    if not torch.equal(conv_transpose_to_conv_weight(full[:, :, :4, :4, :4], None)[0], w):
        raise ValueError('Conv3d weight is not the shuffle form of a ConvTranspose3d(4, 2, 1)')
    bias = b.reshape(cout, 8)
    if not torch.equal(bias, bias[:, :1].expand(cout, 8)):
        raise ValueError('shuffle-form bias differs between the 8 parities of one channel')
    return full[:, :, :4, :4, :4].clone(), bias[:, 0].clone()


def voxel_shuffle(y: torch.Tensor, cout: int) -> torch.Tensor:
    """[B, 8*C, D, H, W] -> [B, C, 2D, 2H, 2W] (channel co*8 + pz*4 + py*2 + px)."""
    b, _, d, h, w = y.shape
    y = y.reshape(b, cout, 2, 2, 2, d, h, w)
    y = y.permute(0, 1, 5, 2, 6, 3, 7, 4)
    return y.reshape(b, cout, d * 2, h * 2, w * 2)


class UpConv(nn.Module):
    """Exactly nn.ConvTranspose3d(cin, cout, 4, 2, 1) as a function; computed as
    Conv3d + voxel shuffle ('shuffle', default) or with conv_transpose3d ('transpose')."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        ref = nn.ConvTranspose3d(cin, cout, 4, 2, 1)
        self.weight = nn.Parameter(ref.weight.detach().clone())
        self.bias = nn.Parameter(ref.bias.detach().clone())
        self.cout = cout
        self.mode = 'shuffle'

    @staticmethod
    def from_conv_transpose(ct: nn.ConvTranspose3d) -> 'UpConv':
        assert ct.kernel_size == (4, 4, 4) and ct.stride == (2, 2, 2) and ct.padding == (1, 1, 1)
        m = UpConv(ct.in_channels, ct.out_channels)
        with torch.no_grad():
            m.weight.copy_(ct.weight)
            m.bias.copy_(ct.bias)
        return m

    def forward(self, x):
        if self.mode == 'transpose':
            return F.conv_transpose3d(x, self.weight, self.bias, stride=2, padding=1)
        w, b = conv_transpose_to_conv_weight(self.weight, self.bias)
        return voxel_shuffle(F.conv3d(x, w, b, padding=1), self.cout)

    def export_module(self) -> nn.Module:
        """A plain Conv3d + shuffle module with precomputed weights (for ONNX)."""
        return ShuffleConv(*conv_transpose_to_conv_weight(self.weight.detach(), self.bias.detach()), self.cout)


class ShuffleConv(nn.Module):
    def __init__(self, w, b, cout):
        super().__init__()
        self.conv = nn.Conv3d(w.shape[1], w.shape[0], 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(w)
            self.conv.bias.copy_(b)
        self.cout = cout

    def forward(self, x):
        return voxel_shuffle(self.conv(x), self.cout)


class ResBlock(nn.Module):
    """x + ReLU(conv1(ReLU(conv3(x))))."""

    def __init__(self, ch: int):
        super().__init__()
        self.c1 = nn.Conv3d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv3d(ch, ch, 1)

    def forward(self, x):
        return x + F.relu(self.c2(F.relu(self.c1(x))))


class Encoder(nn.Module):
    def __init__(self, in_ch=4, widths=(16, 32, 64), n_res=3, z_ch=8):
        super().__init__()
        layers = []
        c = in_ch
        for w in widths:
            layers += [nn.Conv3d(c, w, 4, 2, 1), nn.ReLU()]
            c = w
        layers += [ResBlock(c) for _ in range(n_res)]
        layers += [nn.Conv3d(c, z_ch, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, out_ch=1, widths=(16, 32, 64), n_res=3, z_ch=8):
        super().__init__()
        ws = list(widths)[::-1]  # 64, 32, 16
        layers = [nn.Conv3d(z_ch, ws[0], 3, padding=1), nn.ReLU()]
        layers += [ResBlock(ws[0]) for _ in range(n_res)]
        ups = ws[1:] + [ws[-1]]  # 32, 16, 16
        c = ws[0]
        for w in ups:
            layers += [UpConv(c, w), nn.ReLU()]
            c = w
        layers += [nn.Conv3d(c, out_ch, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)

    def export_form(self) -> nn.Module:
        """Same function with every UpConv replaced by a plain Conv3d + voxel shuffle (new
        modules; every other layer is shared with this decoder)."""
        layers = [m.export_module() if isinstance(m, UpConv) else m for m in self.net]
        return nn.Sequential(*layers)

    @torch.no_grad()
    def load_export_form(self, form: nn.Module) -> None:
        """Weights of an export form (e.g. read back from decoder.onnx) into this decoder:
        shared layers already hold them; each UpConv takes its ShuffleConv's weights inverted."""
        for m, e in zip(self.net, form):
            if isinstance(m, UpConv):
                w, b = conv_weight_to_conv_transpose(e.conv.weight, e.conv.bias, m.cout)
                m.weight.copy_(w)
                m.bias.copy_(b)


class VectorQuantizerEMA(nn.Module):
    """Nearest-codebook quantisation with EMA codebook updates (van den Oord et al.),
    straight-through gradients, commitment loss ||z - sg(q)||^2 (weighted outside), and
    restarts of dead codes from random encoder outputs."""

    def __init__(self, n_codes=512, dim=8, decay=0.99, eps=1e-5, restart_threshold=0.01):
        super().__init__()
        self.n_codes, self.dim, self.decay, self.eps = n_codes, dim, decay, eps
        self.restart_threshold = restart_threshold
        self.register_buffer('embedding', torch.randn(n_codes, dim) * 0.1)
        self.register_buffer('cluster_size', torch.zeros(n_codes))
        self.register_buffer('embed_avg', self.embedding.clone())
        self.register_buffer('initialised', torch.zeros((), dtype=torch.bool))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        e = self.embedding
        d = (flat * flat).sum(1, keepdim=True) - 2 * flat @ e.t() + (e * e).sum(1)[None, :]
        return torch.argmin(d, dim=1)

    def quantise(self, z: torch.Tensor) -> torch.Tensor:
        """Inference path (also the exported one): [B, C, D, H, W] -> nearest codes."""
        zp = z.permute(0, 2, 3, 4, 1)
        flat = zp.reshape(-1, self.dim)
        q = F.embedding(self.nearest(flat), self.embedding)
        return q.view_as(zp).permute(0, 4, 1, 2, 3)

    def forward(self, z: torch.Tensor):
        zp = z.permute(0, 2, 3, 4, 1)
        flat = zp.reshape(-1, self.dim)
        if self.training and not bool(self.initialised):
            with torch.no_grad():
                pick = flat[torch.randint(0, flat.shape[0], (self.n_codes,))].detach()
                self.embedding.copy_(pick + 0.01 * torch.randn_like(pick))
                self.embed_avg.copy_(self.embedding)
                self.cluster_size.fill_(1.0)
                self.initialised.fill_(True)
        idx = self.nearest(flat.detach())
        q = F.embedding(idx, self.embedding)
        if self.training:
            with torch.no_grad():
                onehot = F.one_hot(idx, self.n_codes).type(flat.dtype)
                self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
                self.embed_avg.mul_(self.decay).add_(onehot.t() @ flat.detach(), alpha=1 - self.decay)
                n = self.cluster_size.sum()
                size = (self.cluster_size + self.eps) / (n + self.n_codes * self.eps) * n
                self.embedding.copy_(self.embed_avg / size[:, None])
                dead = self.cluster_size < self.restart_threshold
                nd = int(dead.sum())
                if nd > 0:
                    pick = flat[torch.randint(0, flat.shape[0], (nd,))].detach()
                    self.embedding[dead] = pick
                    self.embed_avg[dead] = pick
                    self.cluster_size[dead] = 1.0
        commit = F.mse_loss(flat, q.detach())
        q = flat + (q - flat).detach()
        with torch.no_grad():
            p = torch.bincount(idx, minlength=self.n_codes).float() / idx.numel()
            perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        return q.view_as(zp).permute(0, 4, 1, 2, 3), commit, perplexity


class VQAutoencoder(nn.Module):
    """quantise=False: the decoder gets the encoder's continuous output (no codebook lookup; the
    codebook stays in the state dict, unused), and in training Gaussian noise of `latent_noise`
    times the latent's standard deviation is added to it, which bounds what each latent value can
    carry and keeps the decoder tolerant of a sampler's imprecision."""

    def __init__(self, widths=(16, 32, 64), n_res=3, z_ch=8, n_codes=512, coord_ch=3, decay=0.99,
                 quantise=True, latent_noise=0.0):
        super().__init__()
        self.z_ch = z_ch
        self.quantise = bool(quantise)
        self.latent_noise = float(latent_noise)
        self.factor = 2 ** len(widths)  # one stride-2 level per width
        self.encoder = Encoder(1 + coord_ch, widths, n_res, z_ch)
        self.vq = VectorQuantizerEMA(n_codes, z_ch, decay)
        self.decoder = Decoder(1, widths, n_res, z_ch)

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        """Encoder output -> the latent the decoder and the UNet see (inference)."""
        return self.vq.quantise(z) if self.quantise else z

    def encode(self, image, coords):
        """Quantised latent (inference); the encoder's output itself when quantise is off."""
        return self.latent(self.encoder(torch.cat([image, coords], 1)))

    def decode(self, z):
        return self.decoder(z)

    def forward(self, image, coords):
        z = self.encoder(torch.cat([image, coords], 1))
        if not self.quantise:
            zero = torch.zeros((), device=z.device)
            if self.training and self.latent_noise > 0:
                z = z + self.latent_noise * z.detach().float().std() * torch.randn_like(z)
            return self.decoder(z), zero, zero
        # nearest-code search and EMA statistics in float32 even under bf16 autocast: bf16
        # distances would tie or swap close codes
        with torch.autocast(device_type=z.device.type, enabled=False):
            q, commit, perplexity = self.vq(z.float())
        return self.decoder(q), commit, perplexity


class ExportEncoder(nn.Module):
    """ONNX encoder: (image [B,1,D,H,W], coords [B,3,D,H,W]) -> latent [B,8,D/8,H/8,W/8], quantised
    unless the autoencoder's quantise is off."""

    def __init__(self, ae: VQAutoencoder):
        super().__init__()
        self.encoder, self.vq = ae.encoder, ae.vq
        self.latent = ae.latent  # the autoencoder's own rule (quantised or not), not a copy of it

    def forward(self, image, coords):
        return self.latent(self.encoder(torch.cat([image, coords], 1)))


class ExportDecoder(nn.Module):
    """ONNX decoder: latent [B,8,d,h,w] -> image [B,1,8d,8h,8w] (no ConvTranspose)."""

    def __init__(self, ae: VQAutoencoder):
        super().__init__()
        self.net = ae.decoder.export_form()

    def forward(self, latent):
        return self.net(latent)


class PatchDiscriminator(nn.Module):
    """Small 3D PatchGAN (optional adversarial term)."""

    def __init__(self, in_ch=1, width=16, n_layers=3):
        super().__init__()
        layers = [nn.Conv3d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(n_layers - 1):
            layers += [nn.Conv3d(c, c * 2, 4, 2, 1), nn.GroupNorm(4, c * 2), nn.LeakyReLU(0.2)]
            c *= 2
        layers += [nn.Conv3d(c, 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
