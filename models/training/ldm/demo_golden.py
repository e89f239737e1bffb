"""Extra golden outputs for a committed model whose checkpoints are not at hand.

Rebuilds the PyTorch modules from the training config, loads their weights from the
committed ONNX files (ldm/onnx_weights.py), proves the rebuild by reproducing the
model's existing golden/golden.json outputs (every part, max |diff| <= --check-tol),
then records golden/unet-attention.json: the UNet on a latent grid whose bottleneck has
several tokens (ldm/export.py attention_golden), outputs from PyTorch.

    cd models/training
    /usr/bin/python3 -m ldm.demo_golden --config configs/demo.json --model-dir ../geometry-ldm-demo
    /usr/bin/python3 -m ldm.demo_golden ... --check     # verify the committed file instead of writing it

The ONNX files and model.json are not modified (the extra file is not in model.json:
tests find it at its fixed path).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile

import numpy as np
import torch

from . import export as E
from .onnx_weights import initializers_equal, load_from_onnx
from .train import build_autoencoder, build_unet, is_codebook, load_config
from .vqgan import ExportDecoder, ExportEncoder


def decode(t: dict) -> torch.Tensor:
    arr = np.frombuffer(base64.b64decode(t['base64']), dtype='<f4').astype(np.float32)
    return torch.from_numpy(arr.reshape(t['shape']).copy())


def rebuild(cfg: dict, model_dir: str, manifest: dict):
    """-> {'encoder': ExportEncoder, 'decoder': ExportDecoder, 'unet': UNet3d} with the ONNX weights."""
    ae = build_autoencoder(cfg)
    ae.quantise = bool(manifest.get('latent', {}).get('quantised', True))
    parts = {'encoder': ExportEncoder(ae), 'decoder': ExportDecoder(ae), 'unet': build_unet(cfg)}
    for name, module in parts.items():
        optional = is_codebook if name == 'encoder' and not ae.quantise else None
        rest = load_from_onnx(module, os.path.join(model_dir, manifest['files'][name]['path']), optional)
        module.eval()
        if name == 'encoder' and ae.quantise:  # constant-folded copies of the codebook must agree with it
            _check_codebook_folds(module.vq.embedding.detach().numpy(), rest)
    return parts


def _check_codebook_folds(e: np.ndarray, rest: dict) -> None:
    for k, v in rest.items():
        cands = [e.T, e * e, (e * e).sum(1)]
        if not any(v.shape == c.shape and np.allclose(v, c, rtol=1e-6, atol=1e-7) for c in cands):
            raise ValueError(f'encoder initializer {k} {v.shape} is neither module state nor a codebook fold')


@torch.no_grad()
def reproduce(parts: dict, golden: dict) -> dict:
    """max |PyTorch(rebuilt) - recorded| per part/output, and the outputs' max |value|."""
    out = {}
    for part in ('encoder', 'decoder', 'unet'):
        c = golden[part]
        names = list(c['inputs'])
        got = parts[part](*[decode(c['inputs'][n]) for n in names])
        exp = decode(next(iter(c['outputs'].values())))
        out[part] = {'maxAbsDiff': float((got - exp).abs().max()), 'maxAbs': float(exp.abs().max()),
                     'shape': list(got.shape)}
    return out


def reexport_matches(parts: dict, model_dir: str, manifest: dict, golden: dict) -> dict:
    """Re-export the rebuilt modules: are the initializers identical to the committed files'?
    (Informational: holds when the exporter version matches the one used at export.)"""
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for part, axes_in, axes_out in (
                ('encoder', ['image', 'coords'], ['latent']), ('decoder', ['latent'], ['image']),
                ('unet', ['z_t', 't', 'coords'], ['eps'])):
            args = tuple(decode(golden[part]['inputs'][n]) for n in axes_in)
            p = os.path.join(d, f'{part}.onnx')
            E._export(parts[part], args, p, axes_in, axes_out, {n: {0: 'B'} for n in axes_in + axes_out})
            same, diff = initializers_equal(p, os.path.join(model_dir, manifest['files'][part]['path']))
            res[part] = {'identical': same, 'differing': diff[:10]}
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True)
    ap.add_argument('--model-dir', required=True)
    ap.add_argument('--check-tol', type=float, default=1e-5)
    ap.add_argument('--check', action='store_true', help='compare with the committed unet-attention.json')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(a.config)
    with open(os.path.join(a.model_dir, 'model.json')) as f:
        manifest = json.load(f)
    with open(os.path.join(a.model_dir, manifest['golden']['path'])) as f:
        golden = json.load(f)
    if any(manifest['files'][p].get('weights') != 'float32' for p in ('encoder', 'decoder', 'unet')):
        sys.exit('fp16-weight models: re-export with ldm.export instead (it writes unet-attention.json)')
    parts = rebuild(cfg, a.model_dir, manifest)
    rep = reproduce(parts, golden)
    print('existing golden outputs from the rebuilt PyTorch modules:', json.dumps(rep), flush=True)
    bad = [p for p, r in rep.items() if not r['maxAbsDiff'] <= a.check_tol]
    if bad:
        sys.exit(f'rebuilt modules do not reproduce golden.json within {a.check_tol}: {bad}')
    print('re-export initializers:', json.dumps(reexport_matches(parts, a.model_dir, manifest, golden)), flush=True)
    att = E.attention_golden(parts['unet'], factor=int(manifest['latent']['factor']))
    path = os.path.join(a.model_dir, E.ATTENTION_GOLDEN_PATH)
    if a.check:
        with open(path) as f:
            committed = json.load(f)
        d = float((decode(committed['unet']['outputs']['eps']) - decode(att['unet']['outputs']['eps'])).abs().max())
        same_inputs = committed['unet']['inputs'] == att['unet']['inputs']
        print(json.dumps({'inputsIdentical': same_inputs, 'epsMaxAbsDiff': d}))
        sys.exit(0 if same_inputs and d <= a.check_tol else 1)
    E.write_json(att, path)
    print(f'wrote {path}: bottleneck {att["bottleneckDims"]} ({att["bottleneckTokens"]} tokens), '
          f'max |eps - eps(self-only attention)| = {att["maxAbsDiffSelfOnlyAttention"]:.4f}')


if __name__ == '__main__':
    main()
