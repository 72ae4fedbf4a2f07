"""Training for the studio: genae_studio.training.train with live loss records and a preview
of reconstructions and samples, reported while it runs."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .progress import Progress, reporter

UPDATE_S = 0.1  # loss records and progress at most 10 times a second
PREVIEW_S = 2.0  # preview images every 2 seconds of training
PREVIEW_N = 8


@dataclass
class TrainUpdate:
    steps: list[int]  # global step of each record
    losses: list[dict[str, float]]
    progress: object  # the latest genae_studio.training.TrainProgress


@dataclass
class Preview:
    recon: np.ndarray  # uint8 (2, PREVIEW_N, C, H, W): inputs, reconstructions
    samples: np.ndarray  # uint8 (1, PREVIEW_N, C, H, W)
    epoch: int
    step: int


def preview_images(model, images: np.ndarray, z) -> tuple[np.ndarray, np.ndarray]:
    """uint8 rows: ``images`` and their reconstructions, and the decodings of codes ``z``."""
    import torch

    from ..imaging import to_float_tensor, to_uint8
    from ..sampling import sampling_mode

    with torch.inference_mode(), sampling_mode(model, "batch"):
        x = to_float_tensor(images, model.device)
        rec = model.decode(model.encode(x, sample=False))
        samples = model.decode(torch.as_tensor(z).to(model.device))
    return np.stack([images, to_uint8(rec)]), to_uint8(samples)[None]


class _Reports:
    """Turns the training loop's callbacks into TrainUpdate, Progress and Preview reports."""

    def __init__(self, settings, host, report: Callable[[object], None]):
        self.settings, self.host, self.report = settings, host, report
        self.model = None
        self.pending: list = []
        self.sent = 0.0
        self.previewed = time.perf_counter()
        self.images = self.z = None
        self.last = None  # the latest TrainProgress

    def on_progress(self, p) -> None:
        self.pending.append((p.epoch * p.steps_per_epoch + p.step, p.losses))
        self.last = p
        now = time.perf_counter()
        last = p.epoch + 1 == p.epochs and p.step == p.steps_per_epoch
        if now - self.sent >= UPDATE_S or last:
            self.sent = now
            self.flush()
            self.report(Progress((p.epoch * p.steps_per_epoch + p.step),
                                 p.epochs * p.steps_per_epoch,
                                 f"training {self.settings.model}: epoch "
                                 f"{p.epoch + 1}/{p.epochs}"))
        if now - self.previewed >= PREVIEW_S:
            self.previewed = now
            self.preview(p)

    def flush(self) -> None:
        """Report the records not reported yet (the last ones, when training stops)."""
        if not self.pending:
            return
        steps, losses = zip(*self.pending, strict=True)
        self.pending.clear()
        self.report(TrainUpdate(list(steps), list(losses), self.last))

    def preview(self, progress) -> None:
        model = self.model
        if model is None:
            return
        if self.images is None:
            from ..data import resolve_dataset

            s = self.settings
            test = resolve_dataset(s.data, self.host.datasets, data_format=s.data_format,
                                   split="test", image_size=model.image_size, limit=PREVIEW_N)
            self.images = test.batch(np.arange(min(PREVIEW_N, len(test))))
            import torch

            self.z = torch.randn(len(self.images), model.latent_dim,
                                 generator=torch.Generator().manual_seed(0))
        recon, samples = preview_images(model, self.images, self.z)
        self.report(Preview(recon, samples, progress.epoch, progress.step))


def train_task(*, settings, out: Path, host, report: Callable[[object], None] | None = None,
               should_stop: Callable[[], bool] | None = None):
    """Run genae_studio.training.train; reports TrainUpdate, Progress and Preview values.
    Returns the TrainResult without its model (the studio opens the run folder instead)."""
    from ..training import train

    reports = _Reports(settings, host, reporter(report))

    def on_model(model) -> None:
        reports.model = model

    result = train(settings, out, host=host, on_progress=reports.on_progress,
                   should_stop=should_stop,
                   on_checkpoint=lambda _model, progress: reports.preview(progress),
                   on_model=on_model)
    reports.flush()  # a stop between two reports: the last batches are counted too
    result.model = None
    return result
