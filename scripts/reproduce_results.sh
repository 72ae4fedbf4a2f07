#!/usr/bin/env bash
# Reproduces the README's Results: every model on every dataset, several training seeds, each
# sampler (the prior at temperature 1 and a temperature sweep, a GMM on the codes, the
# reweighted prior) followed by the chain, with the control rows, 3 chain seeds.
#
#   JOBS=2 scripts/reproduce_results.sh                # the full protocol (see docs/results/README.md)
#   TRAIN_SEEDS="0" FACES_TRAIN_SEEDS="0" CHAIN_SEEDS="0" BN_STUDY=0 scripts/reproduce_results.sh
#
# Settings (environment variables):
#   TRAIN_SEEDS        digits training seeds (default "0 1 2"); models go to $RUNS/digits/seedS/M
#   FACES_TRAIN_SEEDS  toyfaces training seeds (default "0 1 2"); seed 0 is the bundled runs in
#                      resources/runs, other seeds are trained into $RUNS/toyfaces/seedS/M
#                      (about 12 minutes per model on one idle core)
#   CHAIN_SEEDS        eval seeds per trained model (default "0 1 2"): chains, held-out subset
#   N, FACES_N         chains per eval (default 2000; digits' test split caps it at 360)
#   MODELS             which models (default "vae dvae aae daae")
#   FACES_MODELS       which models on toyfaces (default: MODELS)
#   STEPS              chain steps measured (default 0,1,2,3,5,10,20)
#   SAMPLERS           eval --sampler: starting samplers, each followed by the chain
#                      (default prior,gmm,reweighted)
#   TEMPERATURES       eval --temperatures: the prior's temperature sweep at t = 0 (default
#                      0.2,0.4,0.6,0.8,0.9; the prior itself is temperature 1); "" for none.
#                      With batch statistics the decoder's first batch norm cancels any global
#                      scale of z (every temperature decodes to the same images), so the sweep
#                      runs in its own evals, DATA-trainS-chainC-$SWEEP_BN, beside the chain
#                      from the prior in the same batch-norm mode
#   SWEEP_BN           batch norm of the sweep evals (default precise; or eval)
#   SWEEP_SAMPLERS     samplers of the sweep evals, each followed by the chain (default prior)
#   SWEEP_CHAIN_SEEDS  chain seeds of the sweep evals (default: CHAIN_SEEDS)
#   BN_STUDY           1 (default) to run the batch-norm study (prior only), 0 to skip it, or
#                      the datasets to run it on (e.g. "digits")
#   THREADS            torch/OpenMP threads (default 1: the numbers depend on the thread count)
#   JOBS               trainings or evals run at a time (default 1; one per core is fastest)
#   DATASETS           which datasets to train, evaluate and study (default "digits toyfaces")
#   FIGURES            1 (default) to redraw the figures from the seed-0 models, 0 to skip
#   FORCE=1            redo evals whose JSON already exists (trained models are always kept)
#   EPOCHS             training epochs (default 20, the paper's; fewer only to try the script)
#   RUNS               where models are trained (default runs)
#   OUT                raw output (default out/results)
#   RECORD             the committed record the raw output is copied to (default docs/results;
#                      "none" to leave it alone, e.g. for a trial run)
#   TABLES             the Markdown tables written from the record (default
#                      docs/results-tables.md; with RECORD=none they are written from OUT)
#   FIG                figures folder (default docs/figures)
#
# Every step is skipped when its output exists (an eval: when its JSON exists and was made with
# the same arguments, recorded beside it as STEM.args), so an interrupted run can be resumed.
# Raw output (tables, JSON with library versions and thread count) goes to $OUT, and is then
# copied over the committed record in $RECORD; figures go to $FIG, tables to $TABLES, stage
# times to $OUT/timing.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
GS=${GS:-genae-studio}
PY=${PY:-python}
TRAIN_SEEDS=${TRAIN_SEEDS:-"0 1 2"}
FACES_TRAIN_SEEDS=${FACES_TRAIN_SEEDS:-"0 1 2"}
CHAIN_SEEDS=${CHAIN_SEEDS:-"0 1 2"}
N=${N:-2000}
FACES_N=${FACES_N:-2000}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
OUT=${OUT:-out/results}
RECORD=${RECORD:-docs/results}
TABLES=${TABLES:-docs/results-tables.md}
FIG=${FIG:-docs/figures}
RUNS=${RUNS:-runs}
EPOCHS=${EPOCHS:-20}
MODELS=${MODELS:-"vae dvae aae daae"}
FACES_MODELS=${FACES_MODELS:-$MODELS}
models_of() { if [ "$1" = toyfaces ]; then echo "$FACES_MODELS"; else echo "$MODELS"; fi; }
STEPS=${STEPS:-0,1,2,3,5,10,20}
SAMPLERS=${SAMPLERS:-prior,gmm,reweighted}
TEMPERATURES=${TEMPERATURES-0.2,0.4,0.6,0.8,0.9}
BN_STUDY=${BN_STUDY:-1}
DATASETS=${DATASETS:-"digits toyfaces"}
JOBS=${JOBS:-1}
SWEEP_BN=${SWEEP_BN:-precise}
SWEEP_SAMPLERS=${SWEEP_SAMPLERS:-prior}
SWEEP_CHAIN_SEEDS=${SWEEP_CHAIN_SEEDS:-$CHAIN_SEEDS}
case $JOBS in
  '' | *[!0-9]* | 0*) echo "reproduce_results.sh: JOBS must be a positive integer, got '$JOBS'" >&2; exit 2 ;;
