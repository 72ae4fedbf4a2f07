#!/usr/bin/env bash
# Reproduces the README's Results: every model on every dataset, several training seeds.
#
#   scripts/reproduce_results.sh                       # the full protocol (hours on 2 CPU cores)
#   TRAIN_SEEDS="0" FACES_TRAIN_SEEDS="0" CHAIN_SEEDS="0" scripts/reproduce_results.sh  # quick
#
# Settings (environment variables):
#   TRAIN_SEEDS        digits training seeds (default "0 1 2"); models go to runs/digits/seedS/M
#   FACES_TRAIN_SEEDS  toyfaces training seeds (default "0 1 2"); seed 0 is the bundled runs in
#                      genae_studio/resources/runs, other seeds are trained into runs/toyfaces/seedS/M
#                      (about 20 minutes per model on an idle 2-core CPU)
#   CHAIN_SEEDS        eval seeds per trained model (default "0 1"): chains, held-out subset
#   N, FACES_N         chains per eval (default 2000; digits' test split caps it at 360)
#   THREADS            torch/OpenMP threads (default 1: the numbers depend on the thread count)
#   DATASETS           which datasets to train, evaluate and study (default "digits toyfaces")
#   FIGURES            1 (default) to redraw the figures from the seed-0 models, 0 to skip
#   FORCE=1            redo evals whose JSON already exists (trained models are always kept)
#
# Every step is skipped when its output exists, so an interrupted run can be resumed.
# Raw output (tables, JSON with library versions and thread count) goes to out/results;
# figures to docs/figures; tables to docs/results-tables.md; stage times to
# out/results/timing.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
GS=${GS:-genae-studio}
PY=${PY:-python}
TRAIN_SEEDS=${TRAIN_SEEDS:-"0 1 2"}
FACES_TRAIN_SEEDS=${FACES_TRAIN_SEEDS:-"0 1 2"}
CHAIN_SEEDS=${CHAIN_SEEDS:-"0 1"}
N=${N:-2000}
FACES_N=${FACES_N:-2000}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
OUT=out/results
FIG=docs/figures
MODELS="vae dvae aae daae"
STEPS=0,1,2,3,5,10,20
DATASETS=${DATASETS:-"digits toyfaces"}
case " $DATASETS " in *" digits "*) ;; *) TRAIN_SEEDS="";; esac
case " $DATASETS " in *" toyfaces "*) ;; *) FACES_TRAIN_SEEDS="";; esac
mkdir -p "$OUT" "$FIG"
started=$SECONDS
stage() { echo "$(date -u +%H:%M:%S) $1: $(( SECONDS - started )) s since start" | tee -a "$OUT/timing.txt"; }

trained() {  # a run folder whose training reached its last epoch
  "$PY" - "$1" <<'EOF'
import json, sys
try:
    c = json.load(open(sys.argv[1] + "/config.json"))
    sys.exit(0 if c["progress"]["epoch"] >= c["training"]["epochs"] else 1)
except Exception:
    sys.exit(1)
EOF
}

run_dir() {  # run_dir DATA SEED MODEL
  if [ "$1" = toyfaces ] && [ "$2" = 0 ]; then echo "genae_studio/resources/runs/$3"; else echo "runs/$1/seed$2/$3"; fi
}

evaluate() {  # evaluate JSON-STEM ARGS...: one eval, skipped when its JSON exists
  local stem=$1; shift
  if [ -f "$OUT/$stem.json" ] && [ "${FORCE:-0}" != 1 ]; then return; fi
  "$GS" eval "$@" --json "$OUT/$stem.json" > "$OUT/$stem.txt"
}

# 1. Training: the paper's settings except width 16 (digits: 32 px, about 4 minutes each on
#    one busy core; toyfaces: 64 px, the bundled runs' recipe, scripts/make_bundled_runs.sh).
for seed in $TRAIN_SEEDS; do
  for m in $MODELS; do
    dir=$(run_dir digits "$seed" "$m")
    trained "$dir" || "$GS" train --model "$m" --data digits --epochs 20 --width 16 \
      --seed "$seed" --out "$dir" --overwrite  # an unfinished run starts again
  done
done
stage "digits models trained"
for seed in $FACES_TRAIN_SEEDS; do
  [ "$seed" = 0 ] && continue  # the bundled runs
  for m in $MODELS; do
    dir=$(run_dir toyfaces "$seed" "$m")
    trained "$dir" || "$GS" train --model "$m" --data toyfaces --epochs 20 --batch-size 64 \
      --width 16 --latent-dim 200 --seed "$seed" --out "$dir" --overwrite
  done
