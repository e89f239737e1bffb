"""Held-out reconstruction of two autoencoders side by side: an exported model's (weights read
back from its encoder/decoder ONNX files) and a training checkpoint's.

    cd models/training
    /usr/bin/python3 -m ldm.compare_autoencoders --config configs/demo.json \\
        --model-dir ../geometry-ldm-demo --checkpoint /work/ckpt/ae-ft/autoencoder/last.pt

For each held-out scan (ldm.data HELD_OUT_SCANS: never trained on) and each grid of ldm.evaluate's
EVAL_SPECS plus a fine central crop (64^3 over the middle 24 % of each axis: about 1.1-2.3 mm),
encode + decode the scan resampled to that grid; MAE in HU over the body (reference > -500 HU).
Prints one line per crop and the mean; --json FILE writes the rows. --picture FILE.png writes the
round trips of a posterior chest crop (96^3, spine in view) of each held-out chest scan, rows real /
model / checkpoint, columns axial / coronal / sagittal mid-slices, and prints their bone fraction.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from . import data as D
from .evaluate import EVAL_SPECS, metrics, mid_slices, montage, reconstruct, write_png
from .train import autoencoder_from_model, load_autoencoder, load_config

SPECS = list(EVAL_SPECS) + [
    ('fine-centre-64', {'kind': 'fov', 'dims': [64, 64, 64], 'fov': [[0.38, 0.62], [0.38, 0.62], [0.38, 0.62]]}),
]


@torch.no_grad()
def compare(cfg, model_dir: str, checkpoint: str, data_root=None, log=print) -> list:
    intensity = D.Intensity(**cfg['data']['intensity'])
    base, _ = autoencoder_from_model(cfg, model_dir)
    cand = load_autoencoder(cfg, checkpoint)[0]  # its own widths (e.g. latent factor 4)
    base.eval()
    cand.eval()
    rows = []
    for name, rel, kind in D.HELD_OUT_SCANS:
        scan = D.load_eval_scan(data_root, intensity, (name, rel, kind))
        for spec_name, spec in SPECS:
            maes = []
            for ae in (base, cand):
                ref, rec, r = reconstruct(ae, scan, spec)
                maes.append(metrics(ref, rec, intensity)['maeHUBody'])
            row = {'scan': name, 'grid': spec_name, 'spacingMm': [round(float(s), 2) for s in r.spacing_mm],
                   'modelHu': round(maes[0], 1), 'checkpointHu': round(maes[1], 1)}
            rows.append(row)
            log(f"{name:27s} {spec_name:21s} {str(row['spacingMm']):20s} model {maes[0]:6.1f}  checkpoint "
                f'{maes[1]:6.1f} HU ({100 * (maes[1] / maes[0] - 1):+.1f} %)')
    b, c = np.mean([r['modelHu'] for r in rows]), np.mean([r['checkpointHu'] for r in rows])
    log(f'mean: model {b:.1f}, checkpoint {c:.1f} HU ({100 * (c / b - 1):+.1f} %); checkpoint lower in '
        f"{sum(r['checkpointHu'] < r['modelHu'] for r in rows)} of {len(rows)}")
    return rows


# The posterior middle of the chest, where the spine is (group units: u left-right, v front-back).
SPINE_CROP = {'kind': 'fov', 'dims': [96, 96, 96], 'fov': [[0.25, 0.75], [0.35, 0.95], [0.3, 0.7]]}
CHEST_SCANS = ('lidc-idri-0001', '4d-lung-113-phase40')


@torch.no_grad()
def spine_picture(cfg, model_dir: str, checkpoint: str, path: str, data_root=None, log=print) -> list:
    """The round-trip picture (module docstring) -> one row per image: scan, which, bone % of the body."""
    intensity = D.Intensity(**cfg['data']['intensity'])
    base, _ = autoencoder_from_model(cfg, model_dir)
    cand = load_autoencoder(cfg, checkpoint)[0]
    base.eval()
    cand.eval()
    tiles, rows = [], []
    for entry in (s for s in D.HELD_OUT_SCANS if s[0] in CHEST_SCANS):
        scan = D.load_eval_scan(data_root, intensity, entry)
        for which, ae in (('real', None), ('model', base), ('checkpoint', cand)):
            ref, rec, r = reconstruct(ae or base, scan, SPINE_CROP)
            vol = ref if ae is None else rec
            body = intensity.to_hu(ref) > -500
            bone = float((intensity.to_hu(vol)[body] >= 200).mean() * 100)
            rows.append({'scan': entry[0], 'which': which, 'boneBodyPercent': round(bone, 1),
                         'spacingMm': [round(float(x), 2) for x in r.spacing_mm]})
            log(f"{entry[0]:27s} {which:10s} bone {bone:4.1f} % of the body")
            tiles.append(mid_slices(vol, r.spacing_mm, intensity, mm_per_px=0.8))
    write_png(path, montage(tiles))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True)
    ap.add_argument('--model-dir', required=True)
    ap.add_argument('--checkpoint', required=True, help='an autoencoder last.pt')
    ap.add_argument('--data-root')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--json', help='write the rows to this file')
    ap.add_argument('--picture', help='write the spine round-trip picture (PNG) here')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = load_config(a.config)
    rows = compare(cfg, a.model_dir, a.checkpoint, a.data_root)
    if a.picture:
        spine_picture(cfg, a.model_dir, a.checkpoint, a.picture, a.data_root)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
