"""On-disk dataset formats: CelebA, SVHN (.mat), MNIST (idx) and plain image folders.

Each format has ``detect_X(path) -> bool`` and
``load_X(source, *, split, image_size, limit, seed) -> ImageDataset``.
Splits are deterministic (``seed`` is accepted for a uniform signature but not
used). Where a format has no official split, "test" is the last 10% of the
sorted items and "train" the rest. Every failure is a DataError naming the path.
"""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import (
    IMAGE_EXTENSIONS,
    ArrayDataset,
    FileDataset,
    apply_limit,
    is_image_file,
    is_regular_file,
    resize_images,
    split_sizes,
)

IMAGE_KINDS = ", ".join(sorted(IMAGE_EXTENSIONS))


# ---------------------------------------------------------------- helpers

def _existing(source, fmt: str) -> Path:
    if source is None:
        raise DataError(f"{fmt}: a path is needed")
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: no such file or folder")
    return path


def _check_split(split: str, where, allowed=("train", "test")) -> None:
    if split not in allowed:
        raise DataError(f"{where}: unknown split {split!r} (use {' or '.join(allowed)})")


def _tail_split(n: int, split: str) -> slice:
    """train = the first 90%, test = the last 10%."""
    n_train, _ = split_sizes(n)
    return slice(0, n_train) if split == "train" else slice(n_train, n)


def _nonempty(items, split: str, where):
    if len(items) == 0:
        raise DataError(f"{where}: the {split} split is empty")
    return items


def _array_dataset(images, labels, name, source, image_size, limit, label_names=None):
    keep = apply_limit(len(images), limit)
    images, labels = images[:keep], None if labels is None else labels[:keep]
    if image_size is not None or images.shape[-1] != images.shape[-2]:
        images = resize_images(images, int(image_size or images.shape[-1]))
    return ArrayDataset(np.ascontiguousarray(images), name=name, labels=labels,
                        label_names=label_names, source=str(source))


