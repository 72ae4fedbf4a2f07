"""Run folders: config.json + one checkpoint (weights and training state), committed together.

Layout (format 2)::

    RUN/config.json                          the config and the manifest: the commit point
    RUN/checkpoints/NAME/model.safetensors   weights
    RUN/checkpoints/NAME/training_state.pt   optimisers, epoch, step, RNG states
    RUN/.lock                                held while a training writes the folder

A save writes a new checkpoint folder under a temporary name, fsyncs it, renames it into
place, then replaces config.json atomically; config.json names the checkpoint folder and
holds the size and SHA-256 of each of its files. Only then are older checkpoint folders
removed. A crash at any instant therefore leaves the old or the new checkpoint, complete;
a reader that finds files that disagree with the manifest gets a CheckpointError naming
the run. Checkpoint folders are never modified once committed, so readers need no lock.

Format 1 folders (config.json, model.safetensors and training_state.pt side by side)
still load. Loading never unpickles arbitrary objects: weights are safetensors and the
training state is read with ``torch.load(weights_only=True)`` after its zip directory
has been checked.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import platform
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .fileio import (
    OutputError,
    atomic_write,
    atomic_write_text,
    cleanup_temporaries,
    fsync_dir,
    is_temporary,
)
from .fileio import write_bytes_durably as _write_bytes_durably

__all__ = ["FORMAT", "FORMAT_VERSION", "CONFIG", "WEIGHTS", "STATE", "CHECKPOINTS", "LOCK",
           "RunConfig", "Checkpoint", "library_versions", "atomic_write", "save_run",
           "read_config", "read_checkpoint", "load_weights", "load_training_state",
           "clean_run_folder", "run_lock", "is_run_folder", "check_finite", "checkpoint_file",
           "fit_weights"]

FORMAT = "genae-studio-run"
FORMAT_VERSION = 2  # 1: files side by side; 2: config.json is a manifest of a checkpoint folder
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "training_state.pt"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
MAX_CONFIG_BYTES = 4 << 20  # config.json holds a few kB; refuse to read /dev/zero
# Bounds on what config.json may declare: far above anything trainable here, far below what
# would exhaust memory when the model is built.
HPARAM_BOUNDS = {"latent_dim": 65536, "width": 4096, "image_size": 4096, "channels": 4}
READ_ATTEMPTS = 5  # a reader retries when a save replaced the checkpoint it was opening


@dataclass
class RunConfig:
    """What a run folder's config.json holds."""

    plugin: str
    model: str
    hparams: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)  # epoch, step, history
    versions: dict[str, str] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None  # the manifest (format 2), set by save_run

    def to_json(self) -> dict:
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "plugin": self.plugin,
               "model": self.model, "hparams": self.hparams, "data": self.data,
               "training": self.training, "progress": self.progress,
               "versions": self.versions}
        if self.checkpoint is not None:
            doc["checkpoint"] = self.checkpoint
        return doc


@dataclass
class Checkpoint:
    """One consistent snapshot of a run: the config and the files it names."""

    run_dir: Path
    config: RunConfig
    weights: dict  # name -> tensor (CPU)
    state: dict | None = None  # the training state, when asked for

    @property
    def epoch(self) -> int:
        return int(self.config.progress.get("epoch", 0))


def library_versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"genae_studio": __version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


# ------------------------------------------------------------------------------- writing

def check_finite(tensors: dict, what: str) -> None:
    """Raise CheckpointError naming the first floating tensor holding NaN or infinity."""
    import torch

    for name, value in tensors.items():
        if torch.is_tensor(value) and value.is_floating_point() \
                and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{what}: {name} holds NaN or infinite values")


