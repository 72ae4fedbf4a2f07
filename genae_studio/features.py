"""A small feature network trained on the dataset, for Frechet distance and precision/recall.

Inception weights cannot be downloaded here, so, like the "Frechet LeNet distance" used for
MNIST, this project trains its own small CNN on the training split of the dataset being
evaluated and takes its penultimate layer (``FEATURE_DIM`` values) as the feature space.

What the network learns depends on what the dataset offers:

* ``labels`` (digits, SVHN, MNIST, labelled folders): one class head.
* ``attributes`` (toyfaces, CelebA): one head per attribute. Integer attributes are classes
  (values < 0 mean "unknown" and are ignored), float attributes are regressed after
  standardising. For toyfaces: sunglasses, skin, hair and background are classes; yaw and
  smile are regressed. A binary attribute's class-1 probability is what the decisiveness
  test reads (``FeatureNet.probability``).
* neither (a folder of images without subfolders): the fallback is a self-supervised
  **rotation** head (Gidaris et al. 2018, "Unsupervised representation learning by predicting
  image rotations"): each training image is turned by 0, 90, 180 or 270 degrees and the net
  predicts which. To answer, it has to find where the object's top is (eyes above mouth, the
  stroke order of a digit), so its features respond to the object's structure. A fixed-seed
  random network would be cheaper but its features mostly measure colour and low-level
  texture; the rotation task costs the same short training as the labelled heads.

Trained networks are cached in ``cache_dir()`` as safetensors weights plus a JSON file with
the configuration, the heads and a fingerprint of the training data; nothing is unpickled.
The networks of the built-in datasets at their default size and settings ship with the package
(``resources/features``, made by ``scripts/make_bundled_features.py``): the first eval on them
trains nothing, and every machine measures in the same feature space.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cache import load_or_compute
from .data import ImageDataset, safe_name
from .env import cache_dir
from .errors import Cancelled, DataError
from .fileio import atomic_write_bytes
from .imaging import to_float_tensor

FORMAT = "genae-studio-features"
ARCH_VERSION = 1  # bump when the network or its training changes: old caches are ignored
FEATURE_DIM = 64
ROTATION = "rotation"


@dataclass
class FeatureSettings:
    """How the feature network is trained (all of it goes into the cache key)."""

    steps: int = 600  # optimiser steps of batch_size images
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 16
    seed: int = 0


@dataclass
class Head:
    """One output of the network: ``kind`` "class" (``classes`` logits) or "reg" (1 value)."""

    name: str
    kind: str
    classes: int = 1
    mean: float = 0.0  # standardisation of regression targets
    std: float = 1.0


class FeatureNet(nn.Module):
    """Strided CNN: (B, C, S, S) in [0, 1] -> FEATURE_DIM features -> one linear layer per head."""

    def __init__(self, channels: int, image_size: int, heads: list[Head], width: int = 16):
        super().__init__()
        self.channels, self.image_size, self.width = channels, image_size, width
        self.heads = list(heads)
        layers: list[nn.Module] = []
        in_ch, out_ch, size = channels, width, image_size
        while size > 4:  # 4x4 strided convolutions down to 4x4 (32 px: 3 layers, 64 px: 4)
            layers += [nn.Conv2d(in_ch, out_ch, 4, 2, 1), nn.BatchNorm2d(out_ch),
                       nn.ReLU(inplace=True)]
            in_ch, out_ch, size = out_ch, min(out_ch * 2, 8 * width), size // 2
        self.body = nn.Sequential(*layers, nn.Flatten(),
                                  nn.Linear(in_ch * size * size, FEATURE_DIM),
                                  nn.ReLU(inplace=True))
        self.out = nn.ModuleDict({h.name: nn.Linear(FEATURE_DIM, h.classes) for h in heads})

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        feats = self.body(x)
        return feats, {name: layer(feats) for name, layer in self.out.items()}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.inference_mode()
    def run(self, images, batch: int = 500) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Features (N, FEATURE_DIM) and head outputs of uint8 or [0, 1] float images."""
        self.eval()
        feats, outs = [], {h.name: [] for h in self.heads}
        for start in range(0, len(images), batch):
            f, o = self(to_float_tensor(images[start:start + batch], self.device))
            feats.append(f.cpu().numpy())
            for name, value in o.items():
                outs[name].append(value.cpu().numpy())
        return (np.concatenate(feats).astype(np.float64),
                {k: np.concatenate(v) for k, v in outs.items()})

    def features(self, images, batch: int = 500) -> np.ndarray:
        """Penultimate-layer features (N, FEATURE_DIM), float64."""
        return self.run(images, batch)[0]

    def head(self, name: str) -> Head | None:
        return next((h for h in self.heads if h.name == name), None)

    def probability(self, images, attribute: str, batch: int = 500) -> np.ndarray:
        """P(attribute = 1) from a binary class head, for each image."""
        head = self.head(attribute)
        if head is None or head.kind != "class" or head.classes != 2:
            raise DataError(f"the feature network has no binary head {attribute!r}")
        logits = self.run(images, batch)[1][attribute]
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p[:, 1] / p.sum(axis=1)


