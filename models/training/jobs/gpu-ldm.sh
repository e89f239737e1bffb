#!/usr/bin/env bash
# The latent diffusion (autoencoder, then UNet on its latents) fine-tuned on a lent GPU machine
# (the `device` tool's `run`), from the repository root. That machine sees the work tree plus
# carried git-ignored folders (64 MiB in all) and has PyTorch 2 and onnx but no pydicom or
# nibabel, so the training scans travel as a pack made here first (about 30 MB):
#   cd models/training && /usr/bin/python3 -m ldm.scan_pack --config configs/demo.json --out ../.gpu-data/ldm \
#       --autoencoder-scans configs/autoencoder-scans.json --unet-scans configs/unet-scans.json
# then: run(command="bash models/training/jobs/gpu-ldm.sh", carry=["models/.gpu-data"]).
# Both stages warm-start from the committed model (--init-from: weights read from its ONNX files)
# with the recipe of 0.5.0 (L1, bone x5; the UNet on unit-variance latents); AE_EXTRA and
# UNET_EXTRA add options (e.g. "--set autoencoder.batch_size=16"; a wider UNet that starts as the
# committed one, ldm/widen.py: UNET_EXTRA="--set diffusion.widths=[96,192,192] --set
# diffusion.temb_ch=32 --set diffusion.norm_group_div=3", no spaces inside the JSON). Slim checkpoints (what
# ldm.export and ldm.evaluate read, under 16 MiB each) and the logs come back under
# $OUT/ckpt; export and measure them here (models/training/README.md).
set -euo pipefail
# 4 + 3 minutes of training plus loading, the latent cache and the slim copies: one call inside
# the device tool's 10-minute limit per command
AE_MINUTES=${AE_MINUTES:-4}
UNET_MINUTES=${UNET_MINUTES:-3}
OUT=${OUT:-/tmp/gpu-ldm}
DEVICE=${DEVICE:-cuda}
THREADS=${THREADS:-8}
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."
PACK=../.gpu-data/ldm
CK=$(mktemp -d /tmp/gpu-ldm-ck.XXXXXX)
[ -f "$PACK/autoencoder-scans.json" ] || { echo "gpu-ldm: no scan pack in models/.gpu-data/ldm (see the header)" >&2; exit 2; }
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
common=(--config configs/demo.json --init-from ../geometry-ldm-demo --checkpoint-dir "$CK" --device "$DEVICE"
        --threads "$THREADS" --data-root "$PACK")
"$PY" -m ldm.train "${common[@]}" --stage autoencoder --minutes "$AE_MINUTES" \
    --set autoencoder.max_iters=100000000 --set 'autoencoder.recon_loss="l1"' --set autoencoder.bone_weight=4 \
    --set autoencoder.batch_size=4 --set autoencoder.lr=0.0003 --set autoencoder.lr_min=0.00003 --set autoencoder.bf16=true \
    --set data.augment.fov_min=0.3 --set "data.scans=$(cat "$PACK/autoencoder-scans.json")" ${AE_EXTRA:-} \
    | awk 'NR % 20 == 1 || /info/'
"$PY" -m ldm.train "${common[@]}" --stage diffusion --minutes "$UNET_MINUTES" \
    --set diffusion.max_iters=100000000 --set diffusion.rescale_latents=true --set diffusion.latent_buckets=240 \
    --set "diffusion.scans=$(cat "$PACK/unet-scans.json")" ${UNET_EXTRA:-} \
    | awk 'NR % 20 == 1 || /info/'
mkdir -p "$OUT/ckpt"
"$PY" -m ldm.slim_checkpoint --checkpoint-dir "$CK" --out "$OUT/ckpt"
for s in autoencoder diffusion; do cp "$CK/$s/log.jsonl" "$OUT/ckpt/$s/log.jsonl"; done
