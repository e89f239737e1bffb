"""Checkpoints cut to the weights: the autoencoder's, the UNet's averaged (EMA) weights and latent
scale, and both stages' iteration counts, minutes and config; no optimiser, discriminator or
random-generator states. A slim checkpoint exports and evaluates like the full one, and training
resumes from it (--resume) with a fresh optimiser state on the same learning-rate schedule. Uses:
the trip back from a lent GPU machine (at most 16 MiB a file), and with --half (weights stored as
float16, half the bytes; loading casts them back to float32) a candidate small enough to commit, so
that the next session resumes it instead of retraining (checkpoints outside git may not survive).
Tensors are moved to the CPU. From models/training:

    python3 -m ldm.slim_checkpoint --checkpoint-dir CK --out OUT [--half]
        (CK/{autoencoder,diffusion}/last.pt -> OUT/{autoencoder,diffusion}/last.pt; with
         --stages autoencoder only the autoencoder's)
"""
from __future__ import annotations

import argparse
import os

import torch

KEEP = {'autoencoder': ('model', 'iter', 'elapsed', 'config'),
        'diffusion': ('ema', 'latent_scale', 'iter', 'elapsed', 'config')}


def slim(ck: dict, stage: str, half: bool = False) -> dict:
    missing = [k for k in KEEP[stage] if k not in ck]
    if missing:
        raise ValueError(f'{stage} checkpoint lacks {", ".join(missing)}: not one of ldm.train\'s')

    def tensor(t):
        t = t.detach().cpu()
        if half and t.is_floating_point():
            if not torch.isfinite(t).all() or t.abs().max() > torch.finfo(torch.float16).max:
                raise ValueError(f'{stage} checkpoint: a weight is non-finite or beyond float16\'s range')
            return t.to(torch.float16)
        return t

    def cpu(v):
        return {k: tensor(t) for k, t in v.items()} if isinstance(v, dict) and v and all(
            torch.is_tensor(t) for t in v.values()) else v
    return {k: cpu(ck[k]) for k in KEEP[stage]}


def main(argv=None):
    from .train import save_atomic, torch_load
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint-dir', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--half', action='store_true', help='store the weights as float16 (half the bytes)')
    ap.add_argument('--stages', nargs='+', choices=list(KEEP), default=list(KEEP))
    args = ap.parse_args(argv)
    srcs = {stage: os.path.join(args.checkpoint_dir, stage, 'last.pt') for stage in args.stages}
    missing = [p for p in srcs.values() if not os.path.exists(p)]
    if missing:  # checked before anything is written
        raise SystemExit(f'slim_checkpoint: no {", ".join(missing)}')
    for stage, src in srcs.items():
        os.makedirs(os.path.join(args.out, stage), exist_ok=True)
        dst = os.path.join(args.out, stage, 'last.pt')
        save_atomic(slim(torch_load(src), stage, args.half), dst)
        print(f'{dst}: {os.path.getsize(dst) / 2**20:.1f} MiB (from {os.path.getsize(src) / 2**20:.1f})', flush=True)


if __name__ == '__main__':
    main()
