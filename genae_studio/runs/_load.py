"""Reading a run folder: config.json validated, and the checkpoint it names checked against it.

Loading never unpickles arbitrary objects: weights are safetensors and the training state is
read with ``torch.load(weights_only=True)`` after its zip directory has been checked. A file
whose size or SHA-256 disagrees with the manifest in config.json is refused, naming the run;
a save that replaces the checkpoint while it is being read makes the reader start over.
Format 1 folders (files side by side, no manifest) still load. The layout is described in
genae_studio.runs; the writer is ``_save``.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path

from ..errors import CheckpointError
from ..fileio import is_temporary
from ._format import (
    CHECKPOINTS,
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    STATE,
    WEIGHTS,
    Checkpoint,
    RunConfig,
    check_finite,
    digest,
)

MAX_CONFIG_BYTES = 4 << 20  # config.json holds a few kB; refuse to read /dev/zero
# Bounds on what config.json may declare: far above anything trainable here, far below what
# would exhaust memory when the model is built.
HPARAM_BOUNDS = {"latent_dim": 65536, "width": 4096, "image_size": 4096, "channels": 4}
READ_ATTEMPTS = 5  # a reader retries when a save replaced the checkpoint it was opening


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
                           checkpoint=raw.get("checkpoint"),
                           plugin_source=dict(raw.get("plugin_source") or {}))
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
    if expected and digest(data) != expected:
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
    detail = detail.removeprefix("WeightsUnpickler error:").strip()
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", detail)
    if found:  # the rest of the sentence is torch's advice to allow it
        return f"it calls {found.group(1)}, which a training state never does"
    return re.split(r"\.?\s+Please use", detail)[0][:200]


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
