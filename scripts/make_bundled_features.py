"""Rebuilds the feature networks shipped in resources/features/.

    OMP_NUM_THREADS=1 python scripts/make_bundled_features.py

One network per built-in generated dataset at its default image size, trained exactly as
eval trains it on first use (default FeatureSettings, the training split, scored on the test
split), with one thread like scripts/reproduce_results.sh. About a minute on 2 CPU cores.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = {"digits": 32, "toyfaces": 64}  # dataset: image size (the built-in defaults)


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GENAE_STUDIO_CACHE"] = cache
        from genae_studio.data import resolve_dataset
        from genae_studio.features import FeatureSettings, cache_paths, feature_extractor
        from genae_studio.plugins import load_plugins

        host = load_plugins()
        out = ROOT / "resources" / "features"
        out.mkdir(parents=True, exist_ok=True)
        for name, size in BUNDLED.items():
            train = resolve_dataset(name, host.datasets, split="train", image_size=size)
            test = resolve_dataset(name, host.datasets, split="test", image_size=size)
            extractor = feature_extractor(train, FeatureSettings(), heldout=test, retrain=True)
            stem, _ = cache_paths(train, FeatureSettings())
            for old in out.glob(f"{stem.name.rsplit('-', 1)[0]}-*"):
                old.unlink()  # an older key's network
            for suffix in (".safetensors", ".json"):
                shutil.copyfile(stem.with_suffix(suffix), out / (stem.name + suffix))
            print(f"{stem.name}: {extractor.info.get('heldout')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
