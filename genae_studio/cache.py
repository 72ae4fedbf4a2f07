"""The one load-or-compute cache: a key names files in the cache folder; they are loaded if
present and sound, else the value is computed and its files saved atomically.

Used by the feature networks (genae_studio.features), the pixel PCA (genae_studio.pixel_pca)
and the precise batch-norm statistics (genae_studio.precise_bn). Every file goes through
genae_studio.fileio (written whole or not at all, with a plain open()'s permissions); a
missing, corrupt or foreign entry only means "compute again"; a cache that cannot be
written (read-only, full disk, a file-size limit) only costs time, and is said in one line.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def load_or_compute(load: Callable[[Path], T | None], compute: Callable[[], T],
                    encode: Callable[[T], dict[Path, bytes]], where: Path, *,
                    also: Sequence[Path] = (), refresh: bool = False,
                    what: str = "the result",
                    log: Callable[[str], None] | None = None) -> tuple[T, Path, bool]:
    """(value, the entry it came from, whether it was loaded).

    ``load(entry)`` returns the value or None (any exception also means a miss); it is
    tried on ``where``, then on each of ``also`` (read-only places such as bundled files),
    unless ``refresh``. Otherwise ``compute()`` makes the value and ``encode(value)`` gives
    the files to save, ``{path: bytes}``, written one by one in that order (so the last
    one can serve as the entry's commit marker).
    """
    from .fileio import atomic_write_bytes

    for entry in ([] if refresh else [where, *also]):
        try:
            value = load(entry)
        except Exception:  # missing, corrupt or foreign files only mean "compute again"
            value = None
        if value is not None:
            return value, entry, True
    value = compute()
    try:
        for path, data in encode(value).items():
            atomic_write_bytes(path, data)
    except OSError as exc:  # fileio's OutputError: a read-only cache only costs time
        if log:
            log(f"could not cache {what} ({exc})")
    return value, where, False