def _digest(data: bytes) -> dict:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


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
            _write_bytes_durably(staging / file_name, data)
        fsync_dir(staging)
        os.rename(staging, folder / name)
        fsync_dir(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(folder / name, ignore_errors=True)
        raise
    manifest = {"folder": f"{CHECKPOINTS}/{name}",
                "files": {k: _digest(v) for k, v in blobs.items()}}
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


# ------------------------------------------------------------------------------- reading

def _read_small(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing devices, FIFOs and files above ``limit``."""
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{path}: not a regular file")
        if info.st_size > limit:
            raise CheckpointError(f"{path}: {info.st_size} bytes, more than the "
                                  f"{limit >> 20} MB a run's {path.name} may have")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise CheckpointError(f"{path}: more than {limit >> 20} MB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_config(run_dir: Path) -> RunConfig:
    """config.json, validated: format, version, model hyperparameters and manifest."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run folder")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: a run is a folder with {CONFIG} and {WEIGHTS}")
    path = run_dir / CONFIG
    try:
        raw = json.loads(_read_small(path, MAX_CONFIG_BYTES))
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir}: not a run folder (no {CONFIG})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt config ({str(exc)[:200]})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a genae-studio run config")
    version = raw.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: unknown format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer genae-studio (format {version}; "
                              f"this one reads up to {FORMAT_VERSION})")
    try:
        config = RunConfig(plugin=str(raw["plugin"]), model=str(raw["model"]),
                           hparams=dict(raw["hparams"]), data=dict(raw.get("data", {})),
                           training=dict(raw.get("training", {})),
                           progress=dict(raw.get("progress", {})),
                           versions=dict(raw.get("versions", {})),
                           checkpoint=raw.get("checkpoint"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: incomplete config (missing or bad {exc})") from None
    _validate(config, path, version)
    return config


def _validate(config: RunConfig, path: Path, version: int) -> None:
    for key, bound in HPARAM_BOUNDS.items():
        value = config.hparams.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= bound:
            raise CheckpointError(f"{path}: hparams.{key} must be an integer from 1 to "
                                  f"{bound}, got {value!r}")
    noise = config.hparams.get("noise_std")
    if noise is not None and (not isinstance(noise, int | float) or isinstance(noise, bool)
                              or not math.isfinite(noise) or noise < 0):
        raise CheckpointError(f"{path}: hparams.noise_std must be a finite number >= 0, "
                              f"got {noise!r}")
    for key in ("epoch", "step"):
        value = config.progress.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"{path}: progress.{key} must be a non-negative integer, "
                                  f"got {value!r}")
    if version >= 2:
        manifest = config.checkpoint
        ok = isinstance(manifest, dict) and isinstance(manifest.get("folder"), str) \
            and isinstance(manifest.get("files"), dict) and WEIGHTS in manifest["files"]
        if ok:
            folder = Path(manifest["folder"])
            ok = len(folder.parts) == 2 and folder.parts[0] == CHECKPOINTS \
                and not is_temporary(folder.name) and folder.name not in ("..", ".")
            ok = ok and all(
                name in (WEIGHTS, STATE) and isinstance(d, dict)
                and isinstance(d.get("bytes"), int) and isinstance(d.get("sha256"), str)
                for name, d in manifest["files"].items())
        if not ok:
            raise CheckpointError(f"{path}: bad or missing checkpoint manifest")


def checkpoint_file(run_dir: Path, name: str = WEIGHTS) -> Path:
    """Where the committed checkpoint's ``name`` (WEIGHTS or STATE) is now."""
    return _file_of(Path(run_dir), read_config(run_dir), name)


def _file_of(run_dir: Path, config: RunConfig, name: str) -> Path:
    if config.checkpoint is None:  # format 1: side by side
        return run_dir / name
    return run_dir / config.checkpoint["folder"] / name


def _read_verified(run_dir: Path, config: RunConfig, name: str) -> bytes:
    """The bytes of one checkpoint file, checked against the manifest (format 2)."""
    path = _file_of(run_dir, config, name)
    expected = None if config.checkpoint is None else config.checkpoint["files"].get(name)
    if config.checkpoint is not None and expected is None:
        raise CheckpointError(f"{run_dir}: the checkpoint has no {name}")
    limit = expected["bytes"] if expected else _legacy_limit(run_dir, name)
    data = _read_small(path, limit)
    if expected and _digest(data) != expected:
        raise CheckpointError(f"{run_dir}: {path.relative_to(run_dir)} does not match the "
                              f"manifest in {CONFIG} (corrupt or from another save); "
                              "refused")
    return data


def _legacy_limit(run_dir: Path, name: str) -> int:
    """Format 1 has no manifest: bound the training state by the weights' size."""
    if name == WEIGHTS:
        return 1 << 40
    try:
        weights = (run_dir / WEIGHTS).stat().st_size
    except OSError:
        weights = 0
    return _state_limit(weights)


def _state_limit(weights_bytes: int) -> int:
    """Adam keeps two tensors per parameter; RNG states and counters add a little."""
    return 4 * weights_bytes + (64 << 20)


def _with_retries(run_dir: Path, read):
    """Call ``read(config)``; if a save replaced the checkpoint meanwhile, read again."""
    run_dir = Path(run_dir)
    for attempt in range(READ_ATTEMPTS):
        config = read_config(run_dir)
        try:
            return read(config)
        except FileNotFoundError as exc:
            if config.checkpoint is None or attempt == READ_ATTEMPTS - 1:
                missing = Path(exc.filename or run_dir / WEIGHTS)
                what = "weights file" if missing.name == WEIGHTS else "file"
                raise CheckpointError(f"{missing}: {what} missing") from None
        except OSError as exc:
            raise CheckpointError(f"{run_dir}: cannot read the checkpoint "
                                  f"({exc.strerror or exc})") from None
    raise AssertionError("unreachable")


def _parse_weights(run_dir: Path, config: RunConfig, data: bytes) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    path = _file_of(run_dir, config, WEIGHTS)
    try:
        weights = safetensors_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({exc})") from None
    check_finite(weights, f"{path}: the weights are unusable")
    return weights


def read_checkpoint(run_dir: Path, *, state: bool = False) -> Checkpoint:
    """The config and weights (and the training state with ``state``) of one committed
    checkpoint, checked against each other."""
    run_dir = Path(run_dir)

    def read(config: RunConfig) -> Checkpoint:
        weights = _read_verified(run_dir, config, WEIGHTS)
        training_state = None
        if state:
            if config.checkpoint is not None and STATE not in config.checkpoint["files"]:
                raise CheckpointError(f"{run_dir}: no training state to resume from")
            if config.checkpoint is None and not (run_dir / STATE).is_file():
                raise CheckpointError(f"{run_dir / STATE}: no training state to resume from")
            raw = _read_verified(run_dir, config, STATE)
            training_state = _parse_state(_file_of(run_dir, config, STATE), raw, config,
                                          len(weights))
        return Checkpoint(run_dir, config, _parse_weights(run_dir, config, weights),
                          training_state)

    return _with_retries(run_dir, read)


def load_weights(run_dir: Path, model) -> RunConfig:
    """Load the run's weights into ``model``; returns the config they belong to."""
    checkpoint = read_checkpoint(run_dir)
    fit_weights(checkpoint, model)
    return checkpoint.config


def fit_weights(checkpoint: Checkpoint, model) -> None:
    path = _file_of(checkpoint.run_dir, checkpoint.config, WEIGHTS)
    try:
        model.load_state_dict(checkpoint.weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path}: weights do not fit the model ({detail})") from None


def load_training_state(run_dir: Path) -> dict:
    """Read the training state without executing code from it (weights_only)."""
    return read_checkpoint(run_dir, state=True).state  # type: ignore[return-value]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TORCH_ADVICE = ("weights only load failed", "weights_only", "check the documentation",
                 "please file an issue")


