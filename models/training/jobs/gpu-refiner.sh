#!/usr/bin/env bash
# The refiner's warm restart on a lent GPU machine (the `device` tool's `run`), from the
# repository root. That machine sees the work tree plus carried git-ignored folders (64 MiB in
# all) and has PyTorch 2 but maybe not onnx, pydicom or nibabel, so its inputs are made here
# first:
#   cd models/training && /usr/bin/python3 -m ldm.refiner_pack --config configs/demo.json \
#       --out ../.gpu-data/refiner --budget-mb 32 --start-from ../geometry-ldm-demo/refiner.onnx
# then: run(command="bash models/training/jobs/gpu-refiner.sh", carry=["models/.gpu-data"]).
# The checkpoint and log come back under $OUT/ckpt/refiner; export and measure them here
# (models/training/README.md). Pairs are made by CPU workers (one per core but two), which
# bound the rate: the GPU step itself is a few milliseconds. EXTRA passes more options to
# ldm.train_refiner, e.g. EXTRA="--set refiner.blocks=9" for a deeper refiner grown from start.pt.
set -euo pipefail
MINUTES=${MINUTES:-7}
OUT=${OUT:-/tmp/gpu-refiner}
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
workers=$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))
"$PY" -m ldm.train_refiner --config configs/demo.json --packed ../.gpu-data/refiner \
    --warm-start ../.gpu-data/refiner/start.pt --device "${DEVICE:-cuda}" --threads 2 --workers "$workers" \
    --batch-size "${BATCH:-16}" --lr "${LR:-4e-4}" --minutes "$MINUTES" --checkpoint-dir "$OUT/ckpt" \
    ${EXTRA:-} | awk 'NR % 20 == 1 || /info/'
