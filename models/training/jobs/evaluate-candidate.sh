#!/usr/bin/env bash
# A candidate model from training checkpoints, measured against the committed demo model on this
# machine (needs the repository's npm install and ../shared/data):
#   bash models/training/jobs/evaluate-candidate.sh CHECKPOINT_DIR OUT_DIR
# CHECKPOINT_DIR holds autoencoder/last.pt and diffusion/last.pt (e.g. /work/ckpt/ae-f4). The
# candidate is the committed model's folder with the checkpoints' encoder, decoder and UNet
# exported over it; its refiner is the committed refiner.onnx re-exported (byte-identical: checked
# below), so no refiner checkpoint is needed. Then `npm run bench -- generation-quality` with 8
# samples per case (SAMPLES overrides) against the committed model run on the same seeds and grid
# (GRID=nx,ny,nz; that run is kept for the next candidate): per seed set the mean W1, the bone and
# lung gaps, how many cases are lower than the committed model's and the worst ratio;
# OUT_DIR/images/generation-a/generation-vs-real.png shows the samples over the real crops. With SR=1 the
# super-resolution bench's diffusion mode runs too (11 cases; about 7x the factor-8 time at
# latent factor 4); SEEDS repeats the generation bench on other seed sets (below). Nothing in the
# repository changes.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CHECKPOINT_DIR OUT_DIR" >&2; exit 2; }
CKPT=$(realpath "$1")
OUT=$(realpath -m "$2")
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
COMMITTED="$ROOT/models/geometry-ldm-demo"
for f in autoencoder/last.pt diffusion/last.pt; do
    [ -f "$CKPT/$f" ] || { echo "$CKPT/$f: no such checkpoint" >&2; exit 2; }
done
rm -rf "$OUT" && mkdir -p "$OUT"
cp -r "$COMMITTED" "$OUT/model"
cd "$HERE"
/usr/bin/python3 -m ldm.export --config configs/demo.json --out "$OUT/model" --checkpoint-dir "$CKPT" \
    --manifest-extra configs/demo-card.json --metrics "$COMMITTED/metrics.json" \
    --refiner-checkpoint "$COMMITTED/refiner.onnx" > "$OUT/export.log" 2>&1
cmp -s "$OUT/model/refiner.onnx" "$COMMITTED/refiner.onnx" || { echo "refiner.onnx changed in export" >&2; exit 1; }
/usr/bin/python3 -c 'import json, sys; l = json.load(open(sys.argv[1]))["latent"]; print("candidate latent: factor", l["factor"], "scale", l["scale"])' "$OUT/model/model.json"
cd "$ROOT"
# One generation bench run: MODEL, seed set ('' = the recorded seeds), baseline ('' = none), name.
gen_bench() {
    GEOMETRY_LDM_BENCH_MODEL="$1" GEOMETRY_LDM_BENCH_SAMPLES="${SAMPLES:-8}" GEOMETRY_LDM_BENCH_SEEDS="$2" \
        GEOMETRY_LDM_BENCH_BASELINE="$3" GEOMETRY_LDM_BENCH_IMAGES="$OUT/images/$4" \
        npm run bench -- generation-quality > "$OUT/$4.log" 2>&1
    cp test-artifacts/bench/generation-quality.json "$OUT/$4.json"
}
# The committed model's run on a seed set and grid, kept across candidates (keyed by its model.json,
# which holds every file's sha256): each candidate is compared with it on the same draw.
committed_run() {
    local key dir
    key=$(sha256sum "$COMMITTED/model.json" | cut -c1-16)
    dir="${COMMITTED_RUNS:-/tmp/geometry-ldm-committed-runs}/$key-${GEOMETRY_LDM_BENCH_GRID:-default}-${SAMPLES:-8}-${1:-a}"
    if [ ! -f "$dir/run.json" ]; then
        gen_bench "$COMMITTED" "$1" "" "committed-${1:-a}"
        mkdir -p "$dir" && cp "$OUT/committed-${1:-a}.json" "$dir/run.json"
    fi
    echo "$dir/run.json"
}
# GRID=nx,ny,nz: the generation bench at another grid (its cases are named with the grid)
[ -n "${GRID:-}" ] && export GEOMETRY_LDM_BENCH_GRID="$GRID"
# seed set a is the recorded seeds; SEEDS="b c d" adds further sets (one set's mean of 8 cases moved
# by up to 1.4 HU between sets for the same model, single cases by up to 18 HU: BENCHMARKS.md)
for s in "" ${SEEDS:-}; do
    base=$(committed_run "$s")
    gen_bench "$OUT/model" "$s" "$base" "generation-${s:-a}"
    echo "seed set ${s:-a}: $(grep -E '^ *mean of the' "$OUT/generation-${s:-a}.log" | sed 's/^ *//')"
done
grep -E ' vs ' "$OUT/generation-a.log" | grep -v '^generation-quality'
if [ "${SR:-0}" = 1 ]; then
    GEOMETRY_LDM_BENCH_MODEL="$OUT/model" GEOMETRY_LDM_BENCH_SR='{"mode":"diffusion","samples":2}' \
        npm run bench -- sr-quality > "$OUT/sr-diffusion.log" 2>&1
    cp test-artifacts/bench/sr-quality.json "$OUT/sr-quality.json"
    grep -iE 'mean' "$OUT/sr-diffusion.log" | head -5
fi
