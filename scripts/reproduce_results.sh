#!/usr/bin/env bash
# Reproduces the numbers and figures of docs/results.md.
#
#   scripts/reproduce_results.sh            # everything (about 15 minutes on 2 CPU cores)
#   SEEDS="0" N=500 scripts/reproduce_results.sh   # a quick, noisier version
#
# The toyfaces models are the bundled runs in resources/runs (rebuild them with
# resources/make_bundled_runs.sh); the digits models are trained here into runs/digits.
# Raw output (tables and JSON per seed) goes to out/results; figures to docs/figures.
set -euo pipefail
cd "$(dirname "$0")/.."
GS=${GS:-genae-studio}
PY=${PY:-python}
SEEDS=${SEEDS:-"0 1 2"}
N=${N:-2000}
OUT=out/results
FIG=docs/figures
MODELS="vae dvae aae daae"
mkdir -p "$OUT" "$FIG"

# 1. The digits models: the paper's settings except width 16 (about 20 s each).
for m in $MODELS; do
  if [ ! -f "runs/digits/$m/config.json" ]; then
    "$GS" train --model "$m" --data digits --epochs 20 --width 16 --seed 0 \
      --out "runs/digits/$m"
  fi
done

# 2. The metrics, for each seed (chains, held-out subset and halves change with the seed;
#    the feature network is trained once per dataset and cached).
for seed in $SEEDS; do
  figures=()
  [ "$seed" = "0" ] && figures=(--figures "$OUT/figures")
  "$GS" eval --checkpoint runs/digits/vae runs/digits/dvae runs/digits/aae runs/digits/daae \
    --steps 0,1,5,10 --n "$N" --seed "$seed" --json "$OUT/digits-seed$seed.json" \
    "${figures[@]}" | tee "$OUT/digits-seed$seed.txt"
  "$GS" eval --model $MODELS --steps 0,1,5,10 --n "$N" --seed "$seed" \
    --json "$OUT/toyfaces-seed$seed.json" "${figures[@]}" | tee "$OUT/toyfaces-seed$seed.txt"
done
# The paper samples with batch-norm minibatch statistics; the same with running statistics:
"$GS" eval --checkpoint runs/digits/vae runs/digits/dvae runs/digits/aae runs/digits/daae \
  --steps 0,1,5,10 --n "$N" --seed 0 --bn-mode eval \
  --json "$OUT/digits-bneval-seed0.json" | tee "$OUT/digits-bneval-seed0.txt"
"$GS" eval --model $MODELS --steps 0,1,5,10 --n "$N" --seed 0 --bn-mode eval \
  --json "$OUT/toyfaces-bneval-seed0.json" | tee "$OUT/toyfaces-bneval-seed0.txt"

# Longer chains (one seed; toyfaces with n = 500 to keep it short):
"$GS" eval --checkpoint runs/digits/vae runs/digits/dvae runs/digits/aae runs/digits/daae \
  --steps 0,1,2,3,5,10,20,50 --n "$N" --seed 0 \
  --json "$OUT/digits-long-seed0.json" | tee "$OUT/digits-long-seed0.txt"
"$GS" eval --model $MODELS --steps 0,1,2,3,5,10,20,50 --n 500 --seed 0 \
  --json "$OUT/toyfaces-long-seed0.json" | tee "$OUT/toyfaces-long-seed0.txt"

# 3. Figures: the paper's Figure 4 layout (a row per step) with the sample command, its
#    Figure 2 layout (rows before, then after 5 steps) with the interpolate command, and the
#    sunglasses interpolations that eval measured (each pair: a row per step 0, 1, 5, 10).
for m in $MODELS; do
  "$GS" sample --model "$m" --n 12 --steps 0,1,5,10 --seed 0 --out "$FIG/toyfaces-$m-samples.png"
  "$GS" sample --checkpoint "runs/digits/$m" --n 12 --steps 0,1,5,10 --seed 0 \
    --out "$FIG/digits-$m-samples.png"
  "$GS" interpolate --model "$m" --pairs 3 --points 8 --steps 5 --seed 0 \
    --out "$FIG/toyfaces-$m-interp.png"
  "$GS" interpolate --checkpoint "runs/digits/$m" --pairs 3 --points 8 --steps 5 --seed 0 \
    --out "$FIG/digits-$m-interp.png"
  cp "$OUT/figures/toyfaces-$m-sunglasses.png" "$FIG/"
done

# 4. Markdown tables (mean and spread over the seeds) for docs/results.md.
"$PY" scripts/results_tables.py "$OUT" $SEEDS > docs/results-tables.md
"$PY" scripts/results_tables.py --readme "$OUT" $SEEDS > "$OUT/readme-tables.md"
echo "wrote docs/results-tables.md and $OUT/readme-tables.md (the README's tables)"
