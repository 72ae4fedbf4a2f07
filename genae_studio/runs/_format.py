"""The run-folder format: names, the config (RunConfig) and one snapshot of a run (Checkpoint).

Shared by the writer (``_save``) and the reader (``_load``); the
layout is described in genae_studio.runs. Nothing here touches the disk.
"""
from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, DataError

FORMAT = "genae-studio-run"
FORMAT_VERSION = 2  # 1: files side by side; 2: config.json is a manifest of a checkpoint folder
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "training_state.pt"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"


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
    # Where the model's plugin came from (genae_studio.plugins.PluginSource.to_json): its
    # distribution and version, its module or its file; {} in runs written before it.
    plugin_source: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "plugin": self.plugin,
               "model": self.model, "hparams": self.hparams, "data": self.data,
               "training": self.training, "progress": self.progress,
               "versions": self.versions}
        if self.plugin_source:
            doc["plugin_source"] = self.plugin_source
        if self.checkpoint is not None:
            doc["checkpoint"] = self.checkpoint
        return doc

    def data_source(self) -> str | None:
        """The run's training data as ``--data`` takes it: the name or path given to train;
        a relative path not found from here is looked up as the absolute path recorded
        beside it (``data.path``). A recorded path found neither way is a DataError that
        says it came from the run and suggests ``--data``."""
        data, path = self.data.get("data"), self.data.get("path")
        looks_like_path = bool(data) and ("/" in data or "\\" in data or data.startswith("."))
        if not data or not (path or looks_like_path) or Path(data).expanduser().exists():
            return data
        if path and Path(path).exists():
            return str(path)
        shown = f"{data!r}" + (f" (absolute: {path})" if path and str(path) != str(data) else "")
        raise DataError(f"the run's training data {shown}, recorded in its config.json when "
                        "it was trained, is not found from here; pass --data PATH to use "
                        "another copy")


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


def run_versions() -> dict[str, str]:
    """The versions a run's config records: genae_studio, torch, numpy, Python."""
    import numpy
    import torch

    from .. import __version__

    return {"genae_studio": __version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def check_finite(tensors: dict, what: str) -> None:
    """Raise CheckpointError naming the first floating tensor holding NaN or infinity."""
    import torch

    for name, value in tensors.items():
        if torch.is_tensor(value) and value.is_floating_point() \
                and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{what}: {name} holds NaN or infinite values")


def digest(data: bytes) -> dict:
    """A file's entry in the manifest: its size and SHA-256."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

