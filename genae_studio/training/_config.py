"""What a training takes and gives: its settings, its progress reports, its result, and the
callbacks through which the caller follows and stops it.

Importing this module loads no torch (the studio builds settings on its GUI thread).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError


@dataclass
class TrainSettings:
    """What to train, on what, and how; checked by ``validate_settings``."""

    model: str = "vae"
    data: str | None = None  # None: the default dataset (genae_studio.data.default_dataset)
    data_format: str | None = None
    epochs: int = 20
    batch_size: int = 64  # the global batch: split across processes under torchrun
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # None: the model's registered default (ModelSpec.config; the built-ins': the paper's).
    latent_dim: int | None = None
    image_size: int | None = None  # None: the dataset's
    width: int | None = None
    noise_std: float | None = None
    # The model's own settings, the fields of its config by name (``{"kl_weight": 4.0}``;
    # text such as "4" is parsed with the field's type): what ``train --set`` gives. Checked
    # against the model (ModelSpec.check_settings) when training starts; recorded in the
    # run's config.json with the other hyperparameters.
    model_settings: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    seed: int = 0
    limit: int | None = None
    # Speed. "bf16": autocast to bfloat16 (fp32 master weights, optimiser state and losses);
    # refused where the hardware has no native bfloat16. "auto": bf16 on CUDA GPUs that
    # support it, fp32 elsewhere. "tf32" allows TF32 on CUDA. On resume, "auto" keeps the
    # run's precision.
    precision: str = "auto"  # auto | fp32 | tf32 | bf16
    channels_last: bool | None = None  # None: on CUDA only
    compile: bool = False  # torch.compile the encoder and decoder; eager on compile errors
    sync_bn: bool = True  # under torchrun: batch-norm statistics over the global batch


PRECISIONS = ("auto", "fp32", "tf32", "bf16")


@dataclass
class TrainProgress:
    """One step's report to ``TrainCallbacks.on_progress``."""

    epoch: int  # 0-based epoch in progress
    epochs: int
    step: int  # steps done in this epoch
    steps_per_epoch: int
    losses: dict[str, float]
    images_per_s: float
    elapsed_s: float
    data_wait_s: float = 0.0  # total time the loop waited for batches (0 when never starved)


@dataclass
class TrainResult:
    """What ``train`` returns once it has finished or was stopped."""

    out: Path
    epochs_done: int
    stopped: bool
    history: list[dict] = field(default_factory=list)
    model: object = None
    elapsed_s: float = 0.0
    data_wait_s: float = 0.0
    rank: int = 0  # under torchrun: this process's rank (only rank 0 writes and reports)
    world_size: int = 1
    skipped: int = 0  # unreadable images skipped so far (also data.skipped in config.json)
    first_skipped: str | None = None  # "PATH: reason" of the first one



@dataclass
class TrainCallbacks:
    """How the caller follows a training and stops it; every callback is optional.

    - ``on_model(model)``: once the model is built (and its weights restored on resume),
      before the first step: for previews while it trains. It runs in the training thread;
      share the model with other threads only under a lock.
    - ``on_progress(progress)``: after every step, with a TrainProgress.
    - ``on_checkpoint(model, progress)``: after each epoch's checkpoint is committed.
    - ``should_stop()``: asked after every step; True writes a checkpoint and returns.

    Under torchrun only rank 0 reports (see ``for_rank``); every process is asked
    ``should_stop`` and training stops when any of them says so.
    """

    on_model: Callable[[Any], None] | None = None
    on_progress: Callable[[TrainProgress], None] | None = None
    on_checkpoint: Callable[[Any, TrainProgress], None] | None = None
    should_stop: Callable[[], bool] | None = None

    def for_rank(self, main: bool) -> TrainCallbacks:
        """The callbacks one process calls: all of them on rank 0, only should_stop
        elsewhere."""
        return self if main else TrainCallbacks(should_stop=self.should_stop)

    def model_ready(self, model) -> None:
        if self.on_model is not None:
            self.on_model(model)

    def progress(self, progress: TrainProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    def checkpoint_written(self, model, progress: TrainProgress) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(model, progress)

    def stop_requested(self) -> bool:
        return bool(self.should_stop and self.should_stop())


def validate_settings(settings: TrainSettings) -> None:
    """Refuse settings that cannot train, before any work is done (UsageError, one line)."""
    if settings.epochs < 1 or settings.batch_size < 2:
        raise UsageError("--epochs must be >= 1 and --batch-size >= 2")
    if settings.precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, "
                         f"got {settings.precision!r}")
    if not _finite_number(settings.lr) or settings.lr <= 0:
        raise UsageError(f"--lr must be a finite number > 0, got {settings.lr}")
    if settings.noise_std is not None and (not _finite_number(settings.noise_std)
                                           or settings.noise_std < 0):
        raise UsageError(f"--noise-std must be a finite number >= 0, got {settings.noise_std}")
    if len(settings.betas) != 2 or not all(_finite_number(b) and 0 <= b < 1
                                           for b in settings.betas):
        raise UsageError(f"Adam betas must be two numbers in [0, 1), got {settings.betas}")
    for key in ("latent_dim", "width", "limit"):
        value = getattr(settings, key)
        if value is not None and value < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 1, got {value}")


def _finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)