@dataclass
class FeatureExtractor:
    """A trained FeatureNet and what is known about it."""

    net: FeatureNet
    mode: str  # "labels", "attributes" or "rotation"
    info: dict = field(default_factory=dict)  # held-out scores, cache path, from_cache, ...

    def features(self, images) -> np.ndarray:
        return self.net.features(images)

    def probability(self, images, attribute: str) -> np.ndarray:
        return self.net.probability(images, attribute)


def heads_for(dataset: ImageDataset) -> tuple[str, list[Head], dict[str, np.ndarray]]:
    """(mode, heads, targets) for a dataset: labels, else attributes, else rotation."""
    if dataset.labels is not None:
        labels = np.asarray(dataset.labels, np.int64)
        classes = max(int(labels.max()) + 1, len(dataset.label_names or []), 2)
        return "labels", [Head("label", "class", classes)], {"label": labels}
    if dataset.attributes:
        heads, targets = [], {}
        for name in sorted(dataset.attributes):
            values = np.asarray(dataset.attributes[name])
            if np.issubdtype(values.dtype, np.integer) or values.dtype == bool:
                values = values.astype(np.int64)
                if values.max() < 1:
                    continue  # a constant (or unknown) attribute teaches nothing
                heads.append(Head(name, "class", max(int(values.max()) + 1, 2)))
                targets[name] = values
            elif np.issubdtype(values.dtype, np.floating):
                mean, std = float(values.mean()), float(values.std()) or 1.0
                heads.append(Head(name, "reg", 1, mean, std))
                targets[name] = ((values - mean) / std).astype(np.float32)
        if heads:
            return "attributes", heads, targets
    return ROTATION, [Head(ROTATION, "class", 4)], {}


def fingerprint(dataset: ImageDataset) -> str:
    """A digest of the training data: shape, labels, attributes and up to 512 spread images."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((dataset.name, len(dataset), dataset.channels, dataset.image_size)).encode())
    if dataset.labels is not None:
        h.update(np.ascontiguousarray(dataset.labels, np.int64).tobytes())
    for key in sorted(dataset.attributes or {}):
        h.update(key.encode())
        h.update(np.ascontiguousarray(dataset.attributes[key]).tobytes())
    idx = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), 512)).astype(np.int64))
    h.update(np.ascontiguousarray(dataset.batch(idx)).tobytes())
    return h.hexdigest()


def _losses(net: FeatureNet, outs: dict, targets: dict) -> torch.Tensor:
    total = 0.0
    for head in net.heads:
        y, out = targets[head.name], outs[head.name]
        if head.kind == "class":
            total = total + nn.functional.cross_entropy(out, y, ignore_index=-1)
        else:
            total = total + nn.functional.mse_loss(out[:, 0], y)
    return total


def _rotate(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn each image by a random multiple of 90 degrees; returns (images, multiples)."""
    k = torch.randint(0, 4, (len(x),), generator=generator)
    out = torch.empty_like(x)
    for r in range(4):
        sel = k == r
        out[sel] = torch.rot90(x[sel], r, dims=(2, 3))
    return out, k


