#!/usr/bin/env bash
# Rebuilds the bundled runs in resources/runs/ (shipped in the wheel as package
# data) with the project's own train command.
# About 20 minutes per model on a 2-core laptop CPU; minutes on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=resources/runs
for model in vae dvae aae daae; do
  genae-studio train --model "$model" --data toyfaces --epochs 20 --batch-size 64 \
    --width 16 --latent-dim 200 --seed 0 --out "$runs/$model"
  rm -f "$runs/$model/training_state.pt"  # weights and config only: keeps them small
done
