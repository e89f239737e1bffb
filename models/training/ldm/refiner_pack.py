"""Refiner training volumes packed to a byte budget, for a machine that sees only the repository.

A lent GPU machine receives the work tree plus a few git-ignored folders, 64 MiB in all; the
refiner's training CT is about 180 MB as int16 and compresses only about 2.2x (CT noise does
not compress), so it cannot all travel. `pack` takes every training volume (load_volumes,
held-out scans refused there), crops each to its body (voxels above -500 HU, plus a margin),
caps each at a share of the budget (a centred slab along its longest axis) so that no single
scan crowds out the others, and writes int16 HU (rounding: at most 0.5 HU) compressed with
xz, finest voxel spacing first, until the budget is spent. `load_packed` reads them back in
load_volumes' form. Usage (from models/training):

    /usr/bin/python3 -m ldm.refiner_pack --config configs/demo.json --out ../.gpu-data/refiner --budget-mb 32 \
        --start-from ../geometry-ldm-demo/refiner.onnx
"""
from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np

from .data import refuse_held_out
from .refiner import HU_SCALE
from .scan_pack import decode_int16, encode_int16

BODY_HU, MARGIN = -500.0, 4


def body_box(vol: np.ndarray) -> tuple:
    """-> slices of the smallest box holding every voxel above BODY_HU (plus MARGIN voxels);
    the whole volume when there is none."""
    body = vol > BODY_HU / HU_SCALE
    if not body.any():
        return tuple(slice(0, n) for n in vol.shape)
    out = []
    for ax in range(3):
        hit = np.where(body.any(axis=tuple(a for a in range(3) if a != ax)))[0]
        out.append(slice(max(0, int(hit[0]) - MARGIN), min(vol.shape[ax], int(hit[-1]) + 1 + MARGIN)))
    return tuple(out)


def encode(vol: np.ndarray) -> bytes:
    """vol in HU/1000 -> int16 HU, xz (scan_pack's encoding)."""
    return encode_int16(np.asarray(vol, np.float32) * HU_SCALE)


def pack(vols: list, out: str, budget_mb: float, share: float = 0.2, min_slab: int = 80, min_plane: int = 80,
         log=print) -> list:
    """vols: load_volumes' [(name, float32 [nz, ny, nx] in HU/1000, spacing)]. Writes NAME.i16.xz
    and NAME.json per packed volume into out (emptied of earlier packs first) and returns the
    names packed. A volume above `share` of the budget is cut to a centred slab along its
    longest axis, no thinner than min_slab voxels. A body smaller than min_plane (the training
    patch) along two of its axes cannot give a training plane and is left out."""
    budget, cap = budget_mb * 1e6, share * budget_mb * 1e6
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, '*.i16.xz')) + glob.glob(os.path.join(out, '*.json')):
        os.remove(f)
    used, packed = 0, []
    for name, vol, spacing in sorted(vols, key=lambda v: (min(v[2]), v[0])):
        box = list(body_box(np.asarray(vol)))
        sub = np.asarray(vol)[tuple(box)]
        if sorted(sub.shape)[1] < min_plane:
            log({'info': f'pack: {name} body {list(sub.shape)} has no {min_plane} x {min_plane} plane; skipped'})
            continue
        blob = encode(sub)
        if len(blob) > cap:  # keep a centred slab of the longest axis in proportion to the cap
            ax = int(np.argmax(sub.shape))
            n = max(min_slab, int(sub.shape[ax] * cap / len(blob)))
            if n < sub.shape[ax]:
                start = box[ax].start + (sub.shape[ax] - n) // 2
                box[ax] = slice(start, start + n)
                sub = np.asarray(vol)[tuple(box)]
                blob = encode(sub)
        if used + len(blob) > budget:
            log({'info': f'pack: {name} ({len(blob) / 1e6:.1f} MB) does not fit the budget; skipped'})
            continue
        with open(os.path.join(out, name + '.i16.xz'), 'wb') as f:
            f.write(blob)
        with open(os.path.join(out, name + '.json'), 'w') as f:
            json.dump({'shape': list(sub.shape), 'spacing': [float(s) for s in spacing],
                       'box': [[b.start, b.stop] for b in box], 'full_shape': list(np.shape(vol))}, f)
        used += len(blob)
        packed.append(name)
        log({'info': f'pack: {name} {list(sub.shape)} of {list(np.shape(vol))}, {len(blob) / 1e6:.1f} MB'})
    log({'info': f'pack: {len(packed)} of {len(vols)} volumes, {used / 1e6:.1f} MB of {budget_mb} MB'})
    return packed


def load_packed(folder: str, log=print) -> list:
    """-> [(name, float32 [nz, ny, nx] in HU/1000, spacing)] as load_volumes returns them."""
    out = []
    for meta_path in sorted(glob.glob(os.path.join(folder, '*.json'))):
        name = os.path.basename(meta_path)[:-len('.json')]
        refuse_held_out(name, f' in {folder}')  # the pack bypasses load_volumes' own refusal
        with open(meta_path) as f:
            meta = json.load(f)
        with open(os.path.join(folder, name + '.i16.xz'), 'rb') as f:
            hu = decode_int16(f.read(), meta['shape'], name)
        out.append((name, hu.astype(np.float32) / HU_SCALE, meta['spacing']))
    if not out:
        raise FileNotFoundError(f'no packed refiner volumes in {folder}')
    log({'info': f'{len(out)} packed volumes from {folder}'})
    return out


def main(argv=None):
    from .train import load_config
    from .train_refiner import training_volumes
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--budget-mb', type=float, default=32.0)
    ap.add_argument('--data-root')
    ap.add_argument('--start-from', help='also write OUT/start.pt (EMA weights for --warm-start) from this '
                    'refiner.onnx: the GPU machine may lack the onnx package')
    args = ap.parse_args(argv)
    log = lambda rec: print(json.dumps(rec), flush=True)  # noqa: E731
    pack(training_volumes(load_config(args.config), args.data_root, log), args.out, args.budget_mb, log=log)
    if args.start_from:
        import torch
        from .train_refiner import warm_start_state
        state, origin = warm_start_state(args.start_from)
        torch.save({'ema': state, 'step': 0, 'source': args.start_from}, os.path.join(args.out, 'start.pt'))
        log({'info': f'start.pt from {args.start_from} ({origin})'})


if __name__ == '__main__':
    main()
