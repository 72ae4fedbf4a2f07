"""Built-in dataset digits: scikit-learn's 8x8 handwritten digits (1797 images), upscaled."""
from __future__ import annotations

import numpy as np

from genae_studio import ArrayDataset, DataError, resize_images
from genae_studio.data.base import apply_limit

DEFAULT_SIZE = 32
DIGIT_NAMES = [str(d) for d in range(10)]  # label names of every digits dataset


def load_digits(source=None, *, split: str = "train", image_size: int | None = None,
                limit: int | None = None, seed: int = 0) -> ArrayDataset:
    """1-channel digits resized to ``image_size`` (default 32), labels 0-9.

    The split is stratified, 20% test, with a fixed random_state of 0 (``seed``
    does not change it, so train and test never mix between runs).
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise DataError(f"digits: unknown split {split!r} (use train or test)")
    bunch = sk_load_digits()
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    idx = train_idx if split == "train" else test_idx
    idx = idx[:apply_limit(len(idx), limit)]
    # Values are 0..16: scale to 0..255.
    images = np.rint(bunch.images[idx] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    images = resize_images(images[:, None], int(image_size or DEFAULT_SIZE))
    return ArrayDataset(images, name="digits", labels=labels[idx],
                        label_names=list(DIGIT_NAMES), source="digits")