def _pickle_refusal(exc: BaseException) -> str:
    """torch's multi-paragraph refusal reduced to the line that says what was found."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines
             if line and not any(a in line.lower() for a in _TORCH_ADVICE)]
    detail = lines[0] if lines else type(exc).__name__
    return detail.removeprefix("WeightsUnpickler error:").strip()[:200]


def _check_zip(path: Path, data: bytes, limit: int) -> None:
    """torch.save writes a zip of stored entries; refuse anything declaring more than
    ``limit`` bytes once unpacked (a deflate bomb) before torch reads it."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise CheckpointError(f"{path}: refused to load: not a torch.save archive") from None
    declared = sum(i.file_size for i in infos)
    if declared > limit:
        raise CheckpointError(f"{path}: refused to load: declares {declared >> 20} MB "
                              f"unpacked, more than a training state of this model can "
                              f"need ({limit >> 20} MB)")
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise CheckpointError(f"{path}: refused to load: compressed entries (torch.save "
                              "never writes them)")


def _parse_state(path: Path, data: bytes, config: RunConfig, weights_bytes: int) -> dict:
    import pickle
    import warnings

    import torch

    _check_zip(path, data, _state_limit(weights_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            AttributeError, ImportError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(f"{path}: refused to load: not a plain training state "
                              f"({_pickle_refusal(exc)})") from None
    if not isinstance(state, dict) or not isinstance(state.get("optimizers"), dict):
        raise CheckpointError(f"{path}: not a genae-studio training state")
    if state.get("model", config.model) != config.model:
        raise CheckpointError(f"{path}: training state of model {state['model']!r}, but "
                              f"{CONFIG} says {config.model!r}")
    for key in ("epoch", "step"):
        value, expected = state.get(key), config.progress.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value != expected:
            raise CheckpointError(f"{path.parent}: training state is at {key} {value!r} but "
                                  f"{CONFIG} at {expected!r}: the files come from different "
                                  "checkpoints; refused")
    rng = state.get("torch_rng")
    if not torch.is_tensor(rng) or rng.dtype != torch.uint8 \
            or rng.numel() != torch.get_rng_state().numel():
        raise CheckpointError(f"{path}: bad random-number-generator state")
    return state
