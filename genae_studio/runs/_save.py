"""Writing a run folder: commit a checkpoint, clean up after a killed writer, hold the lock.

A save writes a new checkpoint folder under a temporary name, fsyncs it, renames it into
place, then replaces config.json atomically; config.json names the checkpoint folder and
holds the size and SHA-256 of each of its files. Only then are older checkpoint folders
removed. A crash at any instant therefore leaves the old or the new checkpoint, complete.
Checkpoint folders are never modified once committed, so readers (``_load``)
need no lock. The layout is described in genae_studio.runs.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import CheckpointError
from ..fileio import (
    OutputError,
    atomic_write_text,
    cleanup_temporaries,
    fsync_dir,
    is_temporary,
    write_bytes_durably,
)
from ._format import (
    CHECKPOINTS,
    CONFIG,
    FORMAT,
    LOCK,
    STATE,
    WEIGHTS,
    RunConfig,
    check_finite,
    digest,
)
from ._load import read_config


def save_run(out: Path, config: RunConfig, model, optimizers: dict | None = None,
             extra_state: dict | None = None) -> None:
    """Commit the weights, the training state (if ``optimizers``) and the config as one unit.

    Refuses (CheckpointError) weights that are not finite: a diverged model is never saved.
    On an OSError (a full disk) the previous checkpoint stays in place, complete.
    """
    import torch
    from safetensors.torch import save as safetensors_bytes

    out = Path(out)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    check_finite(weights, f"{out}: refused to save a diverged model")
    blobs = {WEIGHTS: safetensors_bytes(weights, metadata={"format": FORMAT})}
    if optimizers is not None:
        training_state = {"optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                          "model": config.model, **(extra_state or {})}
        buffer = io.BytesIO()
        torch.save(training_state, buffer)
        blobs[STATE] = buffer.getvalue()

    try:
        _commit(out, config, blobs)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, OutputError):
            reason = str(exc).split(": ", 1)[-1].split(";")[0]
        raise OutputError(f"{out}: cannot save the checkpoint ({reason}); the previous "
                          "checkpoint is unchanged") from None


def _commit(out: Path, config: RunConfig, blobs: dict[str, bytes]) -> None:
    progress = config.progress
    name = (f"e{int(progress.get('epoch', 0)):05d}-s{int(progress.get('step', 0)):07d}-"
            f"{secrets.token_hex(4)}")
    folder = out / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{name}.tmp"
    try:
        os.mkdir(staging)
        for file_name, data in blobs.items():
            write_bytes_durably(staging / file_name, data)
        fsync_dir(staging)
        os.rename(staging, folder / name)
        fsync_dir(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(folder / name, ignore_errors=True)
        raise
    manifest = {"folder": f"{CHECKPOINTS}/{name}",
                "files": {k: digest(v) for k, v in blobs.items()}}
    doc = RunConfig(**{**vars(config), "checkpoint": manifest}).to_json()
    try:
        atomic_write_text(out / CONFIG, json.dumps(doc, indent=2))  # the commit
    except BaseException:
        if not _names(out, name):  # failed before the rename: the new folder is an orphan
            shutil.rmtree(folder / name, ignore_errors=True)
        raise
    config.checkpoint = manifest
    _remove_stale(out, keep=name)


def _names(out: Path, name: str) -> bool:
    """Whether out's config.json commits the checkpoint folder ``name``."""
    try:
        manifest = json.loads((out / CONFIG).read_bytes()).get("checkpoint") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(manifest, dict) and manifest.get("folder") == f"{CHECKPOINTS}/{name}"


def _remove_stale(out: Path, keep: str | None) -> None:
    """Remove checkpoint folders other than ``keep`` and format-1 files (best effort)."""
    folder = out / CHECKPOINTS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name != keep and not is_temporary(entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
    if keep is not None:
        for legacy in (WEIGHTS, STATE):
            with contextlib.suppress(OSError):
                (out / legacy).unlink()


def clean_run_folder(out: Path) -> None:
    """Remove what killed writers left behind: temporary files, staged and uncommitted
    checkpoint folders. Only under ``run_lock(out)``."""
    out = Path(out)
    if not out.is_dir():
        return
    cleanup_temporaries(out)
    cleanup_temporaries(out / CHECKPOINTS)
    try:
        config = read_config(out)
    except CheckpointError:
        config = None
    if config is None:
        if not (out / CONFIG).exists():  # nothing committed: every checkpoint is an orphan
            _remove_stale(out, keep=None)
        return  # a corrupt config: leave the files for the user to inspect
    if config.checkpoint is not None:
        _remove_stale(out, keep=Path(config.checkpoint["folder"]).name)


def is_run_folder(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file()


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold the run folder's lock (``RUN/.lock``, an flock); a second writer gets a
    CheckpointError naming the folder and the holder's pid."""
    from filelock import FileLock, Timeout

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = f" (held by pid {int(path.read_text().split()[0])})"
        raise CheckpointError(f"{out}: another process is writing this run{holder}; "
                              f"wait for it to finish") from None
    try:
        with contextlib.suppress(OSError):  # for the message above; the flock is the lock
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
        yield
    finally:
        lock.release()


def lock_holder(out: Path) -> int | None:
    """The pid of the process holding ``out``'s lock (0 if it cannot be read), or None when
    nobody holds it."""
    from filelock import FileLock, Timeout

    path = Path(out) / LOCK
    if not path.is_file():
        return None
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
    except OSError:  # cannot even open it (read-only): nobody we can tell
        return None
    lock.release()
    return None


def new_parts(out: Path) -> list[Path]:
    """The parts of a run folder that do not exist yet (what a training would create)."""
    out = Path(out)
    return [p for p in (out, out / CHECKPOINTS, out / LOCK) if not os.path.lexists(p)]


def remove_uncommitted(out: Path, created: list[Path]) -> None:
    """After a failed training: remove the ``created`` parts (``new_parts`` before it
    started) unless a checkpoint was committed."""
    out = Path(out)
    if is_run_folder(out):
        return
    for part in created:
        if part == out:
            shutil.rmtree(out, ignore_errors=True)
            return
    for part in created:
        if part.is_dir() and not part.is_symlink():
            shutil.rmtree(part, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                part.unlink()
