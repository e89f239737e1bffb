"""Held-out evaluation and model-card pictures (Python reference pipeline).

    cd models/training
    nice -n 10 /usr/bin/python3 -m ldm.evaluate --config configs/demo.json --out ../geometry-ldm-demo \
        [--skip-samples] [--data-root DIR] [--scan PATH [--scan-kind dicom|nifti] [--scan-name NAME]]

Writes <out>/images/*.png and <out>/metrics.json (merged into model.json by export).
The evaluation scan defaults to lidc-idri-0001 of the shared data folder; --scan PATH
(a DICOM series folder or a NIfTI file; relative to --data-root, or absolute) evaluates
on your own held-out scan instead. A scan that the config trains on is refused.
By default, reconstruction metrics are on lidc-idri-0001, which never enters training:
MAE in HU and PSNR over the model's HU window (data range = huMax - huMin), computed
on the held-out scan resampled (area-averaged pyramid + trilinear) to the evaluation grid.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import time
import zlib

import numpy as np
import torch

from . import data as D
from . import geometry as G
from .schedule import ddim_sample, generation_guidance, sr_cycles, sr_t_start, super_resolve_latent
from .train import build_schedule, build_unet, ckpt_dir, load_autoencoder, load_config, torch_load


# ----------------------------------------------------------------- PNG (no PIL here)

def write_png(path: str, img: np.ndarray) -> None:
    """8-bit greyscale PNG from a 2D uint8 array."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape
    raw = b''.join(b'\x00' + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        c = struct.pack('>I', len(data)) + tag + data
        return c + struct.pack('>I', zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
    png += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    with open(path, 'wb') as f:
        f.write(png)


def to_u8(model_vals: np.ndarray, intensity: D.Intensity, window=(-1000.0, 500.0)) -> np.ndarray:
    hu = intensity.to_hu(model_vals)
    return (np.clip((hu - window[0]) / (window[1] - window[0]), 0, 1) * 255).round().astype(np.uint8)


def _resize_nn(img: np.ndarray, px_h: float, px_w: float, mm_per_px: float) -> np.ndarray:
    h, w = img.shape
    nh, nw = max(1, int(round(h * px_h / mm_per_px))), max(1, int(round(w * px_w / mm_per_px)))
    rows = np.minimum((np.arange(nh) + 0.5) * h / nh, h - 1).astype(int)
    cols = np.minimum((np.arange(nw) + 0.5) * w / nw, w - 1).astype(int)
    return img[rows][:, cols]


def mid_slices(vol: np.ndarray, spacing, intensity, mm_per_px=1.5) -> list:
    """Axial (patient left on image right), coronal and sagittal (head up) mid-slices."""
    nz, ny, nx = vol.shape
    sx, sy, sz = spacing
    ax = to_u8(vol[nz // 2], intensity)
    co = to_u8(vol[:, ny // 2, :][::-1], intensity)
    sa = to_u8(vol[:, :, nx // 2][::-1], intensity)
    return [_resize_nn(ax, sy, sx, mm_per_px), _resize_nn(co, sz, sx, mm_per_px), _resize_nn(sa, sz, sy, mm_per_px)]


def montage(rows: list, gap=4) -> np.ndarray:
    """rows: list of lists of 2D uint8 images -> one image (rows stacked, bottom/right padded)."""
    rh = [max(im.shape[0] for im in r) for r in rows]
    rw = [sum(im.shape[1] for im in r) + gap * (len(r) - 1) for r in rows]
    out = np.zeros((sum(rh) + gap * (len(rows) - 1), max(rw)), np.uint8)
    y = 0
    for r, h in zip(rows, rh):
        x = 0
        for im in r:
            out[y:y + im.shape[0], x:x + im.shape[1]] = im
            x += im.shape[1] + gap
        y += h + gap
    return out


# ----------------------------------------------------------------- evaluation

@torch.no_grad()
def reconstruct(ae, scan: D.Scan, spec: dict):
    s = D.make_sample(scan, spec)
    image, coords = s['image'][None], s['coords'][None]
    recon = ae.decode(ae.encode(image, coords))
    return image[0, 0].numpy(), recon[0, 0].clamp(0, 1).numpy(), s['resolved']


def metrics(ref: np.ndarray, rec: np.ndarray, intensity: D.Intensity) -> dict:
    rng = intensity.hi - intensity.lo
    diff = rec - ref
    mse = float((diff ** 2).mean())
    body = intensity.to_hu(ref) > -500
    return {'maeHU': float(np.abs(diff).mean() * rng), 'psnrDb': float(10 * np.log10(1.0 / max(mse, 1e-12))),
            'maeHUBody': float(np.abs(diff[body]).mean() * rng) if body.any() else None,
            'bodyFraction': float(body.mean())}


EVAL_SPECS = [
    ('full-fov-96x96x88', {'kind': 'fov', 'dims': [96, 96, 88]}),
    ('full-fov-64x64x56', {'kind': 'fov', 'dims': [64, 64, 56]}),
    ('crop-upper-64x64x48', {'kind': 'fov', 'dims': [64, 64, 48], 'fov': [[0.2, 0.8], [0.15, 0.75], [0.4, 1.0]]}),
    ('rotated-64x64x56', {'kind': 'fov', 'dims': [64, 64, 56], 'fov': [[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]],
                          'rotationDeg': [0, 0, 20]}),
]

SAMPLE_SPECS = [
    ('grid-32x32x32', {'kind': 'fov', 'dims': [32, 32, 32]}),
    ('grid-48x48x40', {'kind': 'fov', 'dims': [48, 48, 40]}),
    ('grid-64x64x56', {'kind': 'fov', 'dims': [64, 64, 56]}),
    ('partial-fov-upper-half', {'kind': 'fov', 'dims': [48, 48, 32], 'fov': [[0, 1], [0, 1], [0.5, 1.0]]}),
    ('rotated-z30', {'kind': 'fov', 'dims': [48, 48, 40], 'rotationDeg': [0, 0, 30]}),
]


@torch.no_grad()
def super_resolution_eval(ae, unet, sched, scale, scan, intensity, out_dir, samples=4, seed=11,
                          hi_dims=(96, 96, 80), lo_dims=(48, 48, 40), t_start=100, cycles=5):
    """Method section 4 on the held-out scan: low-res (same FOV, half the grid) -> trilinear to the
    high-res grid -> encode -> `cycles` (the manifest's) x (noise to t_start, the manifest's tStart; DDIM 10 steps)
    -> decode; N samples give mean and std. Compared with the true high-res resampling of the same
    scan."""
    import torch.nn.functional as F
    hi = D.make_sample(scan, {'kind': 'fov', 'dims': list(hi_dims)})
    lo = D.make_sample(scan, {'kind': 'fov', 'dims': list(lo_dims)})
    # full-FOV grids: first/last voxel centres coincide -> align_corners=True is the exact map
    up = F.interpolate(lo['image'][None], size=tuple(hi['image'].shape[1:]), mode='trilinear', align_corners=True)
    coords = hi['coords'][None]
    r = hi['resolved']
    z = ae.encode(up, coords)
    lc = torch.from_numpy(G.latent_conditioning(r.dims, r.index_to_group, ae.factor))[None]
    gen = torch.Generator().manual_seed(seed)
    outs = []
    for _ in range(samples):
        zs = super_resolve_latent(unet, sched, z * scale, lc, t=t_start, cycles=cycles, steps=10, generator=gen)
        outs.append(ae.decode(zs / scale)[0, 0].clamp(0, 1).numpy())
    stack = np.stack(outs)
    mean, std = stack.mean(0), stack.std(0)
    ref = hi['image'][0].numpy()
    ae_only = ae.decode(z)[0, 0].clamp(0, 1).numpy()
    res = {'lowResDims': list(lo_dims), 'highResDims': list(hi_dims), 'samples': samples, 'tStart': t_start,
           'cycles': cycles,
           'trilinear': metrics(ref, up[0, 0].numpy(), intensity),
           'autoencoderOnly': metrics(ref, ae_only, intensity),
           'superResolvedMean': metrics(ref, mean, intensity),
           'meanStdHU': float(std.mean() * (intensity.hi - intensity.lo)),
           'corrStdAbsError': float(np.corrcoef(std.ravel(), np.abs(mean - ref).ravel())[0, 1])}
    sp = r.spacing_mm
    std_u8 = (np.clip(std * (intensity.hi - intensity.lo) / 100.0, 0, 1) * 255).astype(np.uint8)
    std_sl = [_resize_nn(std_u8[std_u8.shape[0] // 2], sp[1], sp[0], 1.5),
              _resize_nn(std_u8[:, std_u8.shape[1] // 2][::-1], sp[2], sp[0], 1.5),
              _resize_nn(std_u8[:, :, std_u8.shape[2] // 2][::-1], sp[2], sp[1], 1.5)]
    write_png(os.path.join(out_dir, 'images', 'superres-heldout.png'),
              montage([mid_slices(ref, sp, intensity), mid_slices(up[0, 0].numpy(), sp, intensity),
                       mid_slices(mean, sp, intensity), std_sl]))
    return res


def eval_scan_from_args(a, cfg) -> tuple:
    """-> (data root, (name, path, kind)) of the evaluation scan; refuses a training scan."""
    root = os.path.abspath(a.data_root or D.DEFAULT_DATA_ROOT)
    if not a.scan:
        if a.scan_kind or a.scan_name:
            raise SystemExit('--scan-kind / --scan-name need --scan')
        return root, D.EVAL_SCAN
    path = a.scan
    full = os.path.abspath(os.path.join(root, path))
    kind = a.scan_kind or ('nifti' if full.endswith(('.nii', '.nii.gz')) else 'dicom' if os.path.isdir(full)
                           else None)
    if kind is None:
        raise SystemExit(f'--scan {path}: not a DICOM series folder or .nii/.nii.gz file (or give --scan-kind)')
    name = a.scan_name or os.path.basename(full.rstrip(os.sep)).split('.nii')[0]
    dc = cfg.get('data', {})
    train_root = os.path.abspath(dc.get('root') or root)
    train = [e['path'] for e in dc['scans']] if dc.get('scans') else [rel for _, rel, _ in D.TRAINING_SCANS]
    if any(os.path.abspath(os.path.join(train_root, t)) == full for t in train):
        raise SystemExit(f'--scan {path} is one of the config\'s training scans: evaluate on held-out data')
    return root, (name, path, kind)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--checkpoint-dir')
    ap.add_argument('--skip-samples', action='store_true')
    ap.add_argument('--sample-steps', type=int, default=50)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--data-root', help='folder the evaluation scan path is relative to (default: the shared data)')
    ap.add_argument('--scan', help='evaluation scan: DICOM series folder or NIfTI file (default: lidc-idri-0001)')
    ap.add_argument('--scan-kind', choices=['dicom', 'nifti'], help='default: from the path')
    ap.add_argument('--scan-name', help='name in metrics.json (default: from the path)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(a.config)
    data_root, eval_scan = eval_scan_from_args(a, cfg)
    intensity = D.Intensity(**cfg['data']['intensity'])
    os.makedirs(os.path.join(a.out, 'images'), exist_ok=True)
    ae, ae_ck = load_autoencoder(cfg, os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'autoencoder'), 'last.pt'))
    ae.eval()
    out = {'heldOutScan': eval_scan[0], 'autoencoderIterations': int(ae_ck['iter']),
           'autoencoderTrainingMinutes': round(ae_ck['elapsed'] / 60, 1), 'reconstruction': {}}
    scan = D.load_eval_scan(data_root, intensity=intensity, scan=eval_scan)
    for name, spec in EVAL_SPECS:
        t = time.time()
        ref, rec, r = reconstruct(ae, scan, spec)
        m = metrics(ref, rec, intensity)
        m['spacingMm'] = [round(float(s), 3) for s in r.spacing_mm]
        m['dims'] = list(r.dims)
        out['reconstruction'][name] = m
        print(name, json.dumps(m), f'{time.time() - t:.1f}s', flush=True)
        if name in ('full-fov-96x96x88', 'crop-upper-64x64x48', 'rotated-64x64x56'):
            a_ref = mid_slices(ref, r.spacing_mm, intensity)
            a_rec = mid_slices(rec, r.spacing_mm, intensity)
            err = np.abs(rec - ref) * (intensity.hi - intensity.lo)
            err_u8 = [(np.clip(e / 300.0, 0, 1) * 255).astype(np.uint8) for e in
                      (err[err.shape[0] // 2], err[:, err.shape[1] // 2][::-1], err[:, :, err.shape[2] // 2][::-1])]
            sp = r.spacing_mm
            err_u8 = [_resize_nn(err_u8[0], sp[1], sp[0], 1.5), _resize_nn(err_u8[1], sp[2], sp[0], 1.5),
                      _resize_nn(err_u8[2], sp[2], sp[1], 1.5)]
            write_png(os.path.join(a.out, 'images', f'heldout-{name}.png'), montage([a_ref, a_rec, err_u8]))
    unet_path = os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'diffusion'), 'last.pt')
    if not a.skip_samples and os.path.exists(unet_path):
        ck = torch_load(unet_path)
        unet = build_unet(ck.get('config') or cfg)  # its own widths
        unet.load_state_dict(ck['ema'])
        unet.eval()
        scale = float(ck['latent_scale'])
        sched = build_schedule(cfg)
        out['diffusionIterations'] = int(ck['iter'])
        out['diffusionTrainingMinutes'] = round(ck['elapsed'] / 60, 1)
        ref_extent = cfg.get('contract', {}).get('referenceExtentMm', [375.0, 355.0, 295.0])
        gs = G.GroupSpace('scan-extent', np.zeros(3), np.asarray(ref_extent, np.float64))
        gen = torch.Generator().manual_seed(a.seed)
        rows = []
        for name, spec in SAMPLE_SPECS:
            t = time.time()
            r = G.resolve_geometry(spec, gs)
            lc = torch.from_numpy(G.latent_conditioning(r.dims, r.index_to_group, ae.factor))[None]
            z_T = torch.randn((1, 8) + tuple(lc.shape[2:]), generator=gen)
            z0 = ddim_sample(unet, sched, z_T, lc, steps=a.sample_steps,
                             guidance=generation_guidance(cfg.get('contract', {})) or 1.0)
            with torch.no_grad():
                img = ae.decode(z0 / scale)[0, 0].clamp(0, 1).numpy()
            sl = mid_slices(img, r.spacing_mm, intensity)
            write_png(os.path.join(a.out, 'images', f'sample-{name}.png'), montage([sl]))
            rows.append(sl)
            print('sample', name, f'{time.time() - t:.1f}s', flush=True)
        write_png(os.path.join(a.out, 'images', 'samples-all.png'), montage(rows))
        t = time.time()
        out['superResolution'] = super_resolution_eval(ae, unet, sched, scale, scan, intensity, a.out,
                                                      t_start=sr_t_start(cfg.get('contract', {}), sched),
                                                      cycles=sr_cycles(cfg.get('contract', {})))
        print('super-resolution', json.dumps(out['superResolution']), f'{time.time() - t:.1f}s', flush=True)
    def clean(v):  # strict JSON: no NaN/inf
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    out = clean(out)
    with open(os.path.join(a.out, 'metrics.json'), 'w') as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