def train_feature_net(dataset: ImageDataset, settings: FeatureSettings | None = None, *,
                      heldout: ImageDataset | None = None, device: str | torch.device = "cpu",
                      on_progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> FeatureExtractor:
    """Train a FeatureNet on ``dataset`` (the training split); score it on ``heldout``.

    ``on_progress(step, steps)`` follows each batch; ``should_stop()`` is asked before each
    batch and, when true, ends the training with Cancelled (nothing is returned or cached).
    """
    settings = settings or FeatureSettings()
    if len(dataset) < 2:
        raise DataError(f"{dataset.name}: too few images ({len(dataset)}) to train features")
    mode, heads, targets = heads_for(dataset)
    torch.manual_seed(settings.seed)
    net = FeatureNet(dataset.channels, dataset.image_size, heads, settings.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    batch = min(settings.batch_size, len(dataset))
    started = time.perf_counter()
    net.train()
    for step in range(settings.steps):
        if should_stop is not None and should_stop():
            raise Cancelled(f"feature network training stopped at step {step}")
        idx = np.sort(rng.choice(len(dataset), batch, replace=False))
        x = to_float_tensor(dataset.batch(idx), device)
        if mode == ROTATION:
            x, k = _rotate(x, gen)
            y = {ROTATION: k.to(device)}
        else:
            y = {name: torch.as_tensor(v[idx]).to(device) for name, v in targets.items()}
        _, outs = net(x)
        loss = _losses(net, outs, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_progress:
            on_progress(step + 1, settings.steps)
    net.eval()
    info = {"mode": mode, "train_images": len(dataset), "train_s": time.perf_counter() - started,
            "heads": [asdict(h) for h in heads]}
    if heldout is not None and len(heldout) > 0:
        info["heldout"] = score(net, heldout, mode, settings.seed)
    return FeatureExtractor(net, mode, info)


def score(net: FeatureNet, dataset: ImageDataset, mode: str, seed: int = 0) -> dict:
    """Held-out accuracy per class head, R^2 per regression head: is the net any good?"""
    x = dataset.batch(np.arange(len(dataset)))
    if mode == ROTATION:
        xt, k = _rotate(to_float_tensor(x, net.device), torch.Generator().manual_seed(seed))
        outs, targets = net.run(xt)[1], {ROTATION: k.numpy()}
    else:
        outs = net.run(x)[1]
        targets = ({"label": dataset.labels} if mode == "labels" else dataset.attributes) or {}
    result = {}
    for head in net.heads:
        if head.name not in targets:
            continue
        y, out = np.asarray(targets[head.name]), outs[head.name]
        if head.kind == "class":
            known = y >= 0
            result[f"{head.name}_acc"] = float(np.mean(out.argmax(1)[known] == y[known]))
        else:
            y = (y - head.mean) / head.std
            result[f"{head.name}_r2"] = float(1.0 - np.mean((out[:, 0] - y) ** 2)
                                              / (float(np.var(y)) or 1.0))
    return result


# ---------------------------------------------------------------- cache

def cache_paths(dataset: ImageDataset, settings: FeatureSettings) -> tuple[Path, str]:
    """(path stem in the cache, key) for this dataset and these settings."""
    key_src = json.dumps({"arch": ARCH_VERSION, "dim": FEATURE_DIM, "data": fingerprint(dataset),
                          "settings": asdict(settings)}, sort_keys=True)
    key = hashlib.blake2b(key_src.encode(), digest_size=8).hexdigest()
    return cache_dir() / "features" / f"{safe_name(dataset.name)}-{dataset.image_size}px-{key}", key


def extractor_files(stem: Path, key: str, extractor: FeatureExtractor,
                    settings: FeatureSettings) -> dict[Path, bytes]:
    """The cache entry's files: weights as safetensors, then the JSON config (its commit)."""
    from safetensors.torch import save

    net = extractor.net
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {"format": FORMAT, "arch": ARCH_VERSION, "key": key, "mode": extractor.mode,
            "channels": net.channels, "image_size": net.image_size, "width": net.width,
            "feature_dim": FEATURE_DIM, "heads": [asdict(h) for h in net.heads],
            "settings": asdict(settings), "info": extractor.info}
    return {stem.with_suffix(".safetensors"): save(state, metadata={"format": FORMAT}),
            stem.with_suffix(".json"): json.dumps(meta, indent=2).encode()}


def save_extractor(stem: Path, key: str, extractor: FeatureExtractor,
                   settings: FeatureSettings) -> None:
    """Write the cache entry (each file atomically, the JSON config last)."""
    for path, data in extractor_files(stem, key, extractor, settings).items():
        atomic_write_bytes(path, data)


def load_extractor(stem: Path, key: str, device="cpu") -> FeatureExtractor | None:
    """The cached extractor, or None when missing, stale or unreadable (then it is retrained)."""
    from safetensors.torch import load_file

    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        if meta.get("format") != FORMAT or meta.get("key") != key \
                or meta.get("arch") != ARCH_VERSION:
            return None
        heads = [Head(**h) for h in meta["heads"]]
        net = FeatureNet(meta["channels"], meta["image_size"], heads, meta["width"])
        net.load_state_dict(load_file(stem.with_suffix(".safetensors")), strict=True)
    except Exception:  # missing, corrupt or foreign files only mean "train again"
        return None
    info = dict(meta.get("info", {}))
    return FeatureExtractor(net.to(device).eval(), meta["mode"], info)


def bundled_stem(stem: Path) -> Path:
    """Where the package ships the network that the cache would hold at ``stem``."""
    from .env import resources_dir

    return resources_dir() / "features" / stem.name


def feature_extractor(dataset: ImageDataset, settings: FeatureSettings | None = None, *,
                      heldout: ImageDataset | None = None, device="cpu", retrain: bool = False,
                      log: Callable[[str], None] | None = None,
                      on_progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> FeatureExtractor:
    """The cached feature network for ``dataset`` (its training split), trained when needed.

    ``on_progress`` and ``should_stop`` reach the training loop (see train_feature_net).
    """
    settings = settings or FeatureSettings()
    stem, key = cache_paths(dataset, settings)

    def train() -> FeatureExtractor:
        if log:
            log(f"training the feature network on {dataset.name} ({len(dataset)} images, "
                f"{settings.steps} steps); cached for later runs")
        started = time.perf_counter()
        extractor = train_feature_net(dataset, settings, heldout=heldout, device=device,
                                      on_progress=on_progress, should_stop=should_stop)
        extractor.info["train_s"] = round(time.perf_counter() - started, 1)
        return extractor

    extractor, found, from_cache = load_or_compute(
        lambda entry: load_extractor(entry, key, device), train,
        lambda value: extractor_files(stem, key, value, settings), stem,
        also=[bundled_stem(stem)], refresh=retrain, what="the feature network", log=log)
    extractor.info.update(from_cache=from_cache, cache=str(found.with_suffix(".safetensors")))
    return extractor
