#!/usr/bin/env bash
# Rebuilds the bundled runs in resources/runs/ (shipped in the wheel as package data) with
# the project's own train command, then slims each to the bundled layout: config.json
# (format 1) and model.safetensors side by side, no optimiser state.
# About 50 minutes per model on one core of a 2-core laptop CPU (2026-12-02); minutes on a GPU.
#   MODELS="aae daae" bash scripts/make_bundled_runs.sh   # some of them
#   FROM=DIR bash scripts/make_bundled_runs.sh            # slim runs already trained in DIR/MODEL
set -euo pipefail
cd "$(dirname "$0")/.."
runs=resources/runs
for model in ${MODELS:-vae dvae aae daae}; do
  src=${FROM:-out/bundled}/$model
  if [ -z "${FROM:-}" ]; then
    genae-studio train --model "$model" --data toyfaces --epochs 20 --batch-size 64 \
      --width 16 --latent-dim 200 --seed 0 --out "$src" --overwrite
  fi
  python - "$src" "$runs/$model" <<'PY'
import json, os, shutil, sys, tempfile
from pathlib import Path
from genae_studio.runs import checkpoint_file
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
config = json.loads((src / "config.json").read_text())
weights = checkpoint_file(src)
config.update(format_version=1)
for key in ("checkpoint", "plugin_source"):
    config.pop(key, None)
config.get("data", {}).pop("path", None)  # where it was trained: not the user's machine
tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}-"))
tmp.chmod(0o755)
shutil.copyfile(weights, tmp / "model.safetensors")
(tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
old = dst.with_name(f".{dst.name}-old")
if dst.exists():
    os.replace(dst, old)
os.replace(tmp, dst)
shutil.rmtree(old, ignore_errors=True)
print(f"{dst}: bundled from {src} (epoch {config['progress']['epoch']})")
PY
done
