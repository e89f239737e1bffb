"""Train the super-resolution refiner (ldm/refiner.py) on planes of real CT.

    cd models/training
    nice -n 10 /usr/bin/python3 -m ldm.train_refiner --config configs/demo.json [--minutes M] [--threads 2]

Resumes from <checkpointDir>/refiner/last.pt when it exists (model, EMA, optimiser, step,
elapsed time, RNG states), so stopping (Ctrl-C, SIGTERM) and running the same command again
costs nothing; --fresh starts over. Logs to refiner/log.jsonl.
--warm-start CKPT starts a new run (fresh optimiser, step 0, a new cosine; --lr overrides
the peak rate) from the EMA weights of another run's checkpoint: a warm restart once a
run's schedule has ended.

Training pairs (SMORE-like, Zhao et al. 2020; docs/super-resolution.md): a slab of a
near-isotropic training scan (max/min voxel spacing <= ISOTROPY) is degraded with a random
acquisition (ldm/acquisition.py) along the plane's rows (always: 1.5-6x, box / Gaussian /
point profile, width 0.6-1.6x the spacing), its columns (35 %) and its normal (25 %), then
back-projected; the refiner learns the fine centre plane from the back-projected centre
plane and its two neighbours. Any axis of a scan can play any role, so in-plane detail
teaches through-plane detail. Loss: L1 in HU/1000 on the central crop.

Thick-slice scans with fine in-plane pixels (Lung-PET-CT-Dx: 0.65-0.84 mm, finer than any
near-isotropic scan here) teach in-plane planes only ("in-plane" scans: two axes within
ISOTROPY of each other, the third coarser): the plane is always the fine one, its normal
is not degraded, and its neighbours along the coarse axis (5-8 mm away, not the fine
neighbours the refiner sees at inference) are replaced by the centre plane itself.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch

from . import data as D
from . import geometry as G
from .acquisition import Acquisition, AxisAcquisition, identity_axis
from .pair_workers import PairWorkers
from .refiner_pack import load_packed
from .refiner import (HU_CLAMP, HU_SCALE, build_refiner, count_parameters, plane_features, refiner_from_onnx,
                      refiner_shape)
from .train import (REPO, Logger, StopFlag, apply_overrides, ckpt_dir, ema_update, load_config, lr_at,
                    restore_rng_states, rng_states,
                    save_checkpoint, torch_load)

ISOTROPY = 1.75
PATCH, CROP = 80, 64

# The real CT of the shared data folder outside the held-out scans (data.HELD_OUT).
# Near-isotropic scans teach planes of every orientation; thick-slice scans (Lung-PET-CT-Dx,
# CRLM: 5-8 mm slices) would teach a blurred axis as the truth, so they teach their fine
# in-plane planes only (in_plane_axes).
DEFAULT_SCANS = [
    {'name': 'lidc-idri-0314', 'path': 'train/lidc-idri-0314.nii.gz', 'kind': 'nifti'},
    {'name': 'cc-tumor-heterogeneity-a01', 'path': 'train/cc-tumor-heterogeneity-a01.nii.gz', 'kind': 'nifti'},
    {'name': 'totalseg-example-ct', 'path': 'totalseg-abdomen/example_ct.nii.gz', 'kind': 'nifti'},
    {'name': 'soft-tissue-sarcoma', 'path': 'train/soft-tissue-sarcoma/*.nii.gz', 'kind': 'nifti'},
]
# Scans that join DEFAULT_SCANS when a config sets refiner.inPlaneScans (0.3.1 trained without).
IN_PLANE_SCANS = [
    {'name': 'lung-pet-ct-dx-a0001', 'path': 'lung-pet-ct-dx-a0001', 'kind': 'dicom'},
    {'name': 'lung-pet-ct-dx-a0002', 'path': 'lung-pet-ct-dx-a0002', 'kind': 'dicom'},
    {'name': 'crlm-ct-1006', 'path': 'train/crlm-ct-1006.nii.gz', 'kind': 'nifti'},
]


def in_plane_axes(spacing) -> tuple | None:
    """-> None for a near-isotropic scan (every axis may play every role); (rows, cols) of the
    fine plane for a scan with exactly one coarse axis; raises for anything coarser."""
    s = [float(v) for v in spacing]
    if max(s) / min(s) <= ISOTROPY:
        return None
    fine = [a for a in range(3) if s[a] / min(s) <= ISOTROPY]
    if len(fine) != 2:
        raise D.DataError(f'spacing {s}: neither near-isotropic nor one coarse axis')
    return fine[0], fine[1]


def cache_dir() -> str:
    d = os.path.join(REPO, 'models', '.data-cache', 'refiner')
    os.makedirs(d, exist_ok=True)
    return d


def load_volumes(root: str, scans: list, log) -> list:
    """-> [(name, float32 array [nz, ny, nx] in HU/1000 (clamped), spacing (sz, sy, sx) mm)],
    cached as .npy beside a json of the spacing (the cache is git-ignored)."""
    import glob
    out = []
    for e in scans:
        paths = sorted(glob.glob(os.path.join(root, e['path']))) if '*' in e['path'] else [os.path.join(root, e['path'])]
        for p in paths:
            name = e['name'] if len(paths) == 1 else os.path.basename(p).split('.')[0]
            D.refuse_held_out(p)
            npy, meta = os.path.join(cache_dir(), name + '.npy'), os.path.join(cache_dir(), name + '.json')
            if os.path.exists(npy) and os.path.exists(meta):
                vol = np.load(npy, mmap_mode='r')
                spacing = json.load(open(meta))['spacing']
            else:
                hu, aff = D.load_dicom_series(p) if e['kind'] == 'dicom' else D.load_nifti(p)
                vol = (np.clip(hu, *HU_CLAMP) / HU_SCALE).astype(np.float32)
                spacing = [float(s) for s in G.axis_lengths(aff)[::-1]]  # (i, j, k) -> array order (k, j, i)
                np.save(npy, vol)
                json.dump({'spacing': spacing, 'source': p}, open(meta, 'w'))
            try:
                plane = in_plane_axes(spacing)
            except D.DataError:
                log({'info': f'skipping {name}: spacing {spacing} has no fine plane'})
                continue
            if plane is not None:
                log({'info': f'{name}: spacing {spacing}, in-plane planes only (axes {plane})'})
            out.append((name, np.ascontiguousarray(vol), spacing))
    if not out:
        raise D.DataError(f'no refiner training scans under {root}')
    return out


def training_volumes(cfg: dict, data_root: str | None, log) -> list:
    """load_volumes of the scans a config trains the refiner on: its refiner.scans, else
    DEFAULT_SCANS (plus IN_PLANE_SCANS when refiner.inPlaneScans), under data_root, else the
    config's data.root, else the shared data folder."""
    r = cfg['refiner']
    root = data_root or cfg['data'].get('root') or D.DEFAULT_DATA_ROOT
    return load_volumes(root, r.get('scans') or (DEFAULT_SCANS + (IN_PLANE_SCANS if r.get('inPlaneScans') else [])), log)


