"""Built-in format celeba: CelebA's aligned-and-cropped faces, read from a folder.

Splits come from list_eval_partition.txt when it is there; attributes from
list_attr_celeba.txt (0/1 per attribute) when present.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from genae_studio import DataError, FileDataset
from genae_studio.data.base import apply_limit, is_image_file
from genae_studio.data.disk import (
    check_split,
    existing_source,
    find_file,
    list_dir,
    nonempty,
    tail_split,
)


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
    path = existing_source(source, "celeba")
    dirs = _celeba_dirs(path)
    if dirs is None:
        raise DataError(f"{path}: not a CelebA folder (expected img_align_celeba/000001.jpg ...)")
    root, img_dir = dirs
    names = sorted(e.name for e in list_dir(img_dir) if is_image_file(e.name))
    if not names:
        raise DataError(f"{img_dir}: no images (expected CelebA's 000001.jpg, 000002.jpg ...)")
    folders = [root, root / "Eval", root / "Anno", img_dir.parent]
    part_file = find_file(folders, ["list_eval_partition.txt", "list_eval_partition.csv"])
    if part_file is not None:
        check_split(split, path, ("train", "valid", "test"))
        parts = _read_partition(part_file)
        wanted = {"train": 0, "valid": 1, "test": 2}[split]
        chosen = [n for n in names if parts.get(n) == wanted]
    else:
        check_split(split, f"{path} (no list_eval_partition.txt)")
        chosen = names[tail_split(len(names), split)]
    chosen = nonempty(chosen, split, path)[:apply_limit(len(chosen), limit)]
    attributes = None
    attr_file = find_file(folders, ["list_attr_celeba.txt", "list_attr_celeba.csv"])
    if attr_file is not None:
        try:
            attributes = _read_celeba_attributes(attr_file, chosen)
        except (ValueError, DataError):
            attributes = None  # optional: a malformed attribute file is ignored
    return FileDataset([img_dir / n for n in chosen], image_size=int(image_size or 64),
                       channels=3, name="celeba", attributes=attributes, source=str(path))
