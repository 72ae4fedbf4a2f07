"""Training loop shared by the command line and the studio.

Checkpoints are written at the end of every epoch and when stopped; a loss
that turns NaN or infinite stops training and keeps the last good checkpoint.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import TrainingDiverged, UsageError
from .plugins import PluginHost, load_plugins
from .runs import (
    RunConfig,
    library_versions,
    load_training_state,
    load_weights,
    read_config,
    save_run,
)


@dataclass
class TrainSettings:
    model: str = "vae"
    data: str = "toyfaces"
    data_format: str | None = None
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    latent_dim: int | None = None  # None: the model's default (200)
    image_size: int | None = None  # None: the dataset's
    width: int | None = None  # None: the model's default (64)
    noise_std: float | None = None  # None: the model's default (0.5)
    device: str = "auto"
    seed: int = 0
    limit: int | None = None


@dataclass
class TrainProgress:
    epoch: int  # 0-based epoch in progress
    epochs: int
    step: int  # steps done in this epoch
    steps_per_epoch: int
    losses: dict[str, float]
    images_per_s: float
    elapsed_s: float


@dataclass
class TrainResult:
    out: Path
    epochs_done: int
    stopped: bool
    history: list[dict] = field(default_factory=list)
    model: object = None


def build_model(host: PluginHost, name: str, hparams: dict):
    spec = host.model(name)
    return spec, spec.factory(**hparams)


def train(settings: TrainSettings, out: Path, *, resume: Path | None = None,
          host: PluginHost | None = None,
          on_progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_checkpoint: Callable[[object, TrainProgress], None] | None = None) -> TrainResult:
    """Train ``settings.model`` and write a run folder to ``out``.

    With ``resume``, the model, hyperparameters and data come from that run and
    training continues where it stopped, up to ``settings.epochs`` in total.
    """
    import torch

    from .data import resolve_dataset
    from .devices import resolve_device

    host = host or load_plugins()
    out = Path(out)
    if settings.epochs < 1 or settings.batch_size < 2:
        raise UsageError("--epochs must be >= 1 and --batch-size >= 2")
    device = resolve_device(settings.device)

    if resume is not None:
        previous = read_config(resume)
        settings = _settings_from_run(previous, settings)
    dataset = resolve_dataset(settings.data, host.datasets, data_format=settings.data_format,
                              split="train", image_size=settings.image_size,
                              limit=settings.limit, seed=settings.seed)
    if len(dataset) < settings.batch_size:
        raise UsageError(f"{settings.data}: {len(dataset)} training images, fewer than one "
                         f"batch of {settings.batch_size}")
    spec = host.model(settings.model)
    hparams = dict(spec.defaults)
    hparams.update(image_size=dataset.image_size, channels=dataset.channels)
    for key in ("latent_dim", "width", "noise_std"):
        if getattr(settings, key) is not None:
            hparams[key] = getattr(settings, key)
    if resume is not None:
        hparams = previous.hparams

    torch.manual_seed(settings.seed)
    model = spec.factory(**hparams).to(device)
    optimizers = {name: torch.optim.Adam(params, lr=settings.lr, betas=settings.betas)
                  for name, params in model.optimizer_groups().items()}
    start_epoch, start_step, history = 0, 0, []
    if resume is not None:
        load_weights(resume, model)
        state = load_training_state(resume)
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, start_step = int(state["epoch"]), int(state["step"])
        history = list(previous.progress.get("history", []))

    config = RunConfig(
        plugin=spec.plugin, model=settings.model, hparams=hparams,
        data={"data": settings.data, "format": settings.data_format, "name": dataset.name,
              "image_size": dataset.image_size, "channels": dataset.channels,
              "limit": settings.limit, "images": len(dataset)},
        training={k: v for k, v in asdict(settings).items()
                  if k in ("epochs", "batch_size", "lr", "betas", "seed", "device")},
        versions=library_versions())

    def checkpoint(epoch: int, step: int) -> None:
        config.progress = {"epoch": epoch, "step": step, "history": history}
        save_run(out, config, model, optimizers,
                 {"torch_rng": torch.get_rng_state(), "epoch": epoch, "step": step})

    def step_fn(name: str, loss):
        opt = optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    batch_size = settings.batch_size
    steps_per_epoch = len(dataset) // batch_size
    started = time.perf_counter()
    model.train()
    for epoch in range(start_epoch, settings.epochs):
        order = np.random.default_rng([settings.seed, epoch]).permutation(len(dataset))
        sums: dict[str, float] = {}
        window_start, window_images = time.perf_counter(), 0
        first = start_step if epoch == start_epoch else 0
        for step in range(first, steps_per_epoch):
            idx = np.sort(order[step * batch_size:(step + 1) * batch_size])
            x = torch.from_numpy(dataset.batch(idx)).to(device, non_blocking=True)
            x = x.float().div_(255)
            losses = {k: float(v) for k, v in model.training_step(x, step_fn).items()}
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                kept = (f"kept the last good checkpoint in {out} (epoch {len(history)})"
                        if (out / "config.json").exists() else "no checkpoint had been written")
                raise TrainingDiverged(f"loss {bad[0]} became {losses[bad[0]]} at epoch "
                                       f"{epoch + 1}, step {step + 1}; training stopped; {kept}")
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            window_images += batch_size
            now = time.perf_counter()
            progress = TrainProgress(epoch, settings.epochs, step + 1, steps_per_epoch, losses,
                                     window_images / max(now - window_start, 1e-9),
                                     now - started)
            if on_progress:
                on_progress(progress)
            if should_stop and should_stop():
                checkpoint(epoch, step + 1)
                return TrainResult(out, epoch, True, history, model)
        done = steps_per_epoch - first
        history.append({"epoch": epoch + 1, **{k: v / max(done, 1) for k, v in sums.items()}})
        checkpoint(epoch + 1, 0)
        if on_checkpoint:
            on_checkpoint(model, progress)
    return TrainResult(out, settings.epochs, False, history, model)


def _settings_from_run(run: RunConfig, settings: TrainSettings) -> TrainSettings:
    """Resume keeps the run's model, data and optimiser settings; only epochs and device change."""
    t = run.training
    return TrainSettings(model=run.model, data=run.data.get("data", "toyfaces"),
                         data_format=run.data.get("format"), epochs=settings.epochs,
                         batch_size=t.get("batch_size", settings.batch_size),
                         lr=t.get("lr", settings.lr), betas=tuple(t.get("betas", settings.betas)),
                         image_size=run.data.get("image_size"), device=settings.device,
                         seed=t.get("seed", settings.seed), limit=run.data.get("limit"))
