"""Run folders: config.json + model.safetensors + training_state.pt.

Loading never unpickles arbitrary objects: weights are safetensors and the
training state is read with ``torch.load(weights_only=True)``. Every file is
written to a temporary name and renamed, so a crash leaves the previous one.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError

FORMAT = "genae-studio-run"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "training_state.pt"


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

    def to_json(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "plugin": self.plugin,
                "model": self.model, "hparams": self.hparams, "data": self.data,
                "training": self.training, "progress": self.progress,
                "versions": self.versions}


def library_versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"genae_studio": __version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_run(out: Path, config: RunConfig, model, optimizers: dict | None = None,
             extra_state: dict | None = None) -> None:
    """Write weights, training state (if optimizers) and config, each atomically; config last."""
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(out / WEIGHTS, lambda p: save_file(state, p, metadata={"format": FORMAT}))
    if optimizers is not None:
        training_state = {"optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                          **(extra_state or {})}
        atomic_write(out / STATE, lambda p: torch.save(training_state, p))
    text = json.dumps(config.to_json(), indent=2)
    atomic_write(out / CONFIG, lambda p: Path(p).write_text(text))


def read_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run folder")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: a run is a folder with {CONFIG} and {WEIGHTS}")
    path = run_dir / CONFIG
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir}: not a run folder (no {CONFIG})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt config ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a genae-studio run config")
    if raw.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer genae-studio "
                              f"(format {raw['format_version']})")
    try:
        return RunConfig(plugin=raw["plugin"], model=raw["model"], hparams=dict(raw["hparams"]),
                         data=raw.get("data", {}), training=raw.get("training", {}),
                         progress=raw.get("progress", {}), versions=raw.get("versions", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: incomplete config (missing {exc})") from None


def load_weights(run_dir: Path, model) -> None:
    """Load model.safetensors into ``model``; a corrupt or foreign file is a CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(run_dir) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file missing")
    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path}: weights do not fit the model ({detail})") from None


def load_training_state(run_dir: Path) -> dict:
    """Read training_state.pt without executing code from it (weights_only)."""
    import pickle

    import torch

    path = Path(run_dir) / STATE
    if not path.is_file():
        raise CheckpointError(f"{path}: no training state to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            AttributeError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: refused to load: not a plain training state "
                              f"({reason[:200]})") from None
    if not isinstance(state, dict) or "optimizers" not in state:
        raise CheckpointError(f"{path}: not a genae-studio training state")
    return state
