"""The training loop, in parts that read and test alone.

``Trainer.build`` prepares one training (genae_studio.training.train calls it with the run
folder locked): the data and the model's hyperparameters (``load_training_data``,
``model_hparams``), the model and, under torchrun, its replica on this process
(genae_studio.distributed), the speed options (``_speed``), the optimisers and, on resume,
the state it continues from (``_resume``). ``Trainer.run`` then runs the epochs: every
update is checked (a loss that is not finite, then weights and optimiser state at each
checkpoint), every step is reported to the TrainCallbacks, and every epoch ends with a
committed checkpoint (genae_studio.runs).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import distributed
from ..data.prefetch import Prefetcher
from ..errors import CheckpointError, PluginError, TrainingDiverged, UsageError
from ..fileio import OutputError
from ..preflight import check_run
from ..runs import RunConfig, check_finite, read_config, run_versions, save_run
from ._config import TrainCallbacks, TrainProgress, TrainResult, TrainSettings
from ._resume import StartPoint, read_resume, restore
from ._speed import Speed, speed_options


def load_training_data(settings: TrainSettings, host, world: int = 1):
    """The training split, and the settings with the default dataset filled in. Refuses a
    global batch that does not split evenly over ``world`` processes, or a dataset smaller
    than one batch."""
    from ..data import default_dataset, resolve_dataset

    if settings.data is None:
        settings = replace(settings, data=default_dataset(host.datasets))
    if settings.batch_size % world:
        raise UsageError(f"--batch-size {settings.batch_size} (the global batch) must be "
                         f"divisible by the number of processes, {world}")
    dataset = resolve_dataset(settings.data, host.datasets, data_format=settings.data_format,
                              split="train", image_size=settings.image_size,
                              limit=settings.limit, seed=settings.seed)
    if len(dataset) < settings.batch_size:
        raise UsageError(f"{settings.data}: {len(dataset)} training images, fewer than one "
                         f"batch of {settings.batch_size}")
    return settings, dataset


def model_hparams(spec, settings: TrainSettings, dataset) -> dict:
    """The model's registered defaults, the dataset's image size and channels, and what the
    settings choose (``None``: the default; ``model_settings``: the model's own fields)."""
    hparams = dict(spec.defaults)
    hparams.update(spec.check_settings(settings.model_settings))
    for key in ("latent_dim", "width", "noise_std"):
        if getattr(settings, key) is not None:
            hparams[key] = getattr(settings, key)
    hparams.update(image_size=dataset.image_size, channels=dataset.channels)
    return hparams


def data_path(data: str | None, datasets: dict) -> str | None:
    """The absolute path of ``--data`` when it names a path rather than a registered
    dataset (runs record it beside the path as given)."""
    if not data or data in datasets:
        return None
    path = Path(data).expanduser()
    return str(path.resolve()) if path.exists() else None


def run_config(spec, settings: TrainSettings, dataset, hparams: dict, precision: str,
               processes: int, host=None) -> RunConfig:
    """The config.json of the run being trained (progress is filled in at each save)."""
    kept = ("epochs", "batch_size", "lr", "betas", "seed", "device")
    datasets = host.datasets if host is not None else {}
    source = host.sources.get(spec.plugin) if host is not None else None
    return RunConfig(
        plugin=spec.plugin, model=settings.model, hparams=hparams,
        data={"data": settings.data, "path": data_path(settings.data, datasets),
              "format": settings.data_format, "name": dataset.name,
              "image_size": dataset.image_size, "channels": dataset.channels,
              "limit": settings.limit, "images": len(dataset)},
        training={**{k: v for k, v in asdict(settings).items() if k in kept},
                  "precision": precision, "processes": processes},
        versions=run_versions(), plugin_source=source.to_json() if source else {})


def check_contract(spec, model) -> None:
    """The cheap contract checks (shapes, logits) on a model about to be trained, so that a
    sigmoid decoder or a wrong-shaped encoder is refused before an epoch is wasted."""
    from .. import blame
    from ..testing import contract_problem

    problem = contract_problem(model)
    if problem:
        subject = blame.Subject(spec.plugin, "model", spec.name)
        raise PluginError(f"{subject}: refused before training, {problem}; run "
                          f"`{blame.check_command(subject)}`")


def reduce_losses(raw: dict, stop: bool, ctx) -> tuple[dict[str, float], bool]:
    """Losses as floats with one device sync; under torchrun averaged over processes (the
    global batch's loss) together with the stop flag, so every process decides alike."""
    names = list(raw)
    values = torch.stack([raw[k].detach().float().reshape(()) for k in names])
    if ctx is not None:
        values = ctx.mean(torch.cat([values.double(), values.new_tensor([float(stop)]).double()]))
        stop = bool(values[-1] > 0)
        values = values[:-1]
    return dict(zip(names, values.tolist(), strict=True)), stop


@dataclass
class Trainer:
    """One training of one model into one run folder; ``build`` it, then ``run`` it once.

    Under torchrun every process builds and runs its own Trainer; ``ctx`` is this process's
    place in the job (None alone) and only rank 0 writes the run folder.
    """

    settings: TrainSettings
    out: Path
    dataset: Any
    model: Any
    groups: dict  # optimiser name -> its parameters (the model's optimizer_groups)
    optimizers: dict  # optimiser name -> Adam
    speed: Speed
    config: RunConfig
    device: Any
    start: StartPoint = field(default_factory=StartPoint)
    ctx: Any = None  # genae_studio.distributed.DistContext under torchrun
    callbacks: TrainCallbacks = field(default_factory=TrainCallbacks)
    synced_bn: list = field(default_factory=list)  # undone by close()
    hooks: list = field(default_factory=list)  # undone by close()

    def __post_init__(self):
        self.main = self.ctx is None or self.ctx.is_main
        self.steps_per_epoch = len(self.dataset) // self.settings.batch_size
        self.history = list(self.start.history)
        self.started = time.perf_counter()
        self.waited = 0.0  # seconds blocked on data in finished epochs

    @classmethod
    def build(cls, settings: TrainSettings, out: Path, host, device, *,
              resume: Path | None = None, ctx=None,
              callbacks: TrainCallbacks | None = None) -> Trainer:
        """Prepare a training: settings (from the run on resume), data, model, replicas,
        speed options, optimisers and the state to start from."""
        world = ctx.world if ctx else 1
        snapshot = None
        if resume is not None:
            check_run(resume, host)  # the weights' header against the model, before building
            settings, snapshot = read_resume(resume, settings)
        settings, dataset = load_training_data(settings, host, world)
        spec = host.model(settings.model)
        hparams = snapshot.config.hparams if snapshot else model_hparams(spec, settings, dataset)

        torch.manual_seed(settings.seed)
        model = spec.build(hparams).to(device)
        if snapshot is None:  # a new run: refuse a model that breaks the contract, now
            check_contract(spec, model)
        synced_bn = distributed.replicate(model, ctx, settings.sync_bn) if ctx else []
        speed = speed_options(settings, device)
        model, hooks = speed.apply(model, settings.compile)
        groups = model.optimizer_groups()
        optimizers = {name: torch.optim.Adam(params, lr=settings.lr, betas=settings.betas)
                      for name, params in groups.items()}
        if snapshot is not None:
            start = restore(snapshot, model, optimizers, ctx, settings.seed, device,
                            len(dataset) // settings.batch_size)
        else:
            start = StartPoint()
            if ctx is not None:  # independent draws per process (rank 0 too: all are alike)
                torch.manual_seed(distributed.rank_seed(settings.seed, ctx.rank))
        config = run_config(spec, settings, dataset, hparams, speed.precision, world, host)
        return cls(settings, Path(out), dataset, model, groups, optimizers, speed, config,
                   device, start, ctx, callbacks or TrainCallbacks(), synced_bn, hooks)

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train from the start point to ``settings.epochs``; stops early (with a
        checkpoint) when the callbacks ask. Undoes the replica's and speed options'
        changes to the model when it ends, however it ends."""
        self.callbacks.model_ready(self.model)
        self.started = time.perf_counter()
        self.model.train()
        try:
            for epoch in range(self.start.epoch, self.settings.epochs):
                first = self.start.step if epoch == self.start.epoch else 0
                if self.run_epoch(epoch, first):
                    return self.result(epoch, stopped=True)
            return self.result(self.settings.epochs, stopped=False)
        finally:
            self.close()

    def run_epoch(self, epoch: int, first: int = 0) -> bool:
        """Steps ``first`` to the end of the epoch, then its checkpoint; True when stopped
        (after a checkpoint of the step reached)."""
        order = np.random.default_rng([self.settings.seed, epoch]).permutation(len(self.dataset))
        sums: dict[str, float] = {}
        window_start, window_images = time.perf_counter(), 0
        steps = range(first, self.steps_per_epoch)
        progress = None
        batches = Prefetcher(self.dataset, partial(self.batch_indices, order), steps,
                             self.device)
        with batches:
            for step, x in zip(steps, batches, strict=True):
                losses, stop = self.step(x, epoch, step)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                window_images += self.settings.batch_size
                now = time.perf_counter()
                progress = TrainProgress(
                    epoch, self.settings.epochs, step + 1, self.steps_per_epoch, losses,
                    window_images / max(now - window_start, 1e-9), now - self.started,
                    self.waited + batches.wait_s)
                self.callbacks.progress(progress)
                if stop:
                    self.waited += batches.wait_s
                    self.check_diverged(epoch, step + 1)
                    self.checkpoint(epoch, step + 1)
                    return True
        self.waited += batches.wait_s
        done = self.steps_per_epoch - first
        self.history.append({"epoch": epoch + 1, **{k: v / max(done, 1) for k, v in sums.items()}})
        self.check_diverged(epoch, self.steps_per_epoch)
        self.checkpoint(epoch + 1, 0)
        self.callbacks.checkpoint_written(self.model, progress)
        return False

    def batch_indices(self, order: np.ndarray, step: int) -> np.ndarray:
        """This process's share of the global batch ``step`` of an epoch in ``order``."""
        size = self.settings.batch_size
        return distributed.shard(np.sort(order[step * size:(step + 1) * size]), self.ctx)

    def step(self, x, epoch: int, step: int) -> tuple[dict[str, float], bool]:
        """One training step on batch ``x``: (its losses, whether to stop). A loss that is
        not finite raises TrainingDiverged."""
        if self.speed.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.speed.autocast(True):
            raw = self.model.training_step(x, self.optimizer_step)
        losses, stop = reduce_losses(raw, self.callbacks.stop_requested(), self.ctx)
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(f"loss {bad[0]} became {losses[bad[0]]} at epoch "
                                   f"{epoch + 1}, step {step + 1}; training stopped; "
                                   f"{self.kept_message()}")
        return losses, stop

    def optimizer_step(self, name: str, loss) -> None:
        """The ``step(optimizer_name, loss)`` a model's training_step calls: backward and the
        update outside autocast, as recommended; gradients averaged over processes."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        with self.speed.autocast(False):
            loss.backward()
            if self.ctx is not None:
                self.ctx.average_gradients(self.groups[name])
            opt.step()

    # --- checks and checkpoints ----------------------------------------------------------
    def check_diverged(self, epoch: int, step: int) -> None:
        """Every update is checked: the losses before it, the weights and the optimiser
        state after it, so the last update of an epoch is never saved unchecked."""
        tensors = dict(self.model.state_dict())
        for name, opt in self.optimizers.items():
            for k, per_param in enumerate(opt.state.values()):
                tensors.update({f"{name} optimiser state {k}.{key}": v
                                for key, v in per_param.items() if torch.is_tensor(v)})
        try:
            check_finite(tensors, "weights")
        except CheckpointError as exc:
            raise TrainingDiverged(f"{str(exc).removeprefix('weights: ')} after epoch "
                                   f"{epoch + 1}, step {step}; training stopped; "
                                   f"{self.kept_message()}") from None

    def kept_message(self) -> str:
        try:
            done = read_config(self.out).progress.get("epoch", 0)
        except CheckpointError:
            return "no checkpoint had been written"
        return f"kept the last good checkpoint in {self.out} (epoch {done})"

    def rng_state(self, epoch: int, step: int) -> dict:
        """The training state beside the optimisers: RNG states (of every process under
        torchrun: each one takes part), epoch and step."""
        extra = {"torch_rng": torch.get_rng_state(), "epoch": epoch, "step": step}
        if self.device.type == "cuda":
            extra["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        if self.ctx is not None:
            extra["rank_rng"] = self.ctx.gather_objects(
                {k: extra[k] for k in ("torch_rng", "cuda_rng") if k in extra})
        return extra

    def checkpoint(self, epoch: int, step: int) -> None:
        """Every process takes part (RNG states are gathered); rank 0 writes."""
        extra = self.rng_state(epoch, step)
        if not self.main:
            return
        self.config.progress = {"epoch": epoch, "step": step, "history": self.history}
        self.config.data.update(skipped=getattr(self.dataset, "skipped", 0),
                                first_skipped=getattr(self.dataset, "first_skipped", None))
        try:
            save_run(self.out, self.config, self.model, self.optimizers, extra)
        except OutputError as exc:  # a full disk: say so, keep the last checkpoint
            raise CheckpointError(str(exc)) from None

    def result(self, epochs_done: int, stopped: bool) -> TrainResult:
        ctx = self.ctx
        return TrainResult(self.out, epochs_done, stopped, self.history, self.model,
                           time.perf_counter() - self.started, self.waited,
                           ctx.rank if ctx else 0, ctx.world if ctx else 1,
                           getattr(self.dataset, "skipped", 0),
                           getattr(self.dataset, "first_skipped", None))

    def close(self) -> None:
        """Give the model back as it was built: plain batch norms, no fp32 output hooks."""
        distributed.revert_sync_batchnorm(self.synced_bn)
        for hook in self.hooks:
            hook.remove()
        self.synced_bn, self.hooks = [], []