esac
case " $DATASETS " in *" digits "*) ;; *) TRAIN_SEEDS="";; esac
case " $DATASETS " in *" toyfaces "*) ;; *) FACES_TRAIN_SEEDS="";; esac
mkdir -p "$OUT" "$FIG"
started=$SECONDS
stage() { echo "$(date -u +%H:%M:%S) $1: $(( SECONDS - started )) s since start" | tee -a "$OUT/timing.txt"; }

# Up to JOBS commands at a time; barrier waits for them all and stops the script if one failed.
# Each runs in its own process group (set -m), which leaving the script (Ctrl-C, an error)
# stops with everything it started.
pids=()
set -m
trap 'for job in $(jobs -rp); do kill -- -"$job" 2> /dev/null || true; done' EXIT
trap 'exit 130' INT TERM
STEMS=()  # the evals of this run: the record is made of exactly these
background() {
  [ "$1" = evaluate ] && STEMS+=("$2")
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  "$@" &
  pids+=($!)
}
barrier() {
  local pid failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  pids=()
  if [ "$failed" != 0 ]; then echo "reproduce_results.sh: a step failed (see above)" >&2; exit 1; fi
}

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
  if [ "$1" = toyfaces ] && [ "$2" = 0 ]; then echo "resources/runs/$3"; else echo "$RUNS/$1/seed$2/$3"; fi
}

into() {  # into FILE CMD...: CMD's output becomes FILE whole, or FILE is left as it was
  local file=$1; shift
  if "$@" > "$file.part"; then mv "$file.part" "$file"; else rm -f "$file.part"; return 1; fi
}

train_run() {  # train_run DIR ARGS...: train into DIR unless it holds a finished run
  local dir=$1; shift
  trained "$dir" || "$GS" train "$@" --out "$dir" --overwrite  # an unfinished run starts again
}

evaluate() {  # evaluate JSON-STEM ARGS...: one eval, skipped when its JSON exists and was
  local stem=$1; shift  # made with the same arguments ($OUT/STEM.args; older output is redone)
  local args="$*"
  if [ -f "$OUT/$stem.json" ] && [ "${FORCE:-0}" != 1 ] && [ -f "$OUT/$stem.args" ] \
     && [ "$(cat "$OUT/$stem.args")" = "$args" ]; then return; fi
  rm -f "$OUT/$stem.args"
  into "$OUT/$stem.txt" "$GS" eval "$@" --json "$OUT/$stem.json"
  printf '%s' "$args" > "$OUT/$stem.args"
}

# 1. Training: the paper's settings except width 16 (digits: 32 px, about 20 s each on one
#    idle core; toyfaces: 64 px, the bundled runs' recipe, scripts/make_bundled_runs.sh, about
#    12 minutes each).
for seed in $TRAIN_SEEDS; do
  for m in $MODELS; do
    background train_run "$(run_dir digits "$seed" "$m")" --model "$m" --data digits \
      --epochs "$EPOCHS" --width 16 --seed "$seed"
  done
done
barrier
stage "digits models trained"
for seed in $FACES_TRAIN_SEEDS; do
  [ "$seed" = 0 ] && continue  # the bundled runs
  for m in $FACES_MODELS; do
    background train_run "$(run_dir toyfaces "$seed" "$m")" --model "$m" --data toyfaces \
      --epochs "$EPOCHS" --batch-size 64 --width 16 --latent-dim 200 --seed "$seed"
  done
done
barrier
stage "toyfaces models trained"

