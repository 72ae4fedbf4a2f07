"""Built-in format mnist: MNIST-style idx files (also Fashion-MNIST), plain or gzipped."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from genae_studio import ArrayDataset, DataError
from genae_studio.data.disk import (
    array_dataset,
    check_split,
    existing_source,
    find_file,
    nonempty,
    open_maybe_gzip,
    subdirs,
    tail_split,
)

from .digits import DIGIT_NAMES

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def _idx_magic(path: Path) -> int | None:
    try:
        with open_maybe_gzip(path) as f:
            head = f.read(4)
    except (OSError, EOFError):
        return None
    return int.from_bytes(head, "big") if len(head) == 4 else None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx file (MNIST's format, optionally gzipped) of unsigned bytes."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    try:
        with open_maybe_gzip(path) as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        raise DataError(f"{path}: bad magic number {found} (expected {magic} for an idx "
                        f"{kind} file)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated idx header")
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    expected = int(np.prod(dims))
    if len(data) - header < expected:
        raise DataError(f"{path}: truncated: {len(data) - header} bytes of data for "
                        f"dimensions {tuple(dims)}")
    return np.frombuffer(data, np.uint8, count=expected, offset=header).reshape(dims)


def _idx_variants(stem: str) -> list[str]:
    names = [stem, stem.replace("-idx", ".idx")]
    return [n + ext for n in names for ext in ("", ".gz")]


def _mnist_folder(path: Path) -> Path | None:
    """The folder holding the idx files: path, path/raw or path/*/raw (torchvision)."""
    candidates = [path, path / "raw"] + [Path(p) / "raw" for p in subdirs(path)]
    for folder in candidates:
        for stems in MNIST_FILES.values():
            if find_file([folder], _idx_variants(stems[0])) is not None:
                return folder
    return None


def detect_mnist(path) -> bool:
    path = Path(path)
    if path.is_file():
        return _idx_magic(path) == IMAGES_MAGIC
    return path.is_dir() and _mnist_folder(path) is not None


def _labels_beside(images_file: Path) -> Path | None:
    name = images_file.name.replace("images", "labels").replace("idx3", "idx1")
    other = images_file.with_name(name)
    return other if other != images_file and other.is_file() else None


def load_mnist(source, *, split: str = "train", image_size: int | None = None,
               limit: int | None = None, seed: int = 0) -> ArrayDataset:
    """MNIST-style idx files (also Fashion-MNIST): a folder or one images file.

    In a folder, ``split`` picks train-* or t10k-* (plain or .gz, "-idx" or
    ".idx"). A single images file with an official name stands for its folder;
    any other is split as usual (last 10% test), with labels from the matching
    "labels"/"idx1" file beside it when there is one. Default size 32.
    """
    path = existing_source(source, "mnist")
    check_split(split, path)
    official = {v for stems in MNIST_FILES.values() for v in _idx_variants(stems[0])}
    if path.is_dir() or path.name in official:
        folder = _mnist_folder(path) if path.is_dir() else path.parent
        if folder is None:
            raise DataError(f"{path}: no MNIST idx files (expected train-images-idx3-ubyte, "
                            f"train-labels-idx1-ubyte, t10k-... optionally .gz)")
        images_stem, labels_stem = MNIST_FILES[split]
        images_file = find_file([folder], _idx_variants(images_stem))
        if images_file is None:
            raise DataError(f"{folder}: no {images_stem}[.gz] for the {split} split")
        labels_file = find_file([folder], _idx_variants(labels_stem))
        part = slice(None)
    else:
        images_file, labels_file = path, _labels_beside(path)
        part = None
    images = _read_idx(images_file, IMAGES_MAGIC)
    if images.ndim != 3:
        raise DataError(f"{images_file}: expected images shaped (N, rows, cols), "
                        f"got {images.shape}")
    labels = None
    if labels_file is not None:
        labels = _read_idx(labels_file, LABELS_MAGIC).astype(np.int64)
        if labels.shape != (len(images),):
            raise DataError(f"{labels_file}: {labels.size} labels for {len(images)} images "
                            f"in {images_file}")
    if part is None:
        part = tail_split(len(images), split)
    images = nonempty(images[part], split, path)[:, None]
    labels = None if labels is None else labels[part]
    names = DIGIT_NAMES if labels is not None and labels.max(initial=0) < 10 else None
    return array_dataset(images, labels, "mnist", path, image_size or 32, limit, names)