done
stage "toyfaces models trained"

# 2. The main tables: every trained model, each chain seed, both feature spaces, batch-norm
#    minibatch statistics (the paper's choice), all chains in one batch.
for seed in $TRAIN_SEEDS; do
  dirs=$(for m in $MODELS; do run_dir digits "$seed" "$m"; done)
  for c in $CHAIN_SEEDS; do
    # shellcheck disable=SC2086
    evaluate "digits-train$seed-chain$c" --checkpoint $dirs --steps $STEPS --n "$N" --seed "$c"
  done
done
stage "digits evals"
for seed in $FACES_TRAIN_SEEDS; do
  dirs=$(for m in $MODELS; do run_dir toyfaces "$seed" "$m"; done)
  for c in $CHAIN_SEEDS; do
    # shellcheck disable=SC2086
    evaluate "toyfaces-train$seed-chain$c" --checkpoint $dirs --steps $STEPS --n "$FACES_N" \
      --seed "$c"
  done
done
stage "toyfaces evals"

# 3. Batch norm (training seed 0, chain seed 0). The same seeds at n = 16, 64, 256 and the
#    full n in batch mode (the operator and the metrics' sample size both change); the full
#    n run in independent batches of 16, 64, 256 (only the operator changes); running
#    statistics (eval) and precise statistics (batch-independent).
bn_study() {  # bn_study DATA FULL-N
  local data=$1 full=$2 dirs
  dirs=$(for m in $MODELS; do run_dir "$data" 0 "$m"; done)
  # shellcheck disable=SC2086
  for n in 16 64 256; do
    evaluate "$data-bn-batch-n$n" --checkpoint $dirs --steps 0,1,5,10 --n "$n" --seed 0
    evaluate "$data-bn-batch-b$n" --checkpoint $dirs --steps 0,1,5,10 --n "$full" --seed 0 \
      --chain-batch "$n"
  done
  for mode in eval precise; do
    # shellcheck disable=SC2086
    evaluate "$data-bn-$mode" --checkpoint $dirs --steps 0,1,5,10 --n "$full" --seed 0 \
      --bn-mode "$mode"
  done
}
[ -n "$TRAIN_SEEDS" ] && bn_study digits "$N" && stage "digits batch-norm study"
[ -n "$FACES_TRAIN_SEEDS" ] && bn_study toyfaces "$FACES_N" && stage "toyfaces batch-norm study"

# 4. Figures (training seed 0): the paper's Figure 4 layout (a row per step) and its Figure 2
#    layout (rows before, then after 5 steps). The README's figures use n = 12 chains in
#    batch mode; the tables use n = 2000 (360 on digits), so with batch norm in batch mode
#    the figures' chains are a different operator; the batch-norm study measures how much.
[ "${FIGURES:-1}" = 1 ] && for m in $MODELS; do
  "$GS" sample --model "$m" --n 12 --steps 0,1,5,10 --seed 0 --out "$FIG/toyfaces-$m-samples.png"
  "$GS" sample --checkpoint "runs/digits/seed0/$m" --n 12 --steps 0,1,5,10 --seed 0 \
    --out "$FIG/digits-$m-samples.png"
  "$GS" interpolate --model "$m" --pairs 3 --points 8 --steps 5 --seed 0 \
    --out "$FIG/toyfaces-$m-interp.png"
  "$GS" interpolate --checkpoint "runs/digits/seed0/$m" --pairs 3 --points 8 --steps 5 \
    --seed 0 --out "$FIG/digits-$m-interp.png"
done
if [ "${FIGURES:-1}" = 1 ]; then
  # The scored sunglasses interpolations (each pair: a row per step 0, 1, 5, 10).
  # shellcheck disable=SC2086
  "$GS" eval --model $MODELS --steps 0,1,5,10 --n 500 --seed 0 --features cnn \
    --figures "$OUT/figures" > /dev/null
  for m in $MODELS; do cp "$OUT/figures/toyfaces-$m-sunglasses.png" "$FIG/"; done
  stage "figures"
fi

# 5. Markdown tables: mean ± sd over training seeds, chain-seed spread separately.
"$PY" scripts/results_tables.py "$OUT" > docs/results-tables.md
stage "tables (docs/results-tables.md)"