def _list_dir(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list folder ({exc.strerror or exc})") from exc


DIGIT_NAMES = [str(d) for d in range(10)]


# ---------------------------------------------------------------- CelebA

def _celeba_dirs(path: Path) -> tuple[Path, Path] | None:
    """(root, image folder) for a CelebA root or its img_align_celeba folder."""
    if not path.is_dir():
        return None
    # Kaggle's copy nests img_align_celeba/img_align_celeba.
    for img_dir in (path / "img_align_celeba" / "img_align_celeba", path / "img_align_celeba"):
        if img_dir.is_dir():
            return path, img_dir
    if path.name == "img_align_celeba":
        parent = path.parent
        return (parent.parent if parent.name == "img_align_celeba" else parent), path
    return None


def _find_file(folders, names) -> Path | None:
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def _table_rows(path: Path):
    """Rows of a CelebA list file (whitespace or comma separated) as token lists."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    for line in text.splitlines():
        tokens = re.split(r"[,\s]+", line.strip())
        if tokens and tokens[0]:
            yield tokens


def _read_partition(path: Path) -> dict[str, int]:
    parts = {}
    for tokens in _table_rows(path):
        if len(tokens) >= 2 and tokens[1].lstrip("-").isdigit():  # skips a csv header
            parts[tokens[0]] = int(tokens[1])
    if not parts:
        raise DataError(f"{path}: no lines like '000001.jpg 0' (CelebA's eval partition)")
    return parts


def _read_celeba_attributes(path: Path, names: list[str]) -> dict[str, np.ndarray] | None:
    """list_attr_celeba.txt as 0/1 int8 arrays aligned with names (-1 where missing)."""
    rows = _table_rows(path)
    header = None
    values: dict[str, list[str]] = {}
    for tokens in rows:
        if header is None:
            if len(tokens) == 1 and tokens[0].isdigit():  # the count line
                continue
            header = tokens[1:] if tokens[0] == "image_id" else tokens
            continue
        values[tokens[0]] = tokens[1:]
    if not header or not values:
        return None
    table = np.full((len(names), len(header)), -1, dtype=np.int8)
    for i, name in enumerate(names):
        row = values.get(name)
        if row is not None and len(row) == len(header):
            table[i] = [int(v) > 0 for v in row]
    return {key: table[:, j].copy() for j, key in enumerate(header)}


def detect_celeba(path) -> bool:
    return _celeba_dirs(Path(path)) is not None


def load_celeba(source, *, split: str = "train", image_size: int | None = None,
                limit: int | None = None, seed: int = 0) -> FileDataset:
    """CelebA (aligned and cropped): a folder with img_align_celeba/*.jpg.

    Splits come from list_eval_partition.txt (0 train, 1 valid, 2 test) when it
    is there; otherwise "test" is the last 10% of the sorted files. Attributes
    come from list_attr_celeba.txt when present (0/1 per attribute).
    """
    path = _existing(source, "celeba")
    dirs = _celeba_dirs(path)
    if dirs is None:
        raise DataError(f"{path}: not a CelebA folder (expected img_align_celeba/000001.jpg ...)")
    root, img_dir = dirs
    names = sorted(e.name for e in _list_dir(img_dir) if is_image_file(e.name))
    if not names:
        raise DataError(f"{img_dir}: no images (expected CelebA's 000001.jpg, 000002.jpg ...)")
    folders = [root, root / "Eval", root / "Anno", img_dir.parent]
    part_file = _find_file(folders, ["list_eval_partition.txt", "list_eval_partition.csv"])
    if part_file is not None:
        _check_split(split, path, ("train", "valid", "test"))
        parts = _read_partition(part_file)
        wanted = {"train": 0, "valid": 1, "test": 2}[split]
        chosen = [n for n in names if parts.get(n) == wanted]
    else:
        _check_split(split, f"{path} (no list_eval_partition.txt)")
        chosen = names[_tail_split(len(names), split)]
    chosen = _nonempty(chosen, split, path)[:apply_limit(len(chosen), limit)]
    attributes = None
    attr_file = _find_file(folders, ["list_attr_celeba.txt", "list_attr_celeba.csv"])
    if attr_file is not None:
        try:
            attributes = _read_celeba_attributes(attr_file, chosen)
        except (ValueError, DataError):
            attributes = None  # optional: a malformed attribute file is ignored
    return FileDataset([img_dir / n for n in chosen], image_size=int(image_size or 64),
                       channels=3, name="celeba", attributes=attributes, source=str(path))


# ---------------------------------------------------------------- SVHN

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
    path = _existing(source, "svhn")
    if path.is_dir() or path.name in SVHN_FILES.values():
        folder = path if path.is_dir() else path.parent
        _check_split(split, path, tuple(SVHN_FILES))
        file = folder / SVHN_FILES[split]
        if not file.is_file():
            raise DataError(f"{folder}: no {SVHN_FILES[split]} for the {split} split "
                            f"(expected SVHN's train_32x32.mat and test_32x32.mat)")
        images, labels = _read_svhn_mat(file)
    else:
        _check_split(split, path)
        images, labels = _read_svhn_mat(path)
        part = _tail_split(len(images), split)
        images, labels = images[part], labels[part]
    _nonempty(images, split, path)
    return _array_dataset(images, labels, "svhn", path, image_size or 64, limit, DIGIT_NAMES)


# ---------------------------------------------------------------- MNIST

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def _open_maybe_gz(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _idx_magic(path: Path) -> int | None:
    try:
        with _open_maybe_gz(path) as f:
            head = f.read(4)
    except (OSError, EOFError):
        return None
    return int.from_bytes(head, "big") if len(head) == 4 else None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx file (MNIST's format, optionally gzipped) of unsigned bytes."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    try:
        with _open_maybe_gz(path) as f:
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
    candidates = [path, path / "raw"] + [Path(p) / "raw" for p in _subdirs(path)]
    for folder in candidates:
        for stems in MNIST_FILES.values():
            if _find_file([folder], _idx_variants(stems[0])) is not None:
                return folder
    return None


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.path for e in os.scandir(path) if e.is_dir())
    except OSError:
        return []


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
    path = _existing(source, "mnist")
    _check_split(split, path)
    official = {v for stems in MNIST_FILES.values() for v in _idx_variants(stems[0])}
    if path.is_dir() or path.name in official:
        folder = _mnist_folder(path) if path.is_dir() else path.parent
        if folder is None:
            raise DataError(f"{path}: no MNIST idx files (expected train-images-idx3-ubyte, "
                            f"train-labels-idx1-ubyte, t10k-... optionally .gz)")
        images_stem, labels_stem = MNIST_FILES[split]
        images_file = _find_file([folder], _idx_variants(images_stem))
        if images_file is None:
            raise DataError(f"{folder}: no {images_stem}[.gz] for the {split} split")
        labels_file = _find_file([folder], _idx_variants(labels_stem))
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
        part = _tail_split(len(images), split)
    images = _nonempty(images[part], split, path)[:, None]
    labels = None if labels is None else labels[part]
    names = DIGIT_NAMES if labels is not None and labels.max(initial=0) < 10 else None
    return _array_dataset(images, labels, "mnist", path, image_size or 32, limit, names)


# ---------------------------------------------------------------- image folder

def _walk_images(root: Path, first_only: bool = False) -> list[str]:
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


def detect_folder(path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(_walk_images(path, first_only=True))


def load_folder(source, *, split: str = "train", image_size: int | None = None,
                limit: int | None = None, seed: int = 0) -> FileDataset:
    """Any folder of images, searched recursively; decoded lazily, 3 channels.

    "test" is the last 10% of the sorted paths. When every image sits in a
    first-level subfolder and there are at least two (the ImageFolder layout),
    the subfolder names become labels and the last 10% is taken per class, so
    both splits hold every class.
    """
    path = _existing(source, "folder")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder (expected a folder of image files: "
                        f"{IMAGE_KINDS})")
    _check_split(split, path)
    paths = _walk_images(path)
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
            keep.extend(members[_tail_split(len(members), split)])
        keep = np.array(keep, dtype=np.int64)
        paths, labels = [paths[i] for i in keep], all_labels[keep]
    else:
        paths = paths[_tail_split(len(paths), split)]
    _nonempty(paths, split, path)
    keep_n = apply_limit(len(paths), limit)
    return FileDataset(paths[:keep_n], image_size=int(image_size or 64), channels=3,
                       name="folder", labels=None if labels is None else labels[:keep_n],
                       label_names=label_names, source=str(path))
