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
import signal
import tempfile
import threading
import time
import weakref
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


@contextlib.contextmanager
def _signals_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP back (they arrive when the block ends): a folder
    made and not yet known to its owner would otherwise be left behind."""
    held = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = mask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, before)


def _remove(path: Path, fd: int | None) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


class Scratch:
    """A hidden scratch folder beside ``output`` (``.path``), locked while this process
    lives; ``close()`` removes it. Stale scratch folders in the same place are removed first.

    The folder also goes when the object is dropped or the interpreter exits (an exception
    between its creation and the owner's ``try``: a signal, say); only a kill -9 leaves it,
    for the next run to remove."""

    def __init__(self, output: Path):
        output = Path(output)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(output.parent)
            with _signals_held():
                self.path = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=SUFFIX,
                                                  dir=output.parent))
                self._removal = weakref.finalize(self, _remove, self.path, None)
                fd = os.open(self.path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
                self._removal.detach()
                self._removal = weakref.finalize(self, _remove, self.path, fd)
                _try_lock(fd)
        except OSError as exc:
            self.close()
            raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def close(self) -> None:
        """Remove the folder (the lock goes with its file descriptor)."""
        removal = getattr(self, "_removal", None)
        if removal is not None:
            removal()
