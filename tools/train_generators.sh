#!/usr/bin/env bash
# Train the shipped ReStGAN, the StackGAN baseline and the stage-II ablation (ReStGAN with a paired stage II:
# real images downsampled as input, reconstruction and feature matching) side by side on one machine, on one shared render cache, within a wall-clock budget.
# Written for a lent GPU machine (16 cores, one GPU) but runs anywhere: the same `gan-studio train` on CPU or CUDA.
#
#   ITEMS=32000 S1=270 S2=110 OUT_DIR=$OUT bash tools/train_generators.sh
#
# Environment: ITEMS (built-in training items), S1 / S2 (seconds of stage I / stage II), BATCH, RUNS (work folder),
# OUT_DIR (where the weights and a tarball of manifests, cards, logs and last sample grids are copied), INIT=1
# (continue from the shipped resources/restgan and resources/stackgan weights: a later session adds to the
# earlier ones; the discriminators start fresh; ITEMS must be the shipped models' own, 12000, for the same vocabulary), TINY=1 (a seconds-long smoke run with the tests' tiny config).
#
# Seen on the lent H200 (2026-12-04): rendering in 16 processes while a smoke run used torch's default 16 threads
# stalled for 9 minutes, hence the thread caps below; ReStGAN's stage I then ran at 6.7 steps/s (batch 128), bound
# by per-step overhead (the LSTM's 24 word steps, spectral norm's power iterations, many small kernels), not by
# the GPU: profile before raising the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${ITEMS:-32000}; S1=${S1:-270}; S2=${S2:-110}; BATCH=${BATCH:-128}
RUNS=${RUNS:-/tmp/gan_runs}; OUT_DIR=${OUT_DIR:-$RUNS/out}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$RUNS" "$OUT_DIR"
gs() { "$PY" -c 'import sys; from gan_studio.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }

extra=()
if [ "${TINY:-0}" = 1 ]; then
  extra=(--tiny); ITEMS=24; BATCH=4
fi
# Fail fast: a few tiny steps on this device (while the catalog renders) before anything long.
size=$([ "${TINY:-0}" = 1 ] && echo 64 || echo 128)
cache="$RUNS/items_s0_n${ITEMS}_${size}.npz"
"$PY" -c "
from pathlib import Path
from gan_studio.train.text_data import render_builtin
render_builtin(Path('$cache'), 0, $ITEMS, $size)
" &
render=$!
gs train restgan --tiny --out "$RUNS/smoke" --no-progress --threads 2 --stage1-steps 2 --stage2-steps 2 > "$RUNS/smoke.log" 2>&1 \
  || { cat "$RUNS/smoke.log"; kill $render; exit 1; }
echo "smoke run ok: $(date +%T)"
wait $render
echo "rendered $ITEMS items: $(date +%T)"

common=(--data builtin --cache "$cache" --items "$ITEMS" --batch "$BATCH" --seed 0 --stage1-steps 100000
        --stage2-steps 100000 --stage1-seconds "$S1" --stage2-seconds "$S2" --checkpoint-every 100000
        --sample-every 1000 --threads 4 --no-progress "${extra[@]}")
init() { [ "${INIT:-0}" = 1 ] && echo "--init resources/$1/$1.safetensors"; true; }
gs train restgan --out "$RUNS/restgan" "${common[@]}" $(init restgan) > "$RUNS/restgan.log" 2>&1 &
p1=$!
gs train stackgan --out "$RUNS/stackgan" "${common[@]}" $(init stackgan) > "$RUNS/stackgan.log" 2>&1 &
p2=$!
# The ablation: the same stage I (ReStGAN's state saved at the stage boundary, untouched until its run ends),
# then a paired stage II for the same time.
until grep -q '"stage": 2' "$RUNS/restgan/log.jsonl" 2>/dev/null; do
  kill -0 $p1 2>/dev/null || break
  sleep 1
done
mkdir -p "$RUNS/restgan_paired"
pids="$p1 $p2"
if cp "$RUNS/restgan/train_state.safetensors" "$RUNS/restgan/train_state.json" "$RUNS/restgan_paired/"; then
  gs train restgan --out "$RUNS/restgan_paired" --stage2-mode paired "${common[@]}" \
    > "$RUNS/restgan_paired.log" 2>&1 &
  pids="$pids $!"
fi
status=0
for p in $pids; do wait "$p" || status=1; done
echo "trained: $(date +%T) (status $status)"
tail -n 3 "$RUNS"/*.log

for run in restgan stackgan restgan_paired; do
  arch=${run%%_*}
  [ -f "$RUNS/$run/$arch.safetensors" ] && cp "$RUNS/$run/$arch.safetensors" "$OUT_DIR/$run.safetensors"
done
(cd "$RUNS" && tar czf "$OUT_DIR/runs.tar.gz" --exclude='*.safetensors' --exclude='train_state.json' \
   $(ls -d restgan stackgan restgan_paired 2>/dev/null) ./*.log) || true
ls -la "$OUT_DIR"
exit $status
