"""Built-in format folder: any folder of images, searched recursively.

Registered as a fallback format: it accepts almost any folder, so it is tried last.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genae_studio import DataError, FileDataset
from genae_studio.data.base import apply_limit
from genae_studio.data.disk import (
    IMAGE_KINDS,
    check_split,
    existing_source,
    nonempty,
    tail_split,
    walk_images,
)


def detect_folder(path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(walk_images(path, first_only=True))


def load_folder(source, *, split: str = "train", image_size: int | None = None,
                limit: int | None = None, seed: int = 0) -> FileDataset:
    """Any folder of images, searched recursively; decoded lazily, 3 channels.

    "test" is the last 10% of the sorted paths. When every image sits in a
    first-level subfolder and there are at least two (the ImageFolder layout),
    the subfolder names become labels and the last 10% is taken per class, so
    both splits hold every class.
    """
    path = existing_source(source, "folder")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder (expected a folder of image files: "
                        f"{IMAGE_KINDS})")
    check_split(split, path)
    paths = walk_images(path)
    if not paths:
        raise DataError(f"{path}: no images found (expected image files: {IMAGE_KINDS}; "
                        f"subfolders are searched)")
    classes = [os.path.relpath(p, path).split(os.sep) for p in paths]
    label_names = None
    labels = None
    if all(len(c) > 1 for c in classes) and len({c[0] for c in classes}) > 1:
        label_names = sorted({c[0] for c in classes})
        lookup = {name: k for k, name in enumerate(label_names)}
        all_labels = np.array([lookup[c[0]] for c in classes], dtype=np.int64)
        keep = []
        for k in range(len(label_names)):
            members = np.flatnonzero(all_labels == k)
            keep.extend(members[tail_split(len(members), split)])
        keep = np.array(keep, dtype=np.int64)
        paths, labels = [paths[i] for i in keep], all_labels[keep]
    else:
        paths = paths[tail_split(len(paths), split)]
    nonempty(paths, split, path)
    keep_n = apply_limit(len(paths), limit)
    return FileDataset(paths[:keep_n], image_size=int(image_size or 64), channels=3,
                       name="folder", labels=None if labels is None else labels[:keep_n],
                       label_names=label_names, source=str(path))
