"""The feature networks of the built-in datasets ship with the package and are current."""
from __future__ import annotations

import json

import pytest

from genae_studio import features
from genae_studio.data import resolve_dataset
from genae_studio.env import resources_dir
from genae_studio.features import FeatureSettings, cache_paths, feature_extractor

BUNDLED = resources_dir() / "features"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GENAE_STUDIO_RESOURCES", raising=False)


def _no_training(*args, **kwargs):
    raise AssertionError("the shipped feature network should have been used")


@pytest.mark.parametrize("name, size", [("digits", 32), ("toyfaces", 64)])
def test_the_shipped_network_matches_todays_data_and_settings(name, size, host):
    """Fails when the data, the network or its settings change without
    `python scripts/make_bundled_features.py` being rerun (the cache key would not match)."""
    train = resolve_dataset(name, host.datasets, split="train", image_size=size)
    stem, key = cache_paths(train, FeatureSettings())
    meta = json.loads((BUNDLED / f"{stem.name}.json").read_text())
    assert meta["key"] == key and meta["arch"] == features.ARCH_VERSION


def test_a_first_eval_on_digits_loads_the_shipped_network(host, empty_cache, monkeypatch):
    monkeypatch.setattr(features, "train_feature_net", _no_training)
    train = resolve_dataset("digits", host.datasets, split="train", image_size=32)
    extractor = feature_extractor(train)
    assert extractor.info["from_cache"] and "resources" in extractor.info["cache"]
    assert extractor.info["heldout"]["label_acc"] > 0.95  # scored when it was made


def test_other_settings_or_no_shipped_network_train_as_before(host, empty_cache, tmp_path,
                                                                monkeypatch):
    trained = []

    def fake_training(dataset, settings, **kwargs):
        trained.append(settings.steps)
        raise RuntimeError("stop here")

    monkeypatch.setattr(features, "train_feature_net", fake_training)
    train = resolve_dataset("digits", host.datasets, split="train", image_size=32)
    with pytest.raises(RuntimeError, match="stop here"):
        feature_extractor(train, FeatureSettings(steps=599))  # not the shipped settings
    monkeypatch.setenv("GENAE_STUDIO_RESOURCES", str(tmp_path / "elsewhere"))
    with pytest.raises(RuntimeError, match="stop here"):
        feature_extractor(train)  # a resources folder without features
    with pytest.raises(RuntimeError, match="stop here"):
        monkeypatch.delenv("GENAE_STUDIO_RESOURCES")
        feature_extractor(train, retrain=True)  # --retrain-features ignores the shipped one
    assert trained == [599, 600, 600]
