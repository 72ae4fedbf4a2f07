"""Scratch folders beside an output, which a later run removes if their owner was killed.

A command that builds a large output a batch at a time (a grid, an .npz) keeps its partial
data in a hidden folder beside the output, ``.NAME.XXXXXXXX.scratch``. The folder holds an
flock on its ``.owner`` file for as long as its process lives. Ctrl-C, SIGTERM and SIGHUP
remove it (genae_studio.signals); after a ``kill -9`` or a power cut the lock is gone, and
the next scratch folder made in the same place removes the stale one (as a training
removes the checkpoint folders a killed writer left).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from .fileio import OutputError

SUFFIX = ".scratch"
OWNER = ".owner"
# A folder without its .owner file is being created right now, or was left by a kill
# between the two system calls; only the latter is old.
UNOWNED_AGE_S = 60.0

try:
    import fcntl
except ImportError:  # Windows: no flock; stale scratch is then not detected
    fcntl = None  # type: ignore[assignment]


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def is_scratch(name: str) -> bool:
    return name.startswith(".") and name.endswith(SUFFIX)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the scratch folders in ``folder`` whose owner is gone; returns them."""
    if fcntl is None:
        return []
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not is_scratch(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            try:
                fd = os.open(path / OWNER, os.O_RDWR)
            except FileNotFoundError:
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat(follow_symlinks=False).st_mtime > UNOWNED_AGE_S:
                        shutil.rmtree(path, ignore_errors=True)
                        removed.append(path)
                continue
            except OSError:
                continue
            try:
                if _try_lock(fd):  # nobody holds it: its process is gone
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            finally:
                os.close(fd)
    return removed


class Scratch:
    """A hidden scratch folder beside ``output`` (``.path``), locked while this process
    lives; ``close()`` removes it. Stale scratch folders in the same place are removed first."""

    def __init__(self, output: Path):
        output = Path(output)
        self.fd = None
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(output.parent)
            self.path = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=SUFFIX,
                                              dir=output.parent))
        except OSError as exc:
            raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
        try:
            self.fd = os.open(self.path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
            _try_lock(self.fd)
        except OSError as exc:
            self.close()
            raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def close(self) -> None:
        """Remove the folder (the lock goes with its file descriptor)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
