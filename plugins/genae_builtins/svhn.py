"""Built-in format svhn: SVHN's cropped digits, from its MATLAB .mat files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from genae_studio import ArrayDataset, DataError
from genae_studio.data.disk import (
    array_dataset,
    check_split,
    existing_source,
    nonempty,
    tail_split,
)

from .digits import DIGIT_NAMES

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def detect_svhn(path) -> bool:
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".mat"
    return path.is_dir() and any((path / f).is_file() for f in SVHN_FILES.values())


def _read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, H, W), labels 0-9) from an SVHN cropped-digits .mat file."""
    import scipy.io

    expected = "expected SVHN's layout: X of shape (32, 32, 3, N) uint8 and y of shape (N, 1)"
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for bad or v7.3 files
        raise DataError(f"{path}: cannot read as a MATLAB .mat file ({exc}); {expected}") \
            from exc
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise DataError(f"{path}: no X and y variables (found: {found}); {expected}")
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim != 4 or x.shape[2] != 3 or x.dtype != np.uint8 or len(y) != x.shape[3]:
        raise DataError(f"{path}: X is {x.dtype} {x.shape} and y has {y.size} values; "
                        f"{expected}")
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))
    labels = y.astype(np.int64) % 10  # SVHN writes digit 0 as label 10
    return images, labels


def load_svhn(source, *, split: str = "train", image_size: int | None = None,
              limit: int | None = None, seed: int = 0) -> ArrayDataset:
    """SVHN cropped digits: train_32x32.mat / test_32x32.mat, or a folder holding them.

    ``split`` picks the file. Any other .mat file with the same layout is split
    as usual (last 10% test). Default size 64, as in the paper.
    """
    path = existing_source(source, "svhn")
    if path.is_dir() or path.name in SVHN_FILES.values():
        folder = path if path.is_dir() else path.parent
        check_split(split, path, tuple(SVHN_FILES))
        file = folder / SVHN_FILES[split]
        if not file.is_file():
            raise DataError(f"{folder}: no {SVHN_FILES[split]} for the {split} split "
                            f"(expected SVHN's train_32x32.mat and test_32x32.mat)")
        images, labels = _read_svhn_mat(file)
    else:
        check_split(split, path)
        images, labels = _read_svhn_mat(path)
        part = tail_split(len(images), split)
        images, labels = images[part], labels[part]
    nonempty(images, split, path)
    return array_dataset(images, labels, "svhn", path, image_size or 64, limit, DIGIT_NAMES)
