"""A second, independently built feature space: PCA of pixels.

eval's main feature space is a small CNN trained on the dataset (:mod:`genae_studio.features`).
A claim that rests on one learned feature space is fragile, so eval also measures FD and
precision/recall in a classical one that shares nothing with it: the top ``PCA_DIM``
principal components of the training images' pixels (no learning, no labels, no batch
norm). Features are the projections of the centred images on those components, not
whitened, so distances stay in pixel units and the largest modes of variation (pose, colour,
stroke thickness) weigh most. It sees blur and global layout well and semantics (glasses or
not, which digit) poorly: where the two spaces agree, a claim does not depend on what the
CNN happened to learn.

The components are computed with ``torch.pca_lowrank`` (randomised, fixed seed) on up to
``max_images`` training images and cached as safetensors.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .cache import load_or_compute
from .data import ImageDataset, safe_name
from .env import cache_dir
from .errors import DataError
from .imaging import to_float

FORMAT = "genae-studio-pixel-pca"
PCA_DIM = 64  # the same dimension as the CNN's features
VERSION = 1


@dataclass
class PixelPCA:
    """Projection of flattened [0, 1] pixels on the top principal components."""

    mean: np.ndarray  # (P,)
    components: np.ndarray  # (P, D), orthonormal columns
    explained: float = 0.0  # share of the training pixels' variance the D components hold
    info: dict = field(default_factory=dict)
    mode: str = "pixel-pca"

    def features(self, images, batch: int = 1000) -> np.ndarray:
        """(N, D) float64 projections of uint8 or [0, 1] float images (N, C, H, W)."""
        out = []
        for start in range(0, len(images), batch):
            x = to_float(images[start:start + batch])
            out.append((x.reshape(len(x), -1) - self.mean) @ self.components)
        return np.concatenate(out).astype(np.float64) if out else \
            np.zeros((0, self.components.shape[1]))


def fit_pixel_pca(dataset: ImageDataset, dim: int = PCA_DIM, max_images: int = 5000,
                  seed: int = 0) -> PixelPCA:
    """Principal components of the pixels of up to ``max_images`` spread training images."""
    if len(dataset) < 3:
        raise DataError(f"{dataset.name}: {len(dataset)} training images, too few for a "
                        f"pixel PCA")
    dim = min(dim, len(dataset) - 2)  # tiny data sets: fewer components
    idx = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), max_images))
                    .astype(np.int64))
    x = torch.from_numpy(to_float(dataset.batch(idx)))
    x = x.reshape(len(x), -1)
    mean = x.mean(dim=0)
    centred = x - mean
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, s, v = torch.pca_lowrank(centred, q=min(dim + 10, *centred.shape), center=False,
                                    niter=4)
    total = float(centred.pow(2).sum())
    explained = float(s[:dim].pow(2).sum()) / total if total > 0 else 0.0
    return PixelPCA(mean.numpy(), v[:, :dim].contiguous().numpy(), explained,
                    {"train_images": len(idx), "explained": explained, "dim": dim})


def pixel_pca(dataset: ImageDataset, *, dim: int = PCA_DIM, retrain: bool = False,
              log: Callable[[str], None] | None = None) -> PixelPCA:
    """The cached PCA of ``dataset`` (its training split), computed when needed."""
    from safetensors.numpy import load_file, save

    from .features import fingerprint

    key_src = json.dumps({"v": VERSION, "dim": dim, "data": fingerprint(dataset)},
                         sort_keys=True)
    key = hashlib.blake2b(key_src.encode(), digest_size=8).hexdigest()
    stem = f"{safe_name(dataset.name)}-{dataset.image_size}px-{key}"
    path = Path(cache_dir()) / "pixel-pca" / f"{stem}.safetensors"

    def load(entry: Path) -> PixelPCA:
        arrays = load_file(entry)
        return PixelPCA(arrays["mean"], arrays["components"], float(arrays["explained"][0]))

    def compute() -> PixelPCA:
        if log:
            log(f"computing the pixel PCA of {dataset.name} ({dim} components); cached")
        return fit_pixel_pca(dataset, dim)

    def encode(pca: PixelPCA) -> dict[Path, bytes]:
        arrays = {"mean": pca.mean, "components": pca.components,
                  "explained": np.array([pca.explained])}
        return {path: save(arrays, metadata={"format": FORMAT})}

    pca, _, from_cache = load_or_compute(load, compute, encode, path, refresh=retrain,
                                         what="the pixel PCA", log=log)
    if from_cache:
        pca.info = {"dim": pca.components.shape[1], "explained": pca.explained}
    pca.info.update(from_cache=from_cache, cache=str(path))
    return pca