def random_profile(rng: np.random.Generator, major: bool):
    """-> (spacing, profile, width) of a random acquisition, in fine voxels."""
    if major:
        f = float(rng.uniform(1.5, 6.0))
        profile = str(rng.choice(['box', 'gaussian', 'point'], p=[0.4, 0.45, 0.15]))
    else:
        f = float(rng.uniform(1.25, 3.0))
        profile = str(rng.choice(['box', 'gaussian', 'point'], p=[0.7, 0.2, 0.1]))
    width = f if (rng.random() < 0.6 or not major) else f * float(rng.uniform(0.6, 1.6))
    return f, profile, width


def place(rng: np.random.Generator, n: int, spacing: float, profile: str, width: float) -> AxisAcquisition:
    """Samples every `spacing` fine voxels from a random phase, covering the n voxels."""
    first = float(rng.uniform(-0.5, -0.5 + spacing))
    count = int(math.floor((n - 0.5 - first) / spacing)) + 1
    return AxisAcquisition(count, first, spacing, profile, width)


class PairSampler:
    def __init__(self, volumes: list, seed: int, patch: int = PATCH):
        self.vols = volumes
        self.rng = np.random.default_rng(seed)
        self.patch = patch
        # per volume: None (near-isotropic) or the (rows, cols) of its fine plane
        self.planes = [in_plane_axes(spacing) for _, _, spacing in volumes]
        sizes = np.array([v.size for _, v, _ in volumes], np.float64)
        big = sizes > 2e6
        # big scans 70 % of the time, in proportion to their size; small crops share the rest
        w = np.where(big, 0.7 * sizes / max(sizes[big].sum(), 1), 0.3 / max((~big).sum(), 1))
        if not big.any() or big.all():
            w = sizes / sizes.sum()
        self.weights = w / w.sum()

    def pair(self):
        rng, P = self.rng, self.patch
        for _ in range(100):
            v = int(rng.choice(len(self.vols), p=self.weights))
            vol, plane = self.vols[v][1], self.planes[v]
            normal = int(rng.integers(3)) if plane is None else ({0, 1, 2} - set(plane)).pop()
            rows, cols = [a for a in range(3) if a != normal][:: (1 if rng.random() < 0.5 else -1)]
            prof_n = random_profile(rng, False) if plane is None and rng.random() < 0.25 else None
            margin = 0 if prof_n is None else int(math.ceil(1.5 * max(prof_n[0], prof_n[2]))) + 2
            depth = 1 if plane is not None else 3 + 2 * margin
            if vol.shape[rows] < P or vol.shape[cols] < P or vol.shape[normal] < depth:
                continue
            o = [0, 0, 0]
            o[rows] = int(rng.integers(0, vol.shape[rows] - P + 1))
            o[cols] = int(rng.integers(0, vol.shape[cols] - P + 1))
            o[normal] = int(rng.integers(0, vol.shape[normal] - depth + 1))
            size = [0, 0, 0]
            size[rows], size[cols], size[normal] = P, P, depth
            slab = np.asarray(vol[o[0]:o[0] + size[0], o[1]:o[1] + size[1], o[2]:o[2] + size[2]])
            slab = np.transpose(slab, (normal, rows, cols))
            centre = slab[depth // 2]
            c0 = (P - CROP) // 2
            if (centre[c0:c0 + CROP, c0:c0 + CROP] > -0.5).mean() < 0.3:
                continue
            break
        x = torch.from_numpy(np.ascontiguousarray(slab, dtype=np.float32))
        if rng.random() < 0.5:
            x = x.flip(1)
        if rng.random() < 0.5:
            x = x.flip(2)
        ax_a = place(rng, P, *random_profile(rng, True))
        ax_b = place(rng, P, *random_profile(rng, False)) if rng.random() < 0.35 else identity_axis(P)
        ax_n = identity_axis(depth) if prof_n is None else place(rng, depth, *prof_n)
        acq = Acquisition(x.shape, [ax_n, ax_a, ax_b])
        y = acq.down(x)
        u = acq.back_project(y)
        m = depth // 2
        feats = torch.tensor(plane_features(ax_a, ax_b, ax_n), dtype=torch.float32)
        if plane is not None:  # in-plane scan: the centre stands in for its fine neighbours
            return u[0:1].expand(3, -1, -1).clone(), x[0].clone(), feats
        return u[m - 1:m + 2].clone(), x[m].clone(), feats

    def batch(self, n: int):
        us, xs, fs = zip(*[self.pair() for _ in range(n)])
        return torch.stack(us), torch.stack(xs)[:, None], torch.stack(fs)


def warm_start_state(path: str) -> tuple[dict, str]:
    """-> (refiner state dict, where it came from) from a checkpoint's EMA weights (.pt) or from
    an exported refiner.onnx (the committed model's checkpoints are not in git)."""
    if path.endswith('.onnx'):
        src = refiner_from_onnx(path)
        shape = refiner_shape(src.state_dict())
        return src.state_dict(), f'ONNX, {shape["blocks"]} blocks of {shape["channels"]} channels'
    ck = torch_load(path)
    return ck['ema'], f'checkpoint step {ck["step"]}'


def grow_into(net, state: dict) -> int:
    """Loads state into net; a net with more residual blocks than the state keeps its extra
    blocks' first convolution random and zeroes their second, so each new block starts as the
    identity (the grown network computes what the source did) and still receives gradients.
    Returns the number of new blocks; any other mismatch raises."""
    import torch
    own = net.state_dict()
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise ValueError(f'warm start: the source has weights this refiner lacks: {unknown[:4]}')
    wrong = [k for k in state if tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        raise ValueError(f'warm start: shape mismatch for {wrong[:4]} (channels and context must match)')
    new = sorted(k for k in own if k not in state)
    if any(not k.startswith('body.') for k in new):
        raise ValueError(f'warm start: the source lacks {[k for k in new if not k.startswith("body.")][:4]}')
    own.update(state)
    for k in new:
        if '.b.' in k:
            own[k] = torch.zeros_like(own[k])
    net.load_state_dict(own)
    return len({k.split('.')[1] for k in new})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True)
    ap.add_argument('--minutes', type=float, help='training budget (default: the config)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--checkpoint-dir')
    ap.add_argument('--data-root')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--fresh', action='store_true', help='ignore an existing last.pt')
    ap.add_argument('--warm-start', help="a refiner checkpoint whose EMA weights start a new run")
    ap.add_argument('--lr', type=float, help='peak learning rate (default: the config)')
    ap.add_argument('--packed', help='train on the volumes packed by ldm.refiner_pack in this folder')
    ap.add_argument('--batch-size', type=int, help='pairs per step (default: the config)')
    ap.add_argument('--workers', type=int, help='processes making training pairs beside the loop '
                    '(0: in the loop; default: the config\'s refiner.workers, else 0)')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=JSON',
                    help='override one config value by its dotted path, e.g. refiner.blocks=9 (repeatable; '
                    'repeat it when resuming)')
    args = ap.parse_args(argv)
    cfg = apply_overrides(load_config(args.config), args.set)
    r = cfg['refiner']
    if args.lr:
        r['lr'] = args.lr
    if args.batch_size:
        r['batch_size'] = args.batch_size
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    out = ckpt_dir(cfg, args.checkpoint_dir, 'refiner')
    log = Logger(out)
    minutes = float(args.minutes or r['max_minutes'])
    vols = load_packed(args.packed, log) if args.packed else training_volumes(cfg, args.data_root, log)
    log({'info': f'{len(vols)} volumes: ' + ', '.join(f'{n} {list(v.shape)}' for n, v, _ in vols[:4]) + ' ...'})

    net = build_refiner(cfg).to(dev)
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.Adam(net.parameters(), r['lr'])
    seed, sampler_state = cfg.get('seed', 0) + 17, None
    workers = args.workers if args.workers is not None else int(r.get('workers', 0))
    step, elapsed = 0, 0.0
    last = os.path.join(out, 'last.pt')
    if os.path.exists(last) and not args.fresh:
        ck = torch_load(last)
        have, want = refiner_shape(ck['model']), refiner_shape(net.state_dict())
        if have != want:
            raise SystemExit(f'{last} holds a refiner of {have}, the config asks for {want}: '
                             'repeat the run\'s --set options, or --fresh')
        net.load_state_dict(ck['model'])
        ema.load_state_dict(ck['ema'])
        opt.load_state_dict(ck['opt'])
        step, elapsed = ck['step'], ck['elapsed']
        # one numpy state (pairs made in the loop) or {'workers': one state per worker}
        saved_workers = ck['sampler'].get('workers')
        if (len(saved_workers) if saved_workers is not None else 0) == workers:
            sampler_state = saved_workers if workers else ck['sampler']
        else:  # another worker count: fresh seeds, offset so the pairs of the first run do not repeat
            seed += 1000 * step
            log({'info': f'sampler state saved for another worker count; pairs drawn from seed {seed}'})
        restore_rng_states(ck)
        log({'info': f'resumed at step {step}, {elapsed / 60:.1f} min'})
    elif args.warm_start:
        state, origin = warm_start_state(args.warm_start)
        grown = grow_into(net, state)
        ema.load_state_dict(net.state_dict())
        log({'info': f'warm start from {args.warm_start} ({origin}), peak lr {r["lr"]}'
                     + (f', {grown} new residual blocks start as the identity' if grown else '')})
    log({'info': f'refiner {count_parameters(net)} parameters, budget {minutes} min, autocast bf16 {r["bf16"]}, '
                 f'{workers} pair worker(s), {args.threads} thread(s)'})
    pool = sampler = None
    if workers:
        pool = PairWorkers(lambda s: PairSampler(vols, s), seed, workers, r['batch_size'], sampler_state, start=step)
    else:
        sampler = PairSampler(vols, seed)
        if sampler_state is not None:
            sampler.rng.bit_generator.state = sampler_state

    def checkpoint():
        state = {'workers': pool.states()} if pool else sampler.rng.bit_generator.state
        save_checkpoint({'model': net.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(), 'step': step,
                         'elapsed': elapsed, 'sampler': state, 'config': cfg, **rng_states(dev)}, last)

    stop = StopFlag()
    c0 = (PATCH - CROP) // 2
    crop = (slice(None), slice(None), slice(c0, c0 + CROP), slice(c0, c0 + CROP))
    ratio_ema, t_data, t_step = None, 0.0, 0.0
    t_start = time.time() - elapsed
    while elapsed < minutes * 60 and not stop.stop:
        lr = lr_at(elapsed / (minutes * 60), r['lr'], r['lr_min'])
        for g in opt.param_groups:
            g['lr'] = lr
        t0 = time.time()
        u, x, f = (t.to(dev) for t in (pool.batch() if pool else sampler.batch(r['batch_size'])))
        t1 = time.time()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bool(r['bf16'])):
            pred = net(u, f)
        loss = (pred.float()[crop] - x[crop]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema_update(ema, net, step, r['ema'])
        with torch.no_grad():
            base = (u[:, 1:2][crop] - x[crop]).abs().mean()
        t_data += t1 - t0
        t_step += time.time() - t1
        ratio = float(loss / base)
        ratio_ema = ratio if ratio_ema is None else 0.98 * ratio_ema + 0.02 * ratio
        step += 1
        elapsed = time.time() - t_start
        if step % r['log_every'] == 0:
            log({'step': step, 'minutes': elapsed / 60, 'loss_hu': float(loss) * HU_SCALE,
                 'loss_over_backprojection': ratio_ema, 'lr': lr, 'data_s': t_data / r['log_every'],
                 'step_s': t_step / r['log_every']})
            t_data = t_step = 0.0
        if step % r['ckpt_every'] == 0:
            checkpoint()
    checkpoint()
    if pool:
        pool.close()
    log({'info': f'stopped at step {step}, {elapsed / 60:.1f} min', 'done': elapsed >= minutes * 60})


if __name__ == '__main__':
    main()
