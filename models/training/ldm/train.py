"""One command, one config file, two stages; logs losses, checkpoints outside git, resumable.

    cd models/training
    nice -n 10 /usr/bin/python3 -m ldm.train --config configs/demo.json --stage autoencoder [--resume]
    nice -n 10 /usr/bin/python3 -m ldm.train --config configs/demo.json --stage diffusion [--resume]

Options: --threads N (default 1), --checkpoint-dir DIR (overrides the config),
--device cuda (PyTorch 2.x on a GPU), --data-root DIR (your own data: see README).
Checkpoints: <checkpointDir>/{autoencoder,diffusion}/last.pt (+ log.jsonl).
Resuming continues from last.pt with the optimizer, iteration, RNG and elapsed time
(on CPU or CUDA: checkpoints load onto the CPU, the torch CPU RNG state and, when CUDA is
in use, the CUDA RNG states are saved and restored separately).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from . import geometry as G
from .losses import (adaptive_weight, bone_threshold, bone_weights, hinge_d_loss, hinge_g_loss, spectral_loss,
                     weighted_recon_loss)
from .schedule import Schedule
from .unet import UNet3d
from .vqgan import PatchDiscriminator, VQAutoencoder

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def load_config(path):
    with open(path) as f:
        return json.load(f)


def apply_overrides(cfg, items):
    """`--set a.b=VALUE` overrides: VALUE is JSON (a bare word is taken as a string). Only keys that
    already exist may be set, so a typo fails loudly instead of training with the default."""
    for item in items:
        key, sep, raw = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'--set {item!r}: expected KEY=VALUE')
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node, parts = cfg, key.split('.')
        for part in parts[:-1]:
            if not isinstance(node.get(part) if isinstance(node, dict) else None, dict):
                raise SystemExit(f'--set {key}: no config section {part!r}')
            node = node[part]
        if parts[-1] not in node:
            raise SystemExit(f'--set {key}: no such config key')
        node[parts[-1]] = value
    return cfg


def build_autoencoder(cfg):
    a = cfg['autoencoder']
    return VQAutoencoder(widths=tuple(a['widths']), n_res=a['n_res'], z_ch=a['z_ch'], n_codes=a['n_codes'],
                         decay=a['ema_decay'], quantise=a.get('quantise', True),
                         latent_noise=a.get('latent_noise', 0.0))


def load_autoencoder(cfg, path: str):
    """An autoencoder checkpoint -> (autoencoder with its weights, checkpoint). Built from the config the
    checkpoint was trained with when it has one (its widths, hence its latent factor, may differ from
    `cfg`'s: a run with --set autoencoder.widths=...), else from `cfg`."""
    ck = torch_load(path)
    ae = build_autoencoder(ck.get('config') or cfg)
    ae.load_state_dict(ck['model'])
    return ae, ck


def build_unet(cfg):
    d = cfg['diffusion']
    return UNet3d(z_ch=cfg['autoencoder']['z_ch'], coord_ch=3, widths=tuple(d['widths']), n_res=d['n_res'],
                  heads=d['heads'], temb_ch=d.get('temb_ch'), norm_group_div=d.get('norm_group_div', 1))


def build_schedule(cfg):
    return Schedule.from_config(cfg)


def ckpt_dir(cfg, override, stage):
    base = override or cfg.get('checkpointDir') or os.path.join(REPO, 'models', 'checkpoints', cfg['name'])
    if not os.path.isabs(base):
        base = os.path.join(REPO, base)
    d = os.path.join(base, stage)
    os.makedirs(d, exist_ok=True)
    return d


class StopFlag:
    """SIGTERM/SIGINT -> finish the current iteration, save last.pt, exit (resume later)."""

    def __init__(self):
        import signal
        self.stop = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._set)

    def _set(self, *_):
        self.stop = True


class Logger:
    def __init__(self, directory):
        self.path = os.path.join(directory, 'log.jsonl')

    def __call__(self, rec: dict):
        rec = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in rec.items()}
        print(json.dumps(rec), flush=True)
        with open(self.path, 'a') as f:
            f.write(json.dumps(rec) + '\n')