# 2. The main tables: every trained model, each chain seed, both feature spaces, batch-norm
#    minibatch statistics (the paper's choice), all chains in one batch; every sampler, each
#    followed by the chain; the control rows. Then the temperature sweep beside the chain
#    from the prior, in the SWEEP_BN mode.
main_evals() {  # main_evals DATA N TRAIN-SEEDS...
  local data=$1 n=$2 seed c dirs; shift 2
  for seed in "$@"; do
    dirs=$(for m in $(models_of "$data"); do run_dir "$data" "$seed" "$m"; done)
    for c in $CHAIN_SEEDS; do
      # shellcheck disable=SC2086
      background evaluate "$data-train$seed-chain$c" --checkpoint $dirs --steps "$STEPS" \
        --n "$n" --seed "$c" --sampler "$SAMPLERS"
    done
    [ -z "$TEMPERATURES" ] && continue
    for c in $SWEEP_CHAIN_SEEDS; do
      # shellcheck disable=SC2086
      background evaluate "$data-train$seed-chain$c-$SWEEP_BN" --checkpoint $dirs \
        --steps "$STEPS" --n "$n" --seed "$c" --bn-mode "$SWEEP_BN" \
        --sampler "$SWEEP_SAMPLERS" --temperatures "$TEMPERATURES"
    done
  done
}
# shellcheck disable=SC2086
main_evals digits "$N" $TRAIN_SEEDS
# shellcheck disable=SC2086
main_evals toyfaces "$FACES_N" $FACES_TRAIN_SEEDS
barrier
stage "main and temperature-sweep evals"

# 3. Batch norm (training seed 0, chain seed 0, the prior only). The same seeds at n = 16, 64,
#    256 and the full n in batch mode (the operator and the metrics' sample size both change); the full
#    n run in independent batches of 16, 64, 256 (only the operator changes); running
#    statistics (eval) and precise statistics (batch-independent).
bn_study() {  # bn_study DATA FULL-N
  local data=$1 full=$2 dirs
  dirs=$(for m in $(models_of "$data"); do run_dir "$data" 0 "$m"; done)
  # shellcheck disable=SC2086
  for n in 16 64 256; do
    background evaluate "$data-bn-batch-n$n" --checkpoint $dirs --steps 0,1,5,10 --n "$n" \
      --seed 0
    background evaluate "$data-bn-batch-b$n" --checkpoint $dirs --steps 0,1,5,10 \
      --n "$full" --seed 0 --chain-batch "$n"
  done
  for mode in eval precise; do
    # shellcheck disable=SC2086
    background evaluate "$data-bn-$mode" --checkpoint $dirs --steps 0,1,5,10 --n "$full" \
      --seed 0 --bn-mode "$mode"
  done
}
[ "$BN_STUDY" = 1 ] && BN_STUDY="digits toyfaces"
if [ "$BN_STUDY" != 0 ]; then
  case " $TRAIN_SEEDS :$BN_STUDY " in *" 0 "*digits*) bn_study digits "$N";; esac
  case " $FACES_TRAIN_SEEDS :$BN_STUDY " in *" 0 "*toyfaces*) bn_study toyfaces "$FACES_N";; esac
fi
barrier
stage "batch-norm study"

# 4. Figures (training seed 0): the paper's Figure 4 layout (a row per step) and its Figure 2
#    layout (rows before, then after 5 steps). The README's figures use n = 12 chains in
#    batch mode; the tables use n = 2000 (360 on digits), so with batch norm in batch mode
#    the figures' chains are a different operator; the batch-norm study measures how much.
[ "${FIGURES:-1}" = 1 ] && for m in $MODELS; do
  "$GS" sample --model "$m" --n 12 --steps 0,1,5,10 --seed 0 --out "$FIG/toyfaces-$m-samples.png"
  "$GS" sample --checkpoint "$RUNS/digits/seed0/$m" --n 12 --steps 0,1,5,10 --seed 0 \
    --out "$FIG/digits-$m-samples.png"
  "$GS" interpolate --model "$m" --pairs 3 --points 8 --steps 5 --seed 0 \
    --out "$FIG/toyfaces-$m-interp.png"
  "$GS" interpolate --checkpoint "$RUNS/digits/seed0/$m" --pairs 3 --points 8 --steps 5 \
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

# 5. The committed record: this run's eval output replaces its counterparts in $RECORD
#    (so `git diff docs/` shows what came out differently here), and the Markdown tables are
#    regenerated from it: mean ± sd over training seeds, chain-seed spread separately; the
#    sampler comparison, the controls and the claims as counts.
#    The record is exactly this run's evals: older eval files there (other seeds, datasets or
#    studies than this run's) are removed first, so the tables never mix two protocols.
source_dir=$OUT
if [ "$RECORD" != none ] && [ ${#STEMS[@]} -gt 0 ]; then
  mkdir -p "$RECORD"
  rm -f "$RECORD"/*-train*-chain*.json "$RECORD"/*-train*-chain*.txt "$RECORD"/*-bn-*.json \
    "$RECORD"/*-bn-*.txt
  for stem in "${STEMS[@]}"; do
    for g in "$OUT/$stem.json" "$OUT/$stem.txt"; do into "$RECORD/$(basename "$g")" cat "$g"; done
  done
  source_dir=$RECORD
fi
into "$TABLES" "$PY" scripts/results_tables.py "$source_dir"
stage "tables ($TABLES)"
