"""Load PyTorch module weights back from an ONNX file written by ldm/export.py.

The demo model's checkpoints are not in git; its ONNX files are. Their initializers
keep the PyTorch names (``inp.weight``, ``attn.qkv.bias``, ...), except the GroupNorm
affine parameters: the TorchScript exporter (opset 17) writes GroupNorm as
InstanceNormalization + Reshape + ``Mul(weight)`` + ``Add(bias)`` and, after constant
folding, stores weight and bias as anonymous initializers ``onnx::Mul_N`` /
``onnx::Add_N`` of shape [C, 1, 1, 1]. Those are mapped through the scoped name of the
node that consumes them (``/down_blocks.0.0/n1/Mul`` -> ``down_blocks.0.0.n1.weight``),
never by order. The exporter also de-duplicates equal initializers (e.g. GroupNorms still
at their initial ones/zeros) into one initializer plus ``Identity`` nodes: those outputs
are resolved to the initializer they copy. Every parameter and every float buffer the module's forward reads must
be found, with the right shape, or this raises. Initializers that are not module state
(constant-folded products such as the transposed codebook) are returned by name so a
caller can check them against the rebuilt module (``derived_initializers_match``).
"""
from __future__ import annotations

import numpy as np
import torch


def _initializers(model) -> dict:
    from onnx import numpy_helper
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _resolved(inits: dict, model) -> dict:
    """Constant tensors by the name the graph uses: export.weights_to_fp16 stores X as
    X__fp16 + Cast(to float) (undone: X, as float32); de-duplicated initializers are read
    through Identity nodes (the output name gets the same array)."""
    out = dict(inits)
    for n in model.graph.node:  # Casts come first in the graph (weights_to_fp16 prepends them)
        if n.op_type == 'Cast' and len(n.input) == 1 and n.input[0].endswith('__fp16') and n.input[0] in inits:
            out[n.output[0]] = inits[n.input[0]].astype(np.float32)
            del out[n.input[0]]
    changed = True
    while changed:  # Identity chains, in any node order
        changed = False
        for n in model.graph.node:
            if n.op_type == 'Identity' and n.input[0] in out and n.output[0] not in out:
                out[n.output[0]] = out[n.input[0]]
                changed = True
    return out


def onnx_constants(path: str) -> dict:
    """{name: float32 array} of an ONNX file's weights by the names the graph uses (fp16 storage
    undone, de-duplicated initializers resolved): e.g. to read an architecture off the shapes."""
    import onnx
    model = onnx.load(path)
    return _resolved(_initializers(model), model)


def _groupnorm_names(model, inits: dict) -> dict:
    """initializer name -> '<module path>.weight' / '.bias' for the folded GroupNorm affines."""
    names = {}
    for n in model.graph.node:
        if n.op_type not in ('Mul', 'Add') or not n.name.startswith('/'):
            continue
        scope, _, op = n.name.rpartition('/')
        if op not in ('Mul', 'Add'):  # '/x/n1/Mul' only; '/x/n1/Mul_1' is another op
            continue
        for i in n.input:
            if i in inits and i.startswith('onnx::'):
                key = scope.strip('/').replace('/', '.') + ('.weight' if op == 'Mul' else '.bias')
                if i in names and names[i] != key:
                    raise ValueError(f'{i} feeds two modules: {names[i]}, {key}')
                names[i] = key
    return names


def onnx_state(path: str, module: torch.nn.Module, optional=None) -> tuple[dict, dict]:
    """-> (state dict for module, {initializer name: array} of initializers that are not module state).
    Every parameter must come from the file, except those `optional(key)` allows to be absent."""
    import onnx
    model = onnx.load(path)
    inits = _resolved(_initializers(model), model)
    gn = _groupnorm_names(model, inits)
    ref = module.state_dict()
    state, used = {}, set()
    for name, arr in inits.items():
        key = name if name in ref else gn.get(name)
        if key is None or key not in ref:
            continue
        want = tuple(ref[key].shape)
        if int(np.prod(arr.shape)) != int(np.prod(want)) or (arr.shape != want and name in ref):
            raise ValueError(f'{name} -> {key}: shape {arr.shape}, module has {want}')
        if key in state:
            raise ValueError(f'{key} found twice')
        state[key] = torch.from_numpy(np.ascontiguousarray(arr).reshape(want).copy()).to(ref[key].dtype)
        used.add(name)
    needed = {k for k, _ in module.named_parameters()}
    needed |= {k for k, b in module.named_buffers() if b.is_floating_point() and _read_by_forward(k)}
    missing = sorted(k for k in needed - set(state) if not (optional and optional(k)))
    if missing:
        raise ValueError(f'{path}: no initializer for {missing}')
    used_ids = {id(inits[k]) for k in used}
    return state, {k: v for k, v in inits.items() if k not in used and id(v) not in used_ids}


def _read_by_forward(buffer_name: str) -> bool:
    # VectorQuantizerEMA: inference reads only the codebook; the EMA statistics are training state
    return not buffer_name.endswith(('cluster_size', 'embed_avg'))


def load_state_over(module: torch.nn.Module, state: dict) -> dict:
    """Copies `state` (some of module's tensors) into module in place; the rest keep their values.
    -> the module's full state dict as loaded."""
    full = module.state_dict()
    full.update(state)
    module.load_state_dict(full)
    return full


def load_from_onnx(module: torch.nn.Module, path: str, optional=None) -> dict:
    """Copies the ONNX file's weights into module (in place); returns the leftover initializers.
    `optional(key)`: module tensors the file may lack (they keep their values)."""
    state, rest = onnx_state(path, module, optional)
    load_state_over(module, state)
    return rest


def initializers_equal(path_a: str, path_b: str) -> tuple[bool, list]:
    """Same initializer names, shapes and values (exactly) in two ONNX files."""
    import onnx
    a, b = _initializers(onnx.load(path_a)), _initializers(onnx.load(path_b))
    diff = sorted(set(a) ^ set(b))
    for k in set(a) & set(b):
        if a[k].shape != b[k].shape or a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k]):
            diff.append(k)
    return not diff, diff