def lr_at(progress: float, lr: float, lr_min: float, warmup: float = 0.02) -> float:
    """The learning rate of every stage: a linear warm-up over the first 2 % of the budget, then a
    cosine from lr to lr_min; progress is the fraction of the run's time budget spent."""
    if progress < warmup:
        return lr * max(progress / warmup, 0.05)
    p = min(1.0, (progress - warmup) / (1 - warmup))
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * p))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, step: int, max_decay: float) -> None:
    """One exponential-moving-average update of ema towards model after optimiser step `step`
    (0-based); the decay ramps up as (1 + step) / (10 + step) to max_decay, so early weights fade
    fast. Buffers are copied."""
    decay = min(max_decay, (1 + step) / (10 + step))
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(p.detach(), alpha=1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def torch_load(path, map_location='cpu'):
    """torch.load of our own checkpoints (PyTorch >= 2.6 defaults to weights_only=True,
    which refuses the RNG states and configs stored in them)."""
    import inspect
    if 'weights_only' in inspect.signature(torch.load).parameters:
        return torch.load(path, map_location=map_location, weights_only=False)
    return torch.load(path, map_location=map_location)


def rng_states(dev) -> dict:
    """torch RNG states for a checkpoint: the CPU generator, plus every CUDA generator when
    training on CUDA (both are CPU ByteTensors)."""
    st = {'torch_rng': torch.get_rng_state()}
    if torch.device(dev).type == 'cuda' and torch.cuda.is_available():
        st['cuda_rng'] = torch.cuda.get_rng_state_all()
    return st


def restore_rng_states(ck: dict) -> None:
    """Inverse of rng_states. torch.set_rng_state / torch.cuda.set_rng_state_all only
    accept CPU ByteTensors, so any state that was mapped to another device comes back
    to the CPU first (a checkpoint loaded with map_location='cuda' would otherwise fail).
    CUDA states are restored only where CUDA is available (a CUDA checkpoint can resume
    on a CPU-only machine, without them)."""
    torch.set_rng_state(ck['torch_rng'].cpu())
    cuda = ck.get('cuda_rng')
    if cuda is not None and torch.cuda.is_available():
        cuda = [s.cpu() for s in cuda][: torch.cuda.device_count()]
        for i, s in enumerate(cuda):
            torch.cuda.set_rng_state(s, i)


# A slim checkpoint (ldm.slim_checkpoint) has the weights, the iteration count and the minutes but no
# optimiser or random-generator states: training goes on from its weights on the same learning-rate
# schedule with Adam's moments rebuilt from zero and fresh draws (not bit-identical to an unbroken run).
SLIM_RESUME = 'slim checkpoint: fresh optimiser state and draws'


def restore_training_state(ck: dict, opt, restore_stage) -> str:
    """What a resume restores beside the weights (both stages): from a full checkpoint the
    optimiser, the stage's own state (`restore_stage(ck)`: its data draws, a discriminator) and
    the RNGs; a slim one (slim_checkpoint.py: weights only) keeps the fresh ones. -> what the
    resume log adds."""
    if 'opt' not in ck:
        return f', {SLIM_RESUME}'
    opt.load_state_dict(ck['opt'])
    restore_stage(ck)
    restore_rng_states(ck)
    return ''


def save_atomic(obj, path):
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def non_finite_weights(obj: dict, keys=('model', 'ema')) -> list:
    """'<key>.<tensor name>' of every floating-point tensor in obj[key] that holds a NaN or inf."""
    bad = []
    for key in keys:
        for name, v in (obj.get(key) or {}).items():
            if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
                bad.append(f'{key}.{name}')
    return bad


def save_checkpoint(obj: dict, path: str) -> None:
    """save_atomic for a training checkpoint, refusing weights that are not finite: the checkpoint
    already there (the last finite one) stays, and the run stops saying where it went wrong."""
    bad = non_finite_weights(obj)
    if bad:
        raise SystemExit(f'non-finite weights at iter {obj.get("iter", obj.get("step"))} ({len(bad)} tensors, '
                         f'e.g. {", ".join(bad[:3])}): {path} not overwritten')
    save_atomic(obj, path)


def data_from_cfg(cfg, root=None, log=print, scan_list=None):
    """scan_list overrides data.scans (the diffusion stage may learn from its own list)."""
    dc = cfg['data']
    intensity = D.Intensity(**dc['intensity'])
    scans = D.load_training_scans(root or dc.get('root'), intensity, log=lambda m: log({'info': m}),
                                  scan_list=scan_list or dc.get('scans'))
    return scans, intensity, D.AugmentConfig.from_json(dc['augment'])


# ----------------------------------------------------------------- stage 1: autoencoder

def train_autoencoder(cfg, args):
    a = cfg['autoencoder']
    out = ckpt_dir(cfg, args.checkpoint_dir, 'autoencoder')
    log = Logger(out)
    dev = torch.device(args.device)
    torch.manual_seed(cfg['seed'])
    scans, intensity, aug = data_from_cfg(cfg, args.data_root, log)
    sampler = D.Sampler(scans, aug, seed=cfg['seed'])
    if getattr(args, 'set', None):
        log({'info': f'config overrides: {args.set}'})
    resuming = args.resume and os.path.exists(os.path.join(out, 'last.pt'))
    if args.init_from and not resuming:
        # fine-tuning: the exported weights, a fresh optimiser and learning-rate schedule
        model, _ = autoencoder_from_model(cfg, args.init_from)
        model = model.to(dev)
        log({'info': f'autoencoder warm-started from {args.init_from}'})
    else:
        model = build_autoencoder(cfg).to(dev)
    # train_parts 'decoder': the encoder and the codebook stay frozen, so every latent (and the
    # UNet trained on them) stays valid; only the decoder learns (e.g. a VQ-GAN adversarial term)
    decoder_only = a.get('train_parts', 'all') == 'decoder'
    if a.get('train_parts', 'all') not in ('all', 'decoder'):
        raise ValueError(f"autoencoder.train_parts must be 'all' or 'decoder', not {a['train_parts']!r}")
    trained = model.decoder if decoder_only else model
    if decoder_only:
        model.encoder.requires_grad_(False)
    opt = torch.optim.Adam(trained.parameters(), lr=a['lr'], betas=(0.5, 0.9))
    rec_kind = a.get('recon_loss', 'l2')
    if rec_kind not in ('l1', 'l2'):
        raise ValueError(f"autoencoder.recon_loss must be 'l1' or 'l2', not {rec_kind!r}")
    # bone_weight > 0: voxels at >= bone_hu in the target weigh 1 + bone_weight in the loss
    bone_w = float(a.get('bone_weight', 0.0))
    bone_at = bone_threshold(intensity, a.get('bone_hu', 200.0))
    # bf16 autocast (CPUs with avx512_bf16, GPUs): about 2.2x faster per step on a 2-core EPYC
    # with avx512_bf16 (64^3, batch 2); losses and the codebook stay float32
    bf16 = bool(a.get('bf16', False))
    disc = d_opt = None
    if a.get('adversarial_weight', 0) > 0:
        disc = PatchDiscriminator().to(dev)
        d_opt = torch.optim.Adam(disc.parameters(), lr=a['lr'], betas=(0.5, 0.9))
    it, elapsed = 0, 0.0
    last = os.path.join(out, 'last.pt')
    if args.resume and os.path.exists(last):
        ck = torch_load(last)  # CPU; load_state_dict copies onto the model's device
        model.load_state_dict(ck['model'])
        it, elapsed = ck['iter'], ck['elapsed']

        def restore_stage(ck):
            if disc is not None and ck.get('disc'):
                disc.load_state_dict(ck['disc'])
                d_opt.load_state_dict(ck['d_opt'])
            sampler.set_state(ck['sampler'])

        note = restore_training_state(ck, opt, restore_stage)
        log({'info': f'resumed at iter {it}, {elapsed / 60:.1f} min{note}'})
    model.train()
    if decoder_only:
        model.encoder.eval()
        model.vq.eval()  # no EMA updates, no code restarts
    t0 = time.time() - elapsed
    acc = {}

    def checkpoint():
        save_checkpoint({'model': model.state_dict(), 'opt': opt.state_dict(),
                         'disc': disc.state_dict() if disc is not None else None,
                         'd_opt': d_opt.state_dict() if d_opt is not None else None,
                         'iter': it, 'elapsed': time.time() - t0, 'sampler': sampler.state(),
                         **rng_states(dev), 'config': cfg}, last)

    stop = StopFlag()
    while it < a['max_iters'] and (time.time() - t0) < a['max_minutes'] * 60 and not stop.stop:
        progress = max(it / a['max_iters'], (time.time() - t0) / (a['max_minutes'] * 60))
        lr = lr_at(progress, a['lr'], a['lr_min'])
        for g in opt.param_groups:
            g['lr'] = lr
        image, coords, _ = sampler.batch(a['batch_size'])
        image, coords = image.to(dev), coords.to(dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            if decoder_only:
                with torch.no_grad():
                    z = model.encoder(torch.cat([image, coords], 1))
                    with torch.autocast(device_type=dev.type, enabled=False):
                        if model.quantise:
                            q, commit, perplexity = model.vq(z.float())
                        else:
                            q, commit, perplexity = z, torch.zeros((), device=dev), torch.zeros((), device=dev)
                recon = model.decoder(q)
            else:
                recon, commit, perplexity = model(image, coords)
        recon = recon.float()
        l2 = weighted_recon_loss('l2', recon, image)  # logged whatever the training loss
        spec = spectral_loss(recon, image)
        w = bone_weights(image, bone_at, bone_w) if bone_w > 0 else None
        rec = weighted_recon_loss(rec_kind, recon, image, w) + a['spectral_weight'] * spec
        loss = rec + a['commitment'] * commit
        adv = torch.zeros((), device=dev)
        adv_w = torch.zeros((), device=dev)
        use_adv = disc is not None and it >= a['adversarial_start']
        if use_adv:
            # the discriminator runs in float32: GroupNorm has no CPU bf16 autocast path in torch 1.13
            adv = hinge_g_loss(disc(recon))
            adv_w = torch.tensor(float(a['adversarial_weight']), device=dev)
            if a.get('adversarial_adaptive', False):
                adv_w = adv_w * adaptive_weight(rec, adv, model.decoder.net[-1].weight)
            loss = loss + adv_w * adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        opt.step()
        # the discriminator learns from the start: by adversarial_start it can tell real from decoded
        if disc is not None:
            d_loss = hinge_d_loss(disc(image), disc(recon.detach()))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            acc['d_loss'] = acc.get('d_loss', 0.0) + float(d_loss)
        it += 1
        for k, v in (('loss', loss), ('l2', l2), ('spectral', spec), ('commit', commit), ('perplexity', perplexity),
                     ('adv', adv), ('adv_w', adv_w)):
            acc[k] = acc.get(k, 0.0) + float(v)
        acc['mae_hu'] = acc.get('mae_hu', 0.0) + float((recon - image).abs().mean()) * (intensity.hi - intensity.lo)
        if it % a['log_every'] == 0:
            rec = {'stage': 'autoencoder', 'iter': it, 'min': (time.time() - t0) / 60, 'lr': lr,
                   'grid': list(image.shape[2:])}
            rec.update({k: v / a['log_every'] for k, v in acc.items()})
            log(rec)
            acc = {}
        if it % a['ckpt_every'] == 0:
            checkpoint()
    checkpoint()
    log({'info': f'autoencoder {"stopped" if stop.stop else "done"}: iter {it}, {(time.time() - t0) / 60:.1f} min',
         'done': not stop.stop})


# ----------------------------------------------------------------- stage 2: latent diffusion

def is_codebook(key: str) -> bool:
    return key.startswith('vq.')


def autoencoder_from_model(cfg, model_dir, manifest=None):
    """The autoencoder of an exported model, rebuilt from its encoder/decoder ONNX files.
    The codebook's EMA statistics are not in the ONNX files: they restart as one use per code
    (each code its own running mean), so a fine-tuning run keeps the codebook and lets codes it
    no longer uses be restarted as usual. `manifest`: its model.json when the caller has read it.
    -> (VQAutoencoder, manifest)"""
    from .onnx_weights import load_from_onnx
    from .vqgan import ExportDecoder, ExportEncoder
    if manifest is None:
        with open(os.path.join(model_dir, 'model.json')) as f:
            manifest = json.load(f)
    path = lambda part: os.path.join(model_dir, manifest['files'][part]['path'])
    ae = build_autoencoder(cfg)
    # a continuous-latent encoder (latent.quantised false) has no codebook in its file
    ae.quantise = bool(manifest.get('latent', {}).get('quantised', True))
    load_from_onnx(ExportEncoder(ae), path('encoder'), optional=None if ae.quantise else is_codebook)
    dec = ExportDecoder(ae)  # its up-convolutions are copies in shuffle form: map them back
    load_from_onnx(dec, path('decoder'))
    ae.decoder.load_export_form(dec.net)
    with torch.no_grad():
        ae.vq.cluster_size.fill_(1.0)
        ae.vq.embed_avg.copy_(ae.vq.embedding)
        ae.vq.initialised.fill_(True)
    return ae, manifest


def init_from_model(cfg, model_dir, ae_ck, log, unet=True):
    """Warm start from an exported model whose checkpoints are gone: the autoencoder is
    rebuilt from its encoder/decoder ONNX files and written as the autoencoder checkpoint
    (only when none exists), the UNet weights and the latent scale come from unet.onnx and
    model.json. -> {'unet': state_dict, 'latent_scale': float}, or None with unet=False (a UNet
    of another architecture trained from scratch on the exported autoencoder's latents). A UNet
    with more residual blocks per level than the exported one is grown (load_unet_growing)."""
    with open(os.path.join(model_dir, 'model.json')) as f:
        manifest = json.load(f)
    if not os.path.exists(ae_ck):
        ae, _ = autoencoder_from_model(cfg, model_dir, manifest)
        m = manifest.get('metrics') or {}  # its training record travels with the weights
        save_atomic({'model': ae.state_dict(), 'iter': int(m.get('autoencoderIterations') or 0),
                     'elapsed': 60.0 * float(m.get('autoencoderTrainingMinutes') or 0), 'from_onnx': model_dir,
                     'config': cfg}, ae_ck)
        log({'info': f'autoencoder checkpoint rebuilt from {model_dir} ONNX files'})
    if not unet:
        return None
    unet = build_unet(cfg)
    path = os.path.join(model_dir, manifest['files']['unet']['path'])
    k = unet_widening(cfg, path)
    parent = build_unet(narrowed_config(cfg, k)) if k > 1 else unet
    added = load_unet_growing(parent, path)
    if added:
        log({'info': f'UNet: {len(added)} residual blocks not in {model_dir} start as the identity: {added}'})
    if k > 1:
        from .widen import widen_unet
        widen_unet(parent, unet, k, torch.Generator().manual_seed(int(cfg.get('seed', 0))))
        log({'info': f'UNet: {model_dir} widened {k}x (widths {list(parent_widths(cfg, k))} -> '
                     f'{list(cfg["diffusion"]["widths"])}), computing what it computed'})
    return {'unet': unet.state_dict(), 'latent_scale': float(manifest['latent']['scale'])}


def parent_widths(cfg, k: int) -> tuple:
    return tuple(w // k for w in cfg['diffusion']['widths'])


def narrowed_config(cfg, k: int):
    """The config of the UNet that `cfg`'s UNet is a k-fold widening of (ldm/widen.py)."""
    out = copy.deepcopy(cfg)
    d = out['diffusion']
    d['widths'] = list(parent_widths(cfg, k))
    d['norm_group_div'] = d.get('norm_group_div', 1) // k
    return out


def unet_widening(cfg, path: str) -> int:
    """How many times wider the configured UNet is than the one in unet.onnx at `path` (1: the
    same). A wider one must be an exact widening (ldm/widen.py): every width that multiple, the
    parent's timestep-embedding size and group counts kept; else SystemExit saying what to set."""
    from .onnx_weights import onnx_constants
    consts = onnx_constants(path)
    inp, temb = consts.get('inp.weight'), consts.get('temb.0.weight')
    if inp is None:
        raise SystemExit(f'{path}: no inp.weight, not a UNet written by ldm/export.py')
    d = cfg['diffusion']
    w0, have = int(d['widths'][0]), int(inp.shape[0])
    if w0 == have:
        return 1
    k = w0 // have
    file_temb = int(temb.shape[1]) if temb is not None else None
    level = [consts.get(f'down_blocks.{i}.0.c1.weight') for i in range(len(d['widths']))]
    file_widths = [int(a.shape[0]) if a is not None else None for a in level]
    if (w0 % have or [k * w if w else None for w in file_widths] != [int(w) for w in d['widths']]
            or d.get('norm_group_div', 1) != k or int(d.get('temb_ch') or w0) != file_temb):
        raise SystemExit(f'diffusion.widths {list(d["widths"])} against {path} (widths {file_widths}): a wider UNet '
                         f'must multiply every width by one whole factor and set diffusion.norm_group_div to it and '
                         f'diffusion.temb_ch to the file\'s {file_temb} (ldm/widen.py)')
    return k


def load_unet_growing(unet, path: str) -> list:
    """unet.onnx's weights into `unet`, which may have more residual blocks per level
    (diffusion.n_res) than the exported UNet: a block the file lacks (the second and later of a
    level) starts as the identity (its last convolution zero, its input and output widths equal),
    so the grown UNet computes what the exported one does. -> names of the added blocks"""
    from .onnx_weights import load_state_over, onnx_state
    from .unet import TResBlock
    extra = [name for name, m in unet.named_modules() if isinstance(m, TResBlock)
             and name.split('.')[0] in ('down_blocks', 'up_blocks') and int(name.split('.')[2]) >= 1]
    state, _ = onnx_state(path, unet, optional=lambda k: any(k.startswith(b + '.') for b in extra))
    full = load_state_over(unet, state)
    added = []
    for name in extra:
        keys = [k for k in full if k.startswith(name + '.')]
        have = [k for k in keys if k in state]
        if have and len(have) != len(keys):
            raise ValueError(f'{path}: block {name} only partly there ({len(have)} of {len(keys)} tensors)')
        if have:
            continue
        blk = unet.get_submodule(name)
        if not isinstance(blk.skip, torch.nn.Identity):
            raise ValueError(f'{path}: block {name} is not in the file and changes the width: cannot start as the identity')
        with torch.no_grad():
            blk.c2.weight.zero_()
            blk.c2.bias.zero_()
        added.append(name)
    return added


def cache_bucket_grids(cfg, aug):
    """The augmentation config of each latent bucket, in drawing order: `latent_buckets` at the data
    config's grid range, then each of `diffusion.latent_grid_groups` ({"grid_min", "grid_max",
    "buckets"}, optionally "fov_min" and "fov_max": larger images, so that the UNet also sees the
    latent grids that generation at 96-128 voxels asks of it, or smaller fields of view, so that it
    sees the fine spacings super-resolution encodes). The extra groups come last, so the first
    buckets stay the ones a config without them draws."""
    d = cfg['diffusion']
    out = [aug] * d['latent_buckets']
    required, optional = {'grid_min', 'grid_max', 'buckets'}, {'fov_min', 'fov_max'}
    for g in d.get('latent_grid_groups', []):
        if set(g) - required - optional or not required <= set(g):
            raise SystemExit(f'diffusion.latent_grid_groups: each group needs exactly grid_min, grid_max, '
                             f'buckets (and optionally fov_min, fov_max); got {sorted(g)}')
        if not (g['grid_min'] <= g['grid_max'] and g['grid_min'] % aug.grid_multiple == 0
                and g['grid_max'] % aug.grid_multiple == 0 and g['buckets'] >= 1):
            raise SystemExit(f'diffusion.latent_grid_groups: {g} is not a range of multiples of '
                             f'{aug.grid_multiple} with at least one bucket')
        fov = (g.get('fov_min', aug.fov_min), g.get('fov_max', aug.fov_max))
        if not 0 < fov[0] <= fov[1] <= 1:
            raise SystemExit(f'diffusion.latent_grid_groups: {g}: need 0 < fov_min <= fov_max <= 1 '
                             f'(fractions of the scan extent)')
        out += [dataclasses.replace(aug, grid_min=g['grid_min'], grid_max=g['grid_max'],
                                    fov_min=fov[0], fov_max=fov[1])] * g['buckets']
    return out


def latent_bone_fraction(image: torch.Tensor, factor: int, threshold: float) -> torch.Tensor:
    """(B, 1, *latent grid) fraction of each latent voxel's factor^3 image block at or above
    `threshold` (model units): where bone is, for a loss that weighs it (diffusion.bone_weight)."""
    return F.avg_pool3d((image >= threshold).float(), factor)


@torch.no_grad()
def build_latent_cache(cfg, ae, sampler, dev, log, prefix=()):
    """Encoded crops, one bucket (same grid) per entry of cache_bucket_grids: (latents,
    conditioning, bone fraction per latent voxel). The bone fraction is kept whatever this run's
    diffusion.bone_weight (one pooling per crop, next to an encoder pass): a cache is reused by
    later runs and --latent-cache-prefix, which may weigh bone. `prefix`: buckets already encoded
    by the same autoencoder (another run's cache): they stand for the first len(prefix) buckets,
    and only the rest are drawn and encoded (from the sampler's own state, so not the crops a full
    build would draw there)."""
    bone_at = bone_threshold(D.Intensity(**cfg.get('data', {}).get('intensity', {})),
                             cfg['diffusion'].get('bone_hu', 200.0))
    grids = cache_bucket_grids(cfg, sampler.cfg)
    if len(prefix) > len(grids):
        raise SystemExit(f'latent cache prefix has {len(prefix)} buckets, the config only {len(grids)}')
    buckets = list(prefix)
    for b, aug in enumerate(grids):
        if b < len(prefix):
            continue
        dims = D.random_dims(sampler.rng, aug)
        zs, cs, fs = [], [], []
        for _ in range(cfg['diffusion']['latent_per_bucket']):
            image, coords, items = sampler.batch(1, dims)
            z = ae.encode(image.to(dev), coords.to(dev)).cpu()
            r = items[0]['resolved']
            zs.append(z[0])
            cs.append(torch.from_numpy(G.latent_conditioning(r.dims, r.index_to_group, ae.factor)))
            fs.append(latent_bone_fraction(image, ae.factor, bone_at)[0])
        buckets.append((torch.stack(zs), torch.stack(cs), torch.stack(fs)))
        if (b + 1) % 10 == 0:
            log({'info': f'latent cache: {b + 1}/{len(grids)} buckets'})
    return buckets


def draw_timesteps(T: int, n: int, device, t_power: float = 1.0) -> torch.Tensor:
    """n training timesteps in 0..T-1: uniform for t_power 1 (the DDPM objective); otherwise
    t = floor(T * u^t_power), u ~ U[0, 1), so t_power > 1 draws low noise (small t) more often and
    t_power < 1 high noise (P(t < k) = (k / T)^(1 / t_power)), with every t still drawn."""
    if t_power == 1.0:
        return torch.randint(0, T, (n,), device=device)
    u = torch.rand(n, device=device, dtype=torch.float64)
    return (T * u ** t_power).floor().long().clamp_(0, T - 1)


def noisy_batch(sched: Schedule, z0: torch.Tensor, t_power: float = 1.0):
    """One DDPM training draw: t from draw_timesteps (uniform unless t_power), eps ~ N(0, 1),
    z_t = q_sample(z0, t, eps), all on z0's device (the model's)."""
    t = draw_timesteps(sched.T, z0.shape[0], z0.device, t_power)
    eps = torch.randn_like(z0)
    return sched.q_sample(z0, t, eps), t, eps


MAX_SKIPPED_IN_A_ROW = 20


def eps_loss(pred: torch.Tensor, eps: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared eps error; with a per-latent-voxel `weight` (B, 1, *grid) the weighted mean
    sum(w * err) / sum(w) over the batch's voxels and channels, so that the loss keeps the plain
    MSE's scale (and the learning rate its meaning) whatever the weights."""
    err = (pred.float() - eps) ** 2
    if weight is None:
        return err.mean()
    w = weight.to(err.dtype).expand_as(err)
    return (w * err).sum() / w.sum()


def diffusion_step(unet, opt, sched: Schedule, z0: torch.Tensor, coords: torch.Tensor, bf16: bool,
                   weight: torch.Tensor | None = None, t_power: float = 1.0):
    """One optimiser step of the eps-prediction loss (eps_loss, optionally weighted per latent
    voxel) -> (loss, stepped). A non-finite loss or gradient norm leaves the weights and the
    optimiser state as they were (stepped False): one bad draw must not turn the weights, the EMA
    and then the checkpoint into NaN."""
    z_t, t, eps = noisy_batch(sched, z0, t_power)
    with torch.autocast(device_type=z0.device.type, dtype=torch.bfloat16, enabled=bf16):
        pred = unet(z_t, t.float(), coords)
    loss = eps_loss(pred, eps, weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
    if not (torch.isfinite(loss) and torch.isfinite(norm)):
        opt.zero_grad(set_to_none=True)
        return loss.detach(), False
    opt.step()
    return loss.detach(), True


def diffusion_number(d: dict, key: str, default: float, ok, rule: str) -> float:
    """diffusion.<key> as a float (default when absent), refused by name unless ok(value)."""
    try:
        v = float(d.get(key, default))
    except (TypeError, ValueError):
        v = math.nan
    if not ok(v):
        raise SystemExit(f'diffusion.{key} must be {rule}, not {d.get(key)!r}')
    return v


def drop_conditioning(coords: torch.Tensor, rng: np.random.Generator, p: float) -> torch.Tensor:
    """Classifier-free guidance's training draw: each sample's coordinate channels replaced by the
    null condition (all zero: a real coordinate field varies across any grid of more than one
    voxel, so zero is never a real condition) with probability p. p = 0 returns coords unchanged
    and draws nothing from rng (the run's stream stays that of a run without the option)."""
    if p <= 0:
        return coords
    keep = torch.from_numpy(rng.random(coords.shape[0]) >= p).to(coords.device, coords.dtype)
    return coords * keep.view(-1, *([1] * (coords.dim() - 1)))


def train_diffusion(cfg, args):
    d = cfg['diffusion']
    # bone_weight > 0: a latent voxel's eps error weighs 1 + bone_weight x the bone fraction of its
    # image block (vertebrae and ribs are a few percent of the latents; run C8s2-UB, BENCHMARKS.md,
    # found that weighting them merged the sampled skeleton more, so the default stays 0)
    bone_w = diffusion_number(d, 'bone_weight', 0.0, lambda v: v >= 0, 'a number >= 0')
    # t_power > 1 draws the training timesteps towards low noise, < 1 towards high noise
    # (draw_timesteps); 1 is the uniform DDPM draw
    t_power = diffusion_number(d, 't_power', 1.0, lambda v: math.isfinite(v) and v > 0, 'a finite number > 0')
    # cond_drop > 0: that share of the training crops see the null condition (coordinate channels
    # all zero) instead of their own, so that one UNet also predicts eps unconditionally, for
    # classifier-free guidance at sampling (drop_conditioning)
    cond_drop = diffusion_number(d, 'cond_drop', 0.0, lambda v: 0 <= v < 1, 'a number in [0, 1)')
    out = ckpt_dir(cfg, args.checkpoint_dir, 'diffusion')
    ae_ck = os.path.join(ckpt_dir(cfg, args.checkpoint_dir, 'autoencoder'), 'last.pt')
    log = Logger(out)
    dev = torch.device(args.device)
    torch.manual_seed(cfg['seed'] + 1)
    if getattr(args, 'set', None):
        log({'info': f'config overrides: {args.set}'})
    fresh_unet = bool(getattr(args, 'fresh_unet', False))
    init = init_from_model(cfg, args.init_from, ae_ck, log, unet=not fresh_unet) if args.init_from else None
    if fresh_unet:
        log({'info': f'UNet from scratch, widths {d["widths"]}'})
    ae = load_autoencoder(cfg, ae_ck)[0].to(dev)
    ae.eval()
    cache_path = os.path.join(out, 'latents.pt')
    if os.path.exists(cache_path):
        cache = torch_load(cache_path)
        buckets, latent_scale = cache['buckets'], cache['latent_scale']
    else:
        scans, _, aug = data_from_cfg(cfg, args.data_root, log, scan_list=d.get('scans'))
        sampler = D.Sampler(scans, aug, seed=cfg['seed'] + 1)
        prefix = ()
        if getattr(args, 'latent_cache_prefix', None):
            prefix = torch_load(args.latent_cache_prefix)['buckets']
            if any(b[0].shape[1] != ae.z_ch for b in prefix):
                raise SystemExit(f'{args.latent_cache_prefix}: its latents do not have this autoencoder\'s '
                                 f'{ae.z_ch} channels')
            log({'info': f'latent cache: the first {len(prefix)} buckets from {args.latent_cache_prefix}'})
        buckets = build_latent_cache(cfg, ae, sampler, dev, log, prefix=prefix)
        allz = torch.cat([b[0].flatten() for b in buckets])
        # a warm start keeps the scale its UNet learned with, unless the autoencoder changed enough
        # that its latents' spread did too (rescale_latents: unit standard deviation again)
        rescale = init is None or bool(d.get('rescale_latents', False))
        latent_scale = float(1.0 / allz.std()) if rescale else init['latent_scale']
        save_atomic({'buckets': buckets, 'latent_scale': latent_scale}, cache_path)
    log({'info': f'latent cache: {len(buckets)} buckets, latent_scale {latent_scale:.4f}'})
    if bone_w > 0:
        old_format = sum(1 for b in buckets if len(b) < 3)
        if old_format:
            raise SystemExit(f'diffusion.bone_weight {bone_w}: {old_format} latent cache buckets (from {cache_path} '
                             'or --latent-cache-prefix) hold no bone fractions; delete the cache to rebuild it')
        log({'info': f'diffusion: eps loss weighted 1 + {bone_w} x bone fraction (>= {d.get("bone_hu", 200.0)} HU)'})
    if cond_drop > 0:
        log({'info': f'diffusion: the null condition (zero coordinates) for {cond_drop:.0%} of the crops'})
    if t_power != 1.0:
        more = 'low' if t_power > 1 else 'high'
        log({'info': f'diffusion: timesteps drawn as floor(T u^{t_power}) ({more} noise more often)'})
    sched = build_schedule(cfg)
    unet = build_unet(cfg).to(dev)
    ema = copy.deepcopy(unet).eval()
    opt = torch.optim.Adam(unet.parameters(), lr=d['lr'])
    rng = np.random.default_rng(cfg['seed'] + 2)
    it, elapsed = 0, 0.0
    last = os.path.join(out, 'last.pt')
    if args.resume and os.path.exists(last):
        ck = torch_load(last)  # CPU; load_state_dict copies onto the model's device
        unet.load_state_dict(ck['model'] if 'model' in ck else ck['ema'])
        ema.load_state_dict(ck['ema'])
        it, elapsed = ck['iter'], ck['elapsed']
        # the UNet learned at its checkpoint's scale (a cache rebuilt for a slim checkpoint computes its own)
        latent_scale = float(ck.get('latent_scale', latent_scale))

        def restore_stage(ck):
            rng.bit_generator.state = ck['rng']

        note = restore_training_state(ck, opt, restore_stage)
        log({'info': f'resumed at iter {it}, {elapsed / 60:.1f} min{note}'})
    elif init:
        unet.load_state_dict(init['unet'])
        ema.load_state_dict(init['unet'])
        log({'info': f'UNet warm-started from {args.init_from}'})
    t0 = time.time() - elapsed
    acc, n_acc = 0.0, 0

    def checkpoint():
        save_checkpoint({'model': unet.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(), 'iter': it,
                         'elapsed': time.time() - t0, 'rng': rng.bit_generator.state, **rng_states(dev),
                         'latent_scale': latent_scale, 'config': cfg}, last)

    # bf16 autocast (CPUs with avx512_bf16, GPUs): the UNet's step at 16^3 latents (factor 4, batch 8)
    # took 0.34 against 0.49 s in float32 on a 2-core EPYC; the loss, the optimiser and the EMA stay
    # float32, and GroupNorm and the stride-2 convolutions compute in float32 (unet.GroupNorm32, DownConv3d)
    bf16 = bool(d.get('bf16', False))
    skipped, skipped_run = 0, 0  # steps left out for a non-finite loss or gradient (all, and in a row)
    log({'info': f'diffusion: autocast bf16 {bf16}, {torch.get_num_threads()} threads'})
    stop = StopFlag()
    while it < d['max_iters'] and (time.time() - t0) < d['max_minutes'] * 60 and not stop.stop:
        progress = max(it / d['max_iters'], (time.time() - t0) / (d['max_minutes'] * 60))
        lr = lr_at(progress, d['lr'], d['lr_min'])
        for g in opt.param_groups:
            g['lr'] = lr
        bucket = buckets[int(rng.integers(len(buckets)))]
        z_all, c_all = bucket[0], bucket[1]
        idx = torch.from_numpy(rng.integers(0, z_all.shape[0], d['batch_size']))
        z0 = (z_all[idx] * latent_scale).to(dev)
        coords = drop_conditioning(c_all[idx].to(dev), rng, cond_drop)
        weight = (1.0 + bone_w * bucket[2][idx]).to(dev) if bone_w > 0 else None
        loss, stepped = diffusion_step(unet, opt, sched, z0, coords, bf16, weight, t_power)
        if not stepped:
            skipped += 1
            skipped_run += 1
            if skipped_run >= MAX_SKIPPED_IN_A_ROW:
                raise SystemExit(f'diffusion: {skipped_run} steps in a row had a non-finite loss or gradient '
                                 f'(iter {it}); last.pt keeps the last finite weights')
        else:
            skipped_run = 0
            ema_update(ema, unet, it, d['ema'])  # a skipped step moved no weight: the EMA stays too
            acc += float(loss)
            n_acc += 1
        it += 1
        if it % d['log_every'] == 0:
            log({'stage': 'diffusion', 'iter': it, 'min': (time.time() - t0) / 60, 'lr': lr,
                 'loss': acc / n_acc if n_acc else None, 'skipped': skipped})
            acc, n_acc = 0.0, 0
        if it % d['ckpt_every'] == 0:
            checkpoint()
    checkpoint()
    log({'info': f'diffusion {"stopped" if stop.stop else "done"}: iter {it}, {(time.time() - t0) / 60:.1f} min',
         'done': not stop.stop})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True)
    ap.add_argument('--stage', choices=['autoencoder', 'diffusion'], required=True)
    ap.add_argument('--resume', action='store_true')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--checkpoint-dir')
    ap.add_argument('--data-root')
    ap.add_argument('--max-iters', type=int, help='override the stage max_iters (smoke tests)')
    ap.add_argument('--init-from', metavar='MODEL_DIR',
                    help='warm start from an exported model: autoencoder: its encoder/decoder ONNX weights '
                         '(fine-tuning); diffusion: its UNet weights and latent scale')
    ap.add_argument('--fresh-unet', action='store_true',
                    help='diffusion with --init-from: the exported autoencoder only, the UNet (e.g. of other '
                         'widths) from scratch at the latent scale 1 / std of its latents')
    ap.add_argument('--latent-cache-prefix', metavar='LATENTS_PT',
                    help='diffusion: another run\'s latents.pt (same autoencoder) stands for the first buckets '
                         'of a new cache; only the buckets after it (e.g. added latent_grid_groups) are encoded')
    ap.add_argument('--minutes', type=float, help='override the stage max_minutes')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=JSON',
                    help='override one config value by its dotted path, e.g. diffusion.lr=0.00025 (repeatable)')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = apply_overrides(load_config(args.config), args.set)
    if args.max_iters is not None:
        cfg['autoencoder' if args.stage == 'autoencoder' else 'diffusion']['max_iters'] = args.max_iters
    if args.minutes is not None:
        cfg['autoencoder' if args.stage == 'autoencoder' else 'diffusion']['max_minutes'] = args.minutes
    (train_autoencoder if args.stage == 'autoencoder' else train_diffusion)(cfg, args)


if __name__ == '__main__':
    sys.exit(main())
