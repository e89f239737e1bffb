"""The latent diffusion's training scans packed with their geometry, for a machine that sees only
the repository (a lent GPU machine: the work tree plus carried git-ignored folders, 64 MiB in all,
and no pydicom or nibabel there).

Each scan of the autoencoder's and the UNet's lists is loaded as training loads it (held-out
scans refused), area-averaged by whole factors until no axis is finer than --min-spacing-mm
(the pyramid of data.Scan starts at 1.5 mm: finer voxels mostly cost bytes), rounded to int16 HU
(at most 0.5 HU) and written xz-compressed beside a JSON of its shape and index -> patient
affine: NAME.i16.xz + NAME.json. A scan both lists share is packed once. OUT/autoencoder-scans.json
and OUT/unet-scans.json are the two lists again, as `"kind": "packed"` entries (a UNet slab keeps
its "slices", in the stored slice axis of the packed scan) for `ldm.train --data-root OUT --set
data.scans=... --set diffusion.scans=...`. The pack is written to a temporary folder and moved
into place whole, only when it fits the byte budget. From models/training:

    /usr/bin/python3 -m ldm.scan_pack --config configs/demo.json --out ../.gpu-data/ldm \\
        --autoencoder-scans configs/autoencoder-scans.json --unet-scans configs/unet-scans.json
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import tempfile

import numpy as np

from . import geometry as G
from .data import DEFAULT_DATA_ROOT, DataError, load_scan, pool_volume, refuse_held_out

SUFFIX = '.i16.xz'


def pool_factors(affine: np.ndarray, min_spacing_mm: float) -> list:
    """The smallest whole area-averaging factors (fx, fy, fz) that leave no axis finer than
    min_spacing_mm (an axis already that coarse keeps 1; 0.84 mm with 1.5 becomes 1.68 mm)."""
    return [max(1, int(np.ceil(min_spacing_mm / s - 1e-6))) for s in G.axis_lengths(affine)]


def encode_int16(values: np.ndarray) -> bytes:
    """Values rounded to int16 (clipped to its range), xz-compressed: the body of a .i16.xz file
    (this pack's and ldm.refiner_pack's)."""
    q = np.clip(np.round(values), -32768, 32767).astype(np.int16)
    return lzma.compress(np.ascontiguousarray(q).tobytes(), preset=6)


def decode_int16(blob: bytes, shape, what: str) -> np.ndarray:
    """Inverse of encode_int16 -> int16 array of `shape`; DataError naming `what` when the voxel
    count disagrees (a truncated or mismatched file)."""
    q = np.frombuffer(lzma.decompress(blob), np.int16)
    shape = [int(n) for n in shape]
    if q.size != int(np.prod(shape)):
        raise DataError(f'{what}: {q.size} voxels packed, shape {shape} says otherwise')
    return q.reshape(shape)


def write_scan(folder: str, name: str, hu: np.ndarray, affine: np.ndarray, source: str, factors) -> int:
    """hu [nz, ny, nx] float32 HU -> NAME.i16.xz + NAME.json; returns the compressed bytes."""
    q_shape = list(np.shape(hu))
    blob = encode_int16(hu)
    with open(os.path.join(folder, name + SUFFIX), 'wb') as f:
        f.write(blob)
    meta = {'name': name, 'shape': q_shape, 'affine': np.asarray(affine, np.float64).tolist(),
            'source': source, 'poolFactors': [int(x) for x in factors], 'order': '[nz, ny, nx]'}
    with open(os.path.join(folder, name + '.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return len(blob)


def load_packed(path: str):
    """path: NAME.i16.xz or NAME (the JSON beside it) -> (hu [nz, ny, nx] float32, index -> patient
    affine), the form of data.load_scan."""
    base = path[: -len(SUFFIX)] if path.endswith(SUFFIX) else path
    with open(base + '.json') as f:
        meta = json.load(f)
    with open(base + SUFFIX, 'rb') as f:
        hu = decode_int16(f.read(), meta['shape'], base + SUFFIX)
    return hu.astype(np.float32), G.as_affine(np.asarray(meta['affine'], np.float64))


def pack(ae_scans: list, unet_scans: list, out: str, root: str = None, budget_mb: float = 40.0,
         min_spacing_mm: float = 1.5, log=print) -> dict:
    """Scan lists in the config's form ({"name", "path", "kind", optional "slices"}). Returns
    {"bytes", "scans": {name: bytes}}. Raises DataError (nothing written to out) when a scan is
    held out, missing or unreadable, or when the pack exceeds budget_mb (10^6 bytes)."""
    root = root or DEFAULT_DATA_ROOT
    files = {}  # (path, kind) -> packed name
    for e in list(ae_scans) + list(unet_scans):
        refuse_held_out(e['name'])
        key = (e['path'], e['kind'])
        if key not in files:  # the scan, not the slab: a slab of a packed scan is taken at load time
            name = e['name'] if not e.get('slices') else os.path.basename(e['path'].rstrip('/')).split('.')[0]
            if name in files.values():
                raise DataError(f'two different scans would both be packed as {name}: rename one')
            files[key] = name
    parent = os.path.dirname(os.path.abspath(out)) or '.'
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.scan-pack-', dir=parent)
    try:
        sizes, pooled = {}, {}
        for (path, kind), name in files.items():
            hu, aff = load_scan(root, path, kind)
            f = pool_factors(aff, min_spacing_mm)
            if max(f) > 1:
                hu, aff = pool_volume(hu, aff, f)
            sizes[name] = write_scan(tmp, name, hu, aff, f'{kind}:{path}', f)
            pooled[name] = f
            log({'packed': name, 'shape': list(hu.shape), 'spacingMm': np.round(G.axis_lengths(aff), 3).tolist(),
                 'poolFactors': f, 'mb': round(sizes[name] / 1e6, 2)})
        for e in list(unet_scans) + list(ae_scans):
            name = files[(e['path'], e['kind'])]
            if e.get('slices') and pooled[name][2] > 1:
                raise DataError(f'{e["name"]} is a slab of {name}, whose slices the pack would average '
                                f'{pooled[name][2]} to 1: give --min-spacing-mm at most its slice spacing')
        total = sum(sizes.values())
        if total > budget_mb * 1e6:
            raise DataError(f'the pack is {total / 1e6:.1f} MB, over its budget of {budget_mb:g} MB '
                            f'({", ".join(f"{k} {v / 1e6:.1f}" for k, v in sizes.items())}): raise --min-spacing-mm '
                            f'or pack fewer scans')

        def as_packed(entries):
            return [{'name': e['name'], 'path': files[(e['path'], e['kind'])] + SUFFIX, 'kind': 'packed',
                     **({'slices': e['slices']} if e.get('slices') else {})} for e in entries]
        for fname, entries in (('autoencoder-scans.json', ae_scans), ('unet-scans.json', unet_scans)):
            with open(os.path.join(tmp, fname), 'w') as fh:
                json.dump(as_packed(entries), fh, indent=1)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log({'info': f'{len(sizes)} scans, {total / 1e6:.1f} MB in {out}'})
    return {'bytes': total, 'scans': sizes}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True, help='its data.scans / diffusion.scans are the defaults')
    ap.add_argument('--out', required=True)
    ap.add_argument('--autoencoder-scans', help='JSON scan list (default: the config\'s data.scans)')
    ap.add_argument('--unet-scans', help='JSON scan list (default: the config\'s diffusion.scans, else data.scans)')
    ap.add_argument('--budget-mb', type=float, default=40.0)
    ap.add_argument('--min-spacing-mm', type=float, default=1.5)
    ap.add_argument('--data-root')
    args = ap.parse_args(argv)
    from .train import load_config
    cfg = load_config(args.config)

    def scan_list(path, fallback):
        if path:
            with open(path) as f:
                return json.load(f)
        if not fallback:
            raise SystemExit(f'{args.config} names no scans: give --autoencoder-scans / --unet-scans')
        return fallback
    ae = scan_list(args.autoencoder_scans, cfg['data'].get('scans'))
    unet = scan_list(args.unet_scans, cfg['diffusion'].get('scans') or cfg['data'].get('scans'))
    log = lambda rec: print(json.dumps(rec), flush=True)  # noqa: E731
    try:
        pack(ae, unet, args.out, args.data_root, args.budget_mb, args.min_spacing_mm, log)
    except DataError as e:
        raise SystemExit(f'scan_pack: {e}')


if __name__ == '__main__':
    main()
