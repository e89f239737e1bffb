"""Export the autoencoder and UNet to ONNX (opset 17, dynamic B/D/H/W) and write
model.json (the contract, models/schema/model.schema.json) with sha256 + byte
sizes, and golden inputs/outputs recorded from PyTorch for the TypeScript tests:
golden/golden.json (every part on a small grid) and golden/unet-attention.json (the UNet on
a latent grid whose bottleneck has several tokens, so that the 8-head self-attention mixes
tokens; on golden.json's grid the bottleneck is 1x1x1 and softmax sees a single token).

    /usr/bin/python3 -m ldm.export --config configs/demo.json --out ../geometry-ldm-demo \
        [--manifest-extra card.json] [--fp16] [--ae-checkpoint CKPT] [--unet-checkpoint CKPT]
    /usr/bin/python3 -m ldm.export --tiny --out /tmp/tiny      # random-weight tiny model (tests)

(run from models/training, or with models/training on PYTHONPATH)
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import inspect
import json
import os
import subprocess
import sys

import numpy as np
import torch

from . import geometry as G
from .schedule import Schedule, generation_guidance, sr_cycles, sr_t_start
from .unet import UNet3d
from .vqgan import ExportDecoder, ExportEncoder, VQAutoencoder

OPSET = 17


def _export(module, args, path, input_names, output_names, dynamic_axes):
    kwargs = dict(opset_version=OPSET, input_names=input_names, output_names=output_names,
                  dynamic_axes=dynamic_axes, do_constant_folding=True)
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False  # PyTorch >= 2.5: keep the TorchScript exporter (same graph as 1.13)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, **kwargs)


def weights_to_fp16(path: str, min_elements: int = 16) -> None:
    """Store float initializers as float16 with a Cast back to float32 in front of
    their consumers (weights-only fp16: runs everywhere, computes in fp32)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    m = onnx.load(path)
    g = m.graph
    new_inits, casts = [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            arr = numpy_helper.to_array(init).astype(np.float16)
            new_inits.append(numpy_helper.from_array(arr, init.name + '__fp16'))
            casts.append(helper.make_node('Cast', [init.name + '__fp16'], [init.name], to=TensorProto.FLOAT,
                                          name='cast_' + init.name))
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def b64(a: torch.Tensor | np.ndarray) -> dict:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    return {'dtype': 'float32', 'shape': list(arr.shape), 'base64': base64.b64encode(arr.astype('<f4').tobytes()).decode()}


def golden_inputs(dims=(24, 16, 16), seed=1234, factor=8):
    """Deterministic inputs: a smooth phantom on a rotated partial-FOV grid (latent factor `factor`)."""
    gs = G.GroupSpace('scan-extent', np.zeros(3), np.array([350.0, 300.0, 400.0]))
    r = G.resolve_geometry({'kind': 'fov', 'dims': list(dims), 'fov': [[0.1, 0.9], [0.2, 0.8], [0.3, 0.9]],
                            'rotationDeg': [0, 0, 15]}, gs)
    coords = G.coordinate_channels(r.dims, r.index_to_group)[None]
    u, v, w = coords[0]
    image = 0.5 + 0.3 * np.sin(6 * u) * np.cos(5 * v) + 0.2 * ((u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.05) * np.cos(4 * w)
    image = image[None, None].astype(np.float32)
    rng = np.random.default_rng(seed)
    lat_dims = G.pooled_dims(r.dims, factor)
    z_t = rng.standard_normal((2, 8, lat_dims[2], lat_dims[1], lat_dims[0])).astype(np.float32)
    t = np.array([999.0, 37.0], dtype=np.float32)
    lat_coords = np.repeat(G.latent_conditioning(r.dims, r.index_to_group, factor)[None], 2, axis=0)
    return {'dims': list(r.dims), 'indexToGroup': G.to_list(r.index_to_group), 'image': image, 'coords': coords,
            'z_t': z_t, 't': t, 'latentCoords': lat_coords}


# UNet golden case with a multi-token bottleneck: latent [d, h, w] = [12, 16, 20] (image grid
# [nx, ny, nz] = [160, 128, 96]) -> three ceil-halvings -> bottleneck [2, 2, 3] = 12 tokens.
ATTENTION_LATENT_DHW = (12, 16, 20)
ATTENTION_GOLDEN_PATH = 'golden/unet-attention.json'


def bottleneck_dims(latent_dhw, levels=3):
    """The UNet's bottleneck grid: Conv3d(k3, s2, p1) `levels` times, i.e. ceil(n / 2) each."""
    out = list(latent_dhw)
    for _ in range(levels):
        out = [(n + 1) // 2 for n in out]
    return out


def attention_golden_inputs(latent_dhw=ATTENTION_LATENT_DHW, seed=4321, factor=8):
    """z_t [2, 8, d, h, w], t [2], latent coordinate channels of a rotated partial-FOV grid."""
    d, h, w = latent_dhw
    gs = G.GroupSpace('scan-extent', np.zeros(3), np.array([350.0, 300.0, 400.0]))
    r = G.resolve_geometry({'kind': 'fov', 'dims': [factor * w, factor * h, factor * d],
                            'fov': [[0.05, 0.95], [0.1, 0.85], [0.2, 1.0]], 'rotationDeg': [5, -3, 25]}, gs)
    lc = G.latent_conditioning(r.dims, r.index_to_group, factor)[None]
    assert lc.shape[2:] == (d, h, w), lc.shape
    rng = np.random.default_rng(seed)
    z_t = rng.standard_normal((2, 8, d, h, w)).astype(np.float32)
    t = np.array([640.0, 12.0], dtype=np.float32)
    return {'dims': list(r.dims), 'indexToGroup': G.to_list(r.index_to_group), 'z_t': z_t, 't': t,
            'coords': np.repeat(lc, 2, axis=0).astype(np.float32)}


class _SelfOnlyAttention(torch.nn.Module):
    """The bottleneck attention with every token attending only to itself (what a 1x1x1
    bottleneck computes): x + out(v). Used only to show the golden case depends on mixing."""

    def __init__(self, attn):
        super().__init__()
        self.a = attn

    def forward(self, x):
        b, _, d, h, w = x.shape
        v = self.a.qkv(self.a.norm(x)).reshape(b, 3, self.a.ch, d, h, w)[:, 2]
        return x + self.a.out(v)


@torch.no_grad()
def attention_golden(unet: UNet3d, latent_dhw=ATTENTION_LATENT_DHW, factor=8) -> dict:
    """Golden UNet case on a multi-token bottleneck, outputs from PyTorch (unet as given); the
    coordinate channels are those of an image grid `factor` times the latent grid."""
    import copy
    unet.eval()
    gi = attention_golden_inputs(latent_dhw, factor=factor)
    z_t, t, lc = torch.from_numpy(gi['z_t']), torch.from_numpy(gi['t']), torch.from_numpy(gi['coords'])
    eps = unet(z_t, t, lc)
    self_only = copy.deepcopy(unet)
    self_only.attn = _SelfOnlyAttention(self_only.attn)
    eps_self = self_only(z_t, t, lc)
    bn = bottleneck_dims(latent_dhw)
    return {
        'description': 'UNet inputs and PyTorch outputs on a latent grid whose bottleneck has several tokens '
                       '(ldm/export.py attention_golden); little-endian float32, base64',
        'dims': gi['dims'], 'indexToGroup': gi['indexToGroup'],
        'latentDims': list(latent_dhw), 'bottleneckDims': bn, 'bottleneckTokens': int(np.prod(bn)),
        'attentionHeads': int(unet.attn.heads),
        # how far eps moves when tokens stop attending to each other: the case checks mixing
        'maxAbsDiffSelfOnlyAttention': float((eps - eps_self).abs().max()),
        'unet': {'inputs': {'z_t': b64(z_t), 't': b64(t), 'coords': b64(lc)}, 'outputs': {'eps': b64(eps)}},
    }


def write_json(obj, path):
    with open(path, 'w') as f:
        json.dump(obj, f)
        f.write('\n')


# Latent factors the ONNX contract (model.json latent.factor) allows: 8 is the paper's (three
# stride-2 levels), 4 keeps twice the detail per axis at 8x the latent voxels (two levels).
LATENT_FACTORS = (4, 8)


def io_spec(factor: int) -> dict:
    """The three networks' inputs and outputs for a latent factor (shapes as documented strings)."""
    f = int(factor)
    return {
        'encoder': {
            'inputs': [{'name': 'image', 'dtype': 'float32', 'shape': ['B', 1, 'D', 'H', 'W']},
                       {'name': 'coords', 'dtype': 'float32', 'shape': ['B', 3, 'D', 'H', 'W']}],
            'outputs': [{'name': 'latent', 'dtype': 'float32', 'shape': ['B', 8, f'D/{f}', f'H/{f}', f'W/{f}']}],
        },
        'decoder': {
            'inputs': [{'name': 'latent', 'dtype': 'float32', 'shape': ['B', 8, 'd', 'h', 'w']}],
            'outputs': [{'name': 'image', 'dtype': 'float32', 'shape': ['B', 1, f'{f}*d', f'{f}*h', f'{f}*w']}],
        },
        'unet': {
            'inputs': [{'name': 'z_t', 'dtype': 'float32', 'shape': ['B', 8, 'd', 'h', 'w']},
                       {'name': 't', 'dtype': 'float32', 'shape': ['B']},
                       {'name': 'coords', 'dtype': 'float32', 'shape': ['B', 3, 'd', 'h', 'w']}],
            'outputs': [{'name': 'eps', 'dtype': 'float32', 'shape': ['B', 8, 'd', 'h', 'w']}],
        },
    }
REFINER_IO = {
    'inputs': [{'name': 'planes', 'dtype': 'float32', 'shape': ['B', 3, 'H', 'W']},
               {'name': 'acquisition', 'dtype': 'float32', 'shape': ['B', 12]}],
    'outputs': [{'name': 'refined', 'dtype': 'float32', 'shape': ['B', 1, 'H', 'W']}],
}
REFINER_GOLDEN_PATH = 'golden/refiner.json'


def refiner_golden_inputs(seed=99):
    """Two 20x24 planes of CT-like values (HU / 1000: air, soft tissue, bone) and two acquisitions."""
    g = torch.Generator().manual_seed(seed)
    planes = torch.where(torch.rand(2, 3, 20, 24, generator=g) > 0.4, 0.05, -1.0)
    planes = planes + 0.05 * torch.randn(2, 3, 20, 24, generator=g)
    planes[:, :, 6:11, 8:14] = 1.2
    acq = torch.tensor([[1.25, 1.25, 0.0, 0.0, 0.25, 0.25, 0.0, 0.0, 0.25, 0.25, 0.0, 0.0],
                        [0.5, 0.75, 1.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.25, 0.25, 0.0, 0.0]], dtype=torch.float32)
    return planes.float(), acq


def export_refiner(refiner, out_dir: str, *, fp16=False) -> dict:
    """refiner.onnx + golden/refiner.json; returns the manifest's files/onnx entries."""
    os.makedirs(os.path.join(out_dir, 'golden'), exist_ok=True)
    refiner.eval()
    planes, acq = refiner_golden_inputs()
    path = os.path.join(out_dir, 'refiner.onnx')
    _export(refiner, (planes, acq), path, ['planes', 'acquisition'], ['refined'],
            {'planes': {0: 'B', 2: 'H', 3: 'W'}, 'acquisition': {0: 'B'}, 'refined': {0: 'B', 2: 'H', 3: 'W'}})
    ref_g = refiner
    if fp16:
        weights_to_fp16(path)
        ref_g = _round_fp16(refiner)
    with torch.no_grad():
        refined = ref_g(planes, acq)
    write_json({'description': 'Refiner inputs and PyTorch outputs recorded at export (ldm/export.py); '
                               'little-endian float32, base64',
                'toleranceAbs': 1e-4 if not fp16 else 2e-4,
                'refiner': {'inputs': {'planes': b64(planes), 'acquisition': b64(acq)},
                            'outputs': {'refined': b64(refined)}}},
               os.path.join(out_dir, REFINER_GOLDEN_PATH))
    return {'file': {'path': 'refiner.onnx', 'sha256': sha256(path), 'bytes': os.path.getsize(path),
                     'weights': 'float16' if fp16 else 'float32'},
            'io': REFINER_IO}


def add_refiner_to_manifest(manifest: dict, entry: dict, samples: int = 2) -> dict:
    """files.refiner, onnx.refiner and the super-resolution defaults that use it ('ai' mode)."""
    manifest['files']['refiner'] = entry['file']
    manifest['onnx']['refiner'] = entry['io']
    manifest['superResolution'] = {**manifest['superResolution'], 'mode': 'ai', 'refinerSamples': int(samples),
                                   'projectionIterations': 10}
    return manifest


GROUP_AXES_SCAN_EXTENT = [
    {'axis': 'u', 'patientAxis': '+x', 'zero': 'voxel centre furthest to the patient right',
     'one': 'voxel centre furthest to the patient left'},
    {'axis': 'v', 'patientAxis': '+y', 'zero': 'most anterior voxel centre', 'one': 'most posterior voxel centre'},
    {'axis': 'w', 'patientAxis': '+z', 'zero': 'most inferior (feet-side) voxel centre',
     'one': 'most superior (head-side) voxel centre'},
]


def contract_fields(cfg: dict | None = None) -> dict:
    """The parts of model.json that describe how to use the model (from the training config)."""
    cfg = cfg or {}
    c = cfg.get('contract', {})
    aug = cfg.get('data', {}).get('augment', {})
    intensity = cfg.get('data', {}).get('intensity', {'lo': -1000.0, 'hi': 1000.0})
    sched = Schedule.from_config(cfg)
    tmin, tmax = aug.get('grid_min', 32), aug.get('grid_max', 64)
    guidance = generation_guidance(c)
    return {
        'intensity': {'huMin': float(intensity['lo']), 'huMax': float(intensity['hi']), 'modelMin': 0.0, 'modelMax': 1.0,
                      'clip': True, 'outsideValueModel': 0.0},
        'groupSpace': {
            'kind': 'scan-extent',
            'referenceExtentMm': [float(x) for x in c.get('referenceExtentMm', [375.0, 355.0, 295.0])],
            'axes': GROUP_AXES_SCAN_EXTENT,
            'note': 'Each scan\'s bounding box of voxel centres is [0,1]^3 (docs/conventions.md). '
                    'referenceExtentMm (mean training extent) places generated volumes in mm when no study is given.',
        },
        'scheduler': sched.to_json(),
        'generation': {'ddimSteps': int(c.get('generationDdimSteps', 50)),
                       'ddimEta': float(c.get('generationDdimEta', 0.0)), 'timestepSpacing': 'leading',
                       **({} if guidance is None else {'guidanceScale': guidance})},
        'superResolution': {'tStart': sr_t_start(c, sched), 'cycles': sr_cycles(c),
                            'ddimSteps': int(c.get('srDdimSteps', 10)),
                            'samples': int(c.get('srSamples', 8)),
                            # a config with a refiner exports one: the AI mode is the default
                            **({'mode': 'ai', 'refinerSamples': int(c.get('refinerSamples', 2)),
                                'projectionIterations': 10} if 'refiner' in cfg else {})},
        'grid': {'min': c.get('gridMin', [32, 32, 32]), 'max': c.get('gridMax', [256, 256, 256]), 'multipleOf': 8,
                 'trainedMin': [tmin] * 3, 'trainedMax': [tmax] * 3, 'order': '[nx, ny, nz]'},
    }


def export_all(ae: VQAutoencoder, unet: UNet3d, out_dir: str, *, fp16=False, latent_scale=1.0, manifest_extra=None,
               golden_dims=(24, 16, 16), refiner=None, refiner_samples=2) -> dict:
    f = ae.factor
    if f not in LATENT_FACTORS:
        raise ValueError(f'latent factor {f} (one stride-2 level per autoencoder width) is not one the ONNX '
                         f'contract allows: {LATENT_FACTORS}')
    os.makedirs(os.path.join(out_dir, 'golden'), exist_ok=True)
    ae.eval()
    unet.eval()
    enc, dec = ExportEncoder(ae), ExportDecoder(ae)
    gi = golden_inputs(golden_dims, factor=f)
    image, coords = torch.from_numpy(gi['image']), torch.from_numpy(gi['coords'])
    z_t, t, lc = torch.from_numpy(gi['z_t']), torch.from_numpy(gi['t']), torch.from_numpy(gi['latentCoords'])
    paths = {k: os.path.join(out_dir, f'{k}.onnx') for k in ('encoder', 'decoder', 'unet')}
    _export(enc, (image, coords), paths['encoder'], ['image', 'coords'], ['latent'],
            {'image': {0: 'B', 2: 'D', 3: 'H', 4: 'W'}, 'coords': {0: 'B', 2: 'D', 3: 'H', 4: 'W'},
             'latent': {0: 'B', 2: f'D/{f}', 3: f'H/{f}', 4: f'W/{f}'}})
    with torch.no_grad():
        latent = enc(image, coords)
    _export(dec, (latent,), paths['decoder'], ['latent'], ['image'],
            {'latent': {0: 'B', 2: 'd', 3: 'h', 4: 'w'}, 'image': {0: 'B', 2: f'{f}*d', 3: f'{f}*h', 4: f'{f}*w'}})
    _export(unet, (z_t, t, lc), paths['unet'], ['z_t', 't', 'coords'], ['eps'],
            {'z_t': {0: 'B', 2: 'd', 3: 'h', 4: 'w'}, 't': {0: 'B'}, 'coords': {0: 'B', 2: 'd', 3: 'h', 4: 'w'},
             'eps': {0: 'B', 2: 'd', 3: 'h', 4: 'w'}})
    if fp16:
        for p in paths.values():
            weights_to_fp16(p)
    # golden outputs from PyTorch with the weights exactly as stored in the ONNX files
    if fp16:
        ae_g, unet_g = _round_fp16(ae), _round_fp16(unet)
        enc, dec = ExportEncoder(ae_g), ExportDecoder(ae_g)
    else:
        unet_g = unet
    with torch.no_grad():
        latent = enc(image, coords)
        recon = dec(latent)
        eps = unet_g(z_t, t, lc)
    golden = {
        'description': 'Inputs and PyTorch outputs recorded at export (ldm/export.py); little-endian float32, base64',
        'dims': gi['dims'], 'indexToGroup': gi['indexToGroup'],
        'encoder': {'inputs': {'image': b64(image), 'coords': b64(coords)}, 'outputs': {'latent': b64(latent)}},
        'decoder': {'inputs': {'latent': b64(latent)}, 'outputs': {'image': b64(recon)}},
        'unet': {'inputs': {'z_t': b64(z_t), 't': b64(t), 'coords': b64(lc)}, 'outputs': {'eps': b64(eps)}},
    }
    gpath = os.path.join(out_dir, 'golden', 'golden.json')
    write_json(golden, gpath)
    write_json(attention_golden(unet_g, factor=f), os.path.join(out_dir, ATTENTION_GOLDEN_PATH))
    files = {}
    for k, p in paths.items():
        files[k] = {'path': os.path.basename(p), 'sha256': sha256(p), 'bytes': os.path.getsize(p),
                    'weights': 'float16' if fp16 else 'float32'}
    manifest = {
        'schemaVersion': 1,
        'files': files,
        'onnx': {'opset': OPSET, **io_spec(f)},
        'golden': {'path': 'golden/golden.json', 'sha256': sha256(gpath), 'bytes': os.path.getsize(gpath),
                   # fp32: ORT vs PyTorch; fp16 weights: PyTorch ran with the same fp16-rounded weights
                   'toleranceAbs': 1e-4 if not fp16 else 2e-4},
    }
    manifest['latent'] = {'factor': f, 'channels': 8, 'scale': float(latent_scale), 'quantised': ae.quantise,
                          **({'codebookSize': int(ae.vq.n_codes)} if ae.quantise else {}),
                          'note': 'the UNet works on latent * scale; divide by scale before decoding'}
    if manifest_extra:
        head = {'schemaVersion': 1}
        manifest = {**head, **manifest_extra, **manifest}
    if refiner is not None:
        add_refiner_to_manifest(manifest, export_refiner(refiner, out_dir, fp16=fp16), refiner_samples)
    mpath = os.path.join(out_dir, 'model.json')
    with open(mpath, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    _prettier(mpath)
    return manifest


def _round_fp16(module):
    import copy
    m = copy.deepcopy(module)
    with torch.no_grad():
        for p in list(m.parameters()) + [b for b in m.buffers() if b.dtype == torch.float32]:
            if p.numel() >= 16:
                p.copy_(p.half().float())
    return m


def _prettier(path):
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
    exe = os.path.join(repo, 'node_modules', '.bin', 'prettier')
    if os.path.exists(exe):
        subprocess.run([exe, '--write', os.path.abspath(path)], cwd=repo, stdout=subprocess.DEVNULL, check=False)


def manifest_extra(cfg: dict, card_path: str | None = None, metrics_path: str | None = None) -> dict:
    """model.json fields besides files/onnx/golden/latent: the contract from the training config,
    then the model card fields (--manifest-extra, e.g. configs/demo-card.json), then "metrics"
    (--metrics, the metrics.json of ldm.evaluate)."""
    extra = contract_fields(cfg)
    if card_path:
        with open(card_path) as f:
            extra.update(json.load(f))
    if metrics_path:
        with open(metrics_path) as f:
            extra['metrics'] = json.load(f)
    return extra


def tiny_models(seed=0, factor=8):
    """Random-weight tiny autoencoder (latent factor 8: widths 4/8/8; factor 4: 4/8) and UNet."""
    if factor not in LATENT_FACTORS:
        raise ValueError(f'latent factor {factor} is not one the ONNX contract allows: {LATENT_FACTORS}')
    torch.manual_seed(seed)
    ae = VQAutoencoder(widths=(4, 8, 8) if factor == 8 else (4, 8), n_res=1, z_ch=8, n_codes=32)
    with torch.no_grad():  # a codebook with spread-out codes (no near-ties in the golden test)
        ae.vq.embedding.copy_(torch.randn(32, 8))
    unet = UNet3d(z_ch=8, coord_ch=3, widths=(8, 16, 16), n_res=1, heads=8)
    return ae, unet


def tiny_refiner(seed=0):
    from .refiner import Refiner
    torch.manual_seed(seed)
    r = Refiner(channels=8, blocks=1)
    with torch.no_grad():  # not the identity: the golden case must exercise every layer
        r.tail.weight.normal_(0, 0.05)
        r.tail.bias.fill_(0.01)
    return r


def update_refiner(model_dir: str, refiner, fp16=False, samples=2, card=None) -> dict:
    """Adds (or replaces) the refiner of an exported model: refiner.onnx, golden/refiner.json and the
    manifest entries; with `card` (manifest_extra: contract, card fields, metrics) those fields are
    replaced too. The other ONNX files, their golden outputs and files/onnx/latent stay as they are."""
    mpath = os.path.join(model_dir, 'model.json')
    with open(mpath) as f:
        manifest = json.load(f)
    if card:
        keep = {k: manifest[k] for k in ('files', 'onnx', 'golden', 'latent') if k in manifest}
        manifest = {'schemaVersion': 1, **card, **keep}
    add_refiner_to_manifest(manifest, export_refiner(refiner, model_dir, fp16=fp16), samples)
    with open(mpath, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    _prettier(mpath)
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--tiny', action='store_true', help='random-weight tiny model (tests)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--latent-factor', type=int, default=8, choices=LATENT_FACTORS,
                    help='with --tiny: the tiny autoencoder\'s latent factor')
    ap.add_argument('--config')
    ap.add_argument('--ae-checkpoint')
    ap.add_argument('--unet-checkpoint')
    ap.add_argument('--checkpoint-dir', help='default: the config\'s checkpointDir')
    ap.add_argument('--fp16', action='store_true')
    ap.add_argument('--manifest-extra', help='JSON file merged into model.json (name, licence, training data, ...)')
    ap.add_argument('--metrics', help='metrics.json from ldm.evaluate, stored as model.json "metrics"')
    ap.add_argument('--refiner-checkpoint',
                    help='a refiner checkpoint (.pt) or an exported refiner.onnx (its weights are kept); '
                         'default: <checkpointDir>/refiner/last.pt when it exists')
    ap.add_argument('--refiner-only', action='store_true',
                    help='add/replace only the refiner of the model already in --out (other files untouched)')
    ap.add_argument('--refiner-samples', type=int, default=2, help='default test-time-augmentation samples')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.refiner_only:
        from .refiner import refiner_from_file
        from .train import ckpt_dir, load_config
        cfg = load_config(a.config)
        path = a.refiner_checkpoint or os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'refiner'), 'last.pt')
        refiner = refiner_from_file(path)
        m = update_refiner(a.out, refiner, fp16=a.fp16, samples=a.refiner_samples,
                           card=manifest_extra(cfg, a.manifest_extra, a.metrics) if a.manifest_extra else None)
        print(json.dumps(m['files']['refiner'], indent=1))
        return
    if a.tiny:
        ae, unet = tiny_models(a.seed, a.latent_factor)
        extra = {'name': 'tiny-random', 'version': '0.0.0', 'licence': 'MIT',
                 'intendedUse': 'research, not for diagnosis',
                 'description': 'random weights, for tests only',
                 'trainingData': {'summary': 'none (random weights)', 'heldOut': []},
                 **contract_fields(None)}
        m = export_all(ae, unet, a.out, fp16=a.fp16, manifest_extra=extra, refiner=tiny_refiner(a.seed))
    else:
        from .train import build_unet, ckpt_dir, load_autoencoder, load_config, torch_load
        cfg = load_config(a.config)
        a.ae_checkpoint = a.ae_checkpoint or os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'autoencoder'), 'last.pt')
        a.unet_checkpoint = a.unet_checkpoint or os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'diffusion'), 'last.pt')
        ae = load_autoencoder(cfg, a.ae_checkpoint)[0]
        ck = torch_load(a.unet_checkpoint)
        unet = build_unet(ck.get('config') or cfg)  # its own widths (a run with --set diffusion.widths=...)
        unet.load_state_dict(ck['ema'] if 'ema' in ck else ck['model'])
        extra = manifest_extra(cfg, a.manifest_extra, a.metrics)
        refiner = None
        rpath = a.refiner_checkpoint or os.path.join(ckpt_dir(cfg, a.checkpoint_dir, 'refiner'), 'last.pt')
        if os.path.exists(rpath):
            from .refiner import refiner_from_file
            refiner = refiner_from_file(rpath)
        m = export_all(ae, unet, a.out, fp16=a.fp16, latent_scale=ck.get('latent_scale', 1.0), manifest_extra=extra,
                       refiner=refiner, refiner_samples=a.refiner_samples)
    print(json.dumps(m['files'], indent=1))


if __name__ == '__main__':
    sys.exit(main())
