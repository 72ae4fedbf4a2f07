"""Training loop shared by the command line and the studio.

Checkpoints are written at the end of every epoch and when stopped; a loss
that turns NaN or infinite stops training and keeps the last good checkpoint.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
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
    batch_size: int = 64  # the global batch: split across processes under torchrun
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # None: the model's registered default (ModelSpec.config; the built-ins': the paper's).
    latent_dim: int | None = None
    image_size: int | None = None  # None: the dataset's
    width: int | None = None
    noise_std: float | None = None
    device: str = "auto"
    seed: int = 0
    limit: int | None = None
    # Speed. "auto": bf16 autocast on CUDA GPUs that support it, fp32 elsewhere (on the CPUs
    # measured, bf16 and channels-last gave no gain for training); "tf32" allows TF32 on CUDA.
    precision: str = "auto"  # auto | fp32 | tf32 | bf16
    channels_last: bool | None = None  # None: on CUDA only
    compile: bool = False  # torch.compile the encoder and decoder; eager on compile errors
    sync_bn: bool = True  # under torchrun: batch-norm statistics over the global batch


PRECISIONS = ("auto", "fp32", "tf32", "bf16")


@dataclass
class TrainProgress:
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
    out: Path
    epochs_done: int
    stopped: bool
    history: list[dict] = field(default_factory=list)
    model: object = None
    elapsed_s: float = 0.0
    data_wait_s: float = 0.0
    rank: int = 0  # under torchrun: this process's rank (only rank 0 writes and reports)
    world_size: int = 1


def train(settings: TrainSettings, out: Path, *, resume: Path | None = None,
          host: PluginHost | None = None,
          on_progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_checkpoint: Callable[[object, TrainProgress], None] | None = None,
          on_model: Callable[[object], None] | None = None) -> TrainResult:
    """Train ``settings.model`` and write a run folder to ``out``.

    ``on_model(model)`` is called once the model is built (and its weights restored on
    resume), before the first step: for previews while it trains. It runs in the training
    thread; share the model with other threads only under a lock.

    With ``resume``, the model, hyperparameters and data come from that run and
    training continues where it stopped, up to ``settings.epochs`` in total.

    Started by ``torchrun`` with more than one process, every process calls this; they
    train one model data-parallel (see genae_studio.distributed) and only rank 0 writes
    the run folder and calls ``on_progress``/``on_checkpoint``/``on_model``.
    """
    from . import distributed
    from .devices import resolve_device

    host = host or load_plugins()
    if settings.epochs < 1 or settings.batch_size < 2:
        raise UsageError("--epochs must be >= 1 and --batch-size >= 2")
    if settings.precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, "
                         f"got {settings.precision!r}")
    device = resolve_device(settings.device)
    ctx = distributed.init_from_environment(device)
    try:
        return _train(settings, Path(out), resume, host, ctx, ctx.device if ctx else device,
                      on_progress, should_stop, on_checkpoint, on_model)
    finally:
        if ctx is not None:
            ctx.close()


def _train(settings, out, resume, host, ctx, device, on_progress, should_stop, on_checkpoint,
           on_model=None):
    import torch

    from .data import resolve_dataset
    from .distributed import convert_sync_batchnorm, rank_seed, revert_sync_batchnorm, shard

    world = ctx.world if ctx else 1
    main = ctx is None or ctx.is_main
    if resume is not None:
        previous = read_config(resume)
        settings = _settings_from_run(previous, settings)
    if settings.batch_size % world:
        raise UsageError(f"--batch-size {settings.batch_size} (the global batch) must be "
                         f"divisible by the number of processes, {world}")
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
    model = spec.build(hparams).to(device)
    synced_bn = []
    if ctx is not None:
        ctx.broadcast_state(model)  # identical replicas even if initialisation is not
        if settings.sync_bn:
            synced_bn = convert_sync_batchnorm(model)
    speed = _speed_options(settings, device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if settings.compile:
        _compile(model)
    groups = model.optimizer_groups()
    optimizers = {name: torch.optim.Adam(params, lr=settings.lr, betas=settings.betas)
                  for name, params in groups.items()}
    start_epoch, start_step, history = 0, 0, []
    if resume is not None:
        load_weights(resume, model)
        state = load_training_state(resume)
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        _restore_rng(state, ctx, settings.seed, device)
        start_epoch, start_step = int(state["epoch"]), int(state["step"])
        history = list(previous.progress.get("history", []))
    elif ctx is not None:  # independent draws per process (rank 0 too: all are alike)
        torch.manual_seed(rank_seed(settings.seed, ctx.rank))
    if on_model and main:
        on_model(model)

    config = RunConfig(
        plugin=spec.plugin, model=settings.model, hparams=hparams,
        data={"data": settings.data, "format": settings.data_format, "name": dataset.name,
              "image_size": dataset.image_size, "channels": dataset.channels,
              "limit": settings.limit, "images": len(dataset)},
        training={**{k: v for k, v in asdict(settings).items()
                     if k in ("epochs", "batch_size", "lr", "betas", "seed", "device")},
                  "precision": speed.precision, "processes": world},
        versions=library_versions())

    def checkpoint(epoch: int, step: int) -> None:
        """Every process takes part (RNG states are gathered); rank 0 writes."""
        extra = {"torch_rng": torch.get_rng_state(), "epoch": epoch, "step": step}
        if device.type == "cuda":
            extra["cuda_rng"] = torch.cuda.get_rng_state(device)
        if ctx is not None:
            extra["rank_rng"] = ctx.gather_objects(
                {k: extra[k] for k in ("torch_rng", "cuda_rng") if k in extra})
        if main:
            config.progress = {"epoch": epoch, "step": step, "history": history}
            save_run(out, config, model, optimizers, extra)

    autocast = speed.autocast

    def step_fn(name: str, loss):
        opt = optimizers[name]
        opt.zero_grad(set_to_none=True)
        with autocast(False):  # backward and the update outside autocast, as recommended
            loss.backward()
            if ctx is not None:
                ctx.average_gradients(groups[name])
            opt.step()

    batch_size = settings.batch_size
    steps_per_epoch = len(dataset) // batch_size
    started = time.perf_counter()
    waited = wait_s = 0.0  # seconds blocked on data: finished epochs, and in total
    progress = None
    model.train()
    try:
        for epoch in range(start_epoch, settings.epochs):
            order = np.random.default_rng([settings.seed, epoch]).permutation(len(dataset))
            sums: dict[str, float] = {}
            window_start, window_images = time.perf_counter(), 0
            first = start_step if epoch == start_epoch else 0

            def indices(step, order=order):
                return shard(np.sort(order[step * batch_size:(step + 1) * batch_size]), ctx)

            batches = Prefetcher(dataset, indices, range(first, steps_per_epoch), device)
            with batches:
                for step, x in zip(range(first, steps_per_epoch), batches, strict=True):
                    if speed.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with autocast(True):
                        raw = model.training_step(x, step_fn)
                    stop = bool(should_stop and should_stop())
                    losses, stop = _reduce_losses(raw, stop, ctx)
                    bad = [k for k, v in losses.items() if not math.isfinite(v)]
                    if bad:
                        kept = (f"kept the last good checkpoint in {out} (epoch {len(history)})"
                                if (out / "config.json").exists()
                                else "no checkpoint had been written")
                        raise TrainingDiverged(
                            f"loss {bad[0]} became {losses[bad[0]]} at epoch {epoch + 1}, "
                            f"step {step + 1}; training stopped; {kept}")
                    for k, v in losses.items():
                        sums[k] = sums.get(k, 0.0) + v
                    window_images += batch_size
                    now = time.perf_counter()
                    wait_s = waited + batches.wait_s
                    progress = TrainProgress(epoch, settings.epochs, step + 1, steps_per_epoch,
                                             losses, window_images / max(now - window_start, 1e-9),
                                             now - started, wait_s)
                    if on_progress and main:
                        on_progress(progress)
                    if stop:
                        checkpoint(epoch, step + 1)
                        return _result(out, epoch, True, history, model, started, wait_s, ctx)
            waited = wait_s = waited + batches.wait_s
            done = steps_per_epoch - first
            history.append({"epoch": epoch + 1, **{k: v / max(done, 1) for k, v in sums.items()}})
            checkpoint(epoch + 1, 0)
            if on_checkpoint and main:
                on_checkpoint(model, progress)
        return _result(out, settings.epochs, False, history, model, started, wait_s, ctx)
    finally:
        revert_sync_batchnorm(synced_bn)


def _result(out, epochs, stopped, history, model, started, wait_s, ctx) -> TrainResult:
    return TrainResult(out, epochs, stopped, history, model, time.perf_counter() - started,
                       wait_s, ctx.rank if ctx else 0, ctx.world if ctx else 1)


def _reduce_losses(raw: dict, stop: bool, ctx) -> tuple[dict[str, float], bool]:
    """Losses as floats with one device sync; under torchrun averaged over processes (the
    global batch's loss) together with the stop flag, so every process decides alike."""
    import torch

    names = list(raw)
    values = torch.stack([raw[k].detach().float().reshape(()) for k in names])
    if ctx is not None:
        values = ctx.mean(torch.cat([values.double(), values.new_tensor([float(stop)]).double()]))
        stop = bool(values[-1] > 0)
        values = values[:-1]
    return dict(zip(names, values.tolist(), strict=True)), stop


class Prefetcher:
    """Batches of a dataset prepared one step ahead in a background thread.

    The thread gathers the uint8 images and, on the CPU, converts them to float32 in [0, 1]
    (numpy releases the GIL); for CUDA it hands over pinned uint8 tensors, copied without
    blocking and converted on the GPU (a quarter of the bytes over PCIe). ``wait_s`` is the
    time the training loop spent blocked waiting for a batch.
    """

    def __init__(self, dataset, indices: Callable[[int], np.ndarray], steps, device,
                 depth: int = 2):
        import queue
        import threading

        self.dataset, self.indices, self.steps, self.device = dataset, indices, steps, device
        self.cuda = device.type == "cuda"
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.wait_s = 0.0
        self.thread = threading.Thread(target=self._work, name="genae-prefetch", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import queue

        self.stop.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        return False

    def _work(self) -> None:
        import queue

        import torch

        try:
            for step in self.steps:
                images = self.dataset.batch(self.indices(step))
                if self.cuda:
                    item = torch.from_numpy(images).pin_memory()
                else:
                    item = torch.from_numpy(np.divide(images, 255, dtype=np.float32))
                while not self.stop.is_set():
                    try:
                        self.queue.put(item, timeout=0.05)
                        break
                    except queue.Full:
                        pass
                if self.stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the training loop
            self.queue.put(exc)

    def __iter__(self):
        for _ in self.steps:
            t0 = time.perf_counter()
            item = self.queue.get()
            self.wait_s += time.perf_counter() - t0
            if isinstance(item, BaseException):
                raise item
            if self.cuda:
                item = item.to(self.device, non_blocking=True).float().div_(255)
            yield item


@dataclass
class _Speed:
    precision: str
    channels_last: bool
    autocast: Callable


def _speed_options(settings: TrainSettings, device) -> _Speed:
    """Resolve precision and layout for the device; sets the process-wide TF32 flags on CUDA."""
    import torch

    cuda = device.type == "cuda"
    precision = settings.precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if cuda:
        torch.backends.cudnn.benchmark = True
        tf32 = precision in ("tf32", "bf16")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    channels_last = cuda if settings.channels_last is None else settings.channels_last

    def autocast(enabled: bool):
        if precision != "bf16":
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)

    return _Speed(precision, channels_last, autocast)


def _compile(model) -> None:
    """Compile the encoder and decoder in place (state-dict keys unchanged); if compiling
    fails at run time, dynamo falls back to eager execution."""
    import warnings

    try:
        import torch._dynamo

        torch._dynamo.config.suppress_errors = True
        for net in (model.encoder, model.decoder):
            net.compile()
    except Exception as exc:  # an old torch or a platform without a compiler
        warnings.warn(f"torch.compile unavailable, training eagerly ({exc})", stacklevel=3)


def _restore_rng(state: dict, ctx, seed: int, device) -> None:
    import torch

    own = state
    ranks = state.get("rank_rng")
    if ctx is not None:
        if ranks is not None and len(ranks) == ctx.world:
            own = ranks[ctx.rank]
        else:  # a different number of processes: fresh, independent streams
            from .distributed import rank_seed

            torch.manual_seed(rank_seed(seed + int(state["epoch"]), ctx.rank))
            return
    torch.set_rng_state(own["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in own:
        torch.cuda.set_rng_state(own["cuda_rng"], device)


def _settings_from_run(run: RunConfig, settings: TrainSettings) -> TrainSettings:
    """Resume keeps the run's model, data and optimiser settings; epochs, device and the speed
    options come from ``settings``."""
    t = run.training
    return TrainSettings(model=run.model, data=run.data.get("data", "toyfaces"),
                         data_format=run.data.get("format"), epochs=settings.epochs,
                         batch_size=t.get("batch_size", settings.batch_size),
                         lr=t.get("lr", settings.lr), betas=tuple(t.get("betas", settings.betas)),
                         image_size=run.data.get("image_size"), device=settings.device,
                         seed=t.get("seed", settings.seed), limit=run.data.get("limit"),
                         precision=settings.precision, channels_last=settings.channels_last,
                         compile=settings.compile, sync_bn=settings.sync_bn)
