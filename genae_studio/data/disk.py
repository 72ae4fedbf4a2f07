"""Helpers for reading datasets from disk, for the formats of any plugin.

The built-in formats (and their ``detect_*``/``load_*`` functions, once defined here) live
in the built-in plugin, ``genae_builtins``; their old import paths still work (see
``genae_studio.deprecated``). A format's loader is
``load(source, *, split, image_size, limit, seed)``; every failure is a DataError naming
the path. Where a format has no official split, "test"
is the last 10% of the sorted items and "train" the rest (``tail_split``).
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import (
    IMAGE_EXTENSIONS,
    ArrayDataset,
    apply_limit,
    is_image_file,
    is_regular_file,
    split_sizes,
)

IMAGE_KINDS = ", ".join(sorted(IMAGE_EXTENSIONS))


def existing_source(source, fmt: str) -> Path:
    """``source`` as an existing path; a DataError when it is None or missing."""
    if source is None:
        raise DataError(f"{fmt}: a path is needed")
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: no such file or folder")
    return path


def check_split(split: str, where, allowed=("train", "test")) -> None:
    if split not in allowed:
        raise DataError(f"{where}: unknown split {split!r} (use {' or '.join(allowed)})")


def tail_split(n: int, split: str) -> slice:
    """train = the first 90%, test = the last 10%."""
    n_train, _ = split_sizes(n)
    return slice(0, n_train) if split == "train" else slice(n_train, n)


def nonempty(items, split: str, where):
    """``items``, or a DataError saying that the split is empty."""
    if len(items) == 0:
        raise DataError(f"{where}: the {split} split is empty")
    return items


def array_dataset(images, labels, name, source, image_size, limit,
                  label_names=None) -> ArrayDataset:
    """The first ``limit`` images (and labels), resized to ``image_size`` when it is given or
    when the images are not square (once: the result is kept in the cache, ``cache.resized``)."""
    keep = apply_limit(len(images), limit)
    images, labels = images[:keep], None if labels is None else labels[:keep]
    if image_size is not None or images.shape[-1] != images.shape[-2]:
        from .cache import resized  # decoded once, into the cache

        images = resized(images, int(image_size or images.shape[-1]), name, str(source))
    return ArrayDataset(np.ascontiguousarray(images), name=name, labels=labels,
                        label_names=label_names, source=str(source))


def list_dir(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list folder ({exc.strerror or exc})") from exc


def subdirs(path: Path) -> list[str]:
    """The sorted sub-folders of ``path`` (none when it cannot be listed)."""
    try:
        return sorted(e.path for e in os.scandir(path) if e.is_dir())
    except OSError:
        return []


def find_file(folders, names) -> Path | None:
    """The first of ``names`` that is a file in one of ``folders`` (searched in order)."""
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def open_maybe_gzip(path: Path):
    """``path`` opened for reading bytes, through gzip when it starts with gzip's magic."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def walk_images(root: Path, first_only: bool = False) -> list[str]:
    """Image files under root, recursively (hidden folders skipped), sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = os.path.join(folder, name)
            if is_image_file(name) and not name.startswith(".") and is_regular_file(path):
                found.append(path)
                if first_only:
                    return found
    return sorted(found, key=lambda p: os.path.relpath(p, root).split(os.sep))

