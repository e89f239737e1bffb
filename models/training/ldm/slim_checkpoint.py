"""Checkpoints cut to what ldm.export and ldm.evaluate read, for the trip back from a lent GPU
machine (at most 16 MiB a file): the autoencoder's weights, the UNet's averaged (EMA) weights and
latent scale, and both stages' iteration counts, minutes and config; no optimiser, discriminator
or random-generator states (a slim checkpoint can be exported and evaluated, not resumed).
Tensors are moved to the CPU. From models/training:

    python3 -m ldm.slim_checkpoint --checkpoint-dir CK --out OUT   (CK/{autoencoder,diffusion}/last.pt
                                                                     -> OUT/{autoencoder,diffusion}/last.pt)
"""
from __future__ import annotations

import argparse
import os

import torch

KEEP = {'autoencoder': ('model', 'iter', 'elapsed', 'config'),
        'diffusion': ('ema', 'latent_scale', 'iter', 'elapsed', 'config')}


def slim(ck: dict, stage: str) -> dict:
    missing = [k for k in KEEP[stage] if k not in ck]
    if missing:
        raise ValueError(f'{stage} checkpoint lacks {", ".join(missing)}: not one of ldm.train\'s')

    def cpu(v):
        return {k: t.detach().cpu() for k, t in v.items()} if isinstance(v, dict) and v and all(
            torch.is_tensor(t) for t in v.values()) else v
    return {k: cpu(ck[k]) for k in KEEP[stage]}


def main(argv=None):
    from .train import save_atomic, torch_load
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint-dir', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args(argv)
    for stage in KEEP:
        src = os.path.join(args.checkpoint_dir, stage, 'last.pt')
        if not os.path.exists(src):
            raise SystemExit(f'slim_checkpoint: no {src}')
        os.makedirs(os.path.join(args.out, stage), exist_ok=True)
        dst = os.path.join(args.out, stage, 'last.pt')
        save_atomic(slim(torch_load(src), stage), dst)
        print(f'{dst}: {os.path.getsize(dst) / 2**20:.1f} MiB (from {os.path.getsize(src) / 2**20:.1f})', flush=True)


if __name__ == '__main__':
    main()
