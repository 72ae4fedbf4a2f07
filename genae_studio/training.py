"""Training loop shared by the command line and the studio.

Checkpoints are written at the end of every epoch and when stopped, as one atomic unit
(see genae_studio.runs). A loss that turns NaN or infinite, or weights that are not finite
when a checkpoint is due, stop training and keep the last good checkpoint. A training holds
the run folder's lock; it refuses to replace an existing run unless asked to.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .data.prefetch import Prefetcher
from .errors import CheckpointError, TrainingDiverged, UsageError
from .fileio import OutputError
from .plugins import PluginHost, load_plugins
from .runs import (
    RunConfig,
    check_finite,
    clean_run_folder,
    fit_weights,
    is_run_folder,
    library_versions,
    read_checkpoint,
    read_config,
    run_lock,
    save_run,
)


@dataclass
class TrainSettings:
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
    skipped: int = 0  # unreadable images skipped so far (also data.skipped in config.json)
    first_skipped: str | None = None  # "PATH: reason" of the first one


def train(settings: TrainSettings, out: Path, *, resume: Path | None = None,
          host: PluginHost | None = None,
          on_progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_checkpoint: Callable[[object, TrainProgress], None] | None = None,
          on_model: Callable[[object], None] | None = None,
          overwrite: bool = False) -> TrainResult:
    """Train ``settings.model`` and write a run folder to ``out``.

    ``on_model(model)`` is called once the model is built (and its weights restored on
    resume), before the first step: for previews while it trains. It runs in the training
    thread; share the model with other threads only under a lock.

    With ``resume``, the model, hyperparameters and data come from that run and
    training continues where it stopped, up to ``settings.epochs`` in total.

    Started by ``torchrun`` with more than one process, every process calls this; they
    train one model data-parallel (see genae_studio.distributed) and only rank 0 writes
    the run folder and calls ``on_progress``/``on_checkpoint``/``on_model``.

    ``out`` must not hold a run already, unless it is the run resumed or ``overwrite`` is
    set (the new run then replaces the old one at its first checkpoint). While training,
    ``out`` is locked: a second training of the same folder is refused.
    """
    from . import distributed
    from .devices import resolve_device

    validate_settings(settings)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    same = resume is not None and out.resolve() == Path(resume).resolve()
    if is_run_folder(out) and not (same or overwrite):
        raise UsageError(f"{out} already holds a run; continue it with --resume {out} or "
                         "replace it with --overwrite")
    host = host or load_plugins()
    device = resolve_device(settings.device)
    if settings.precision == "bf16":
        _check_bf16(device)  # before the run folder is locked (created)
    ctx = distributed.init_from_environment(device)
    try:
        lock = run_lock(out) if ctx is None or ctx.is_main else nullcontext()
        with lock:
            if ctx is None or ctx.is_main:
                clean_run_folder(out)  # orphans of a killed writer; only under the lock
            return _train(settings, out, resume, host, ctx, ctx.device if ctx else device,
                          on_progress, should_stop, on_checkpoint, on_model)
    finally:
        if ctx is not None:
            ctx.close()


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


RESUME_FIXED = {"latent_dim": "latent_dim", "width": "width", "noise_std": "noise_std",
                "image_size": "image_size"}


def resume_conflicts(run: RunConfig, **given) -> list[str]:
    """Options given for a resumed run that disagree with it, as "--name VALUE (the run:
    X)". Keys: model, data, data_format, batch_size, lr, seed, limit, latent_dim, width,
    noise_std, image_size; None means not given."""
    recorded = {"model": run.model, "data": run.data.get("data"),
                "data_format": run.data.get("format"), "limit": run.data.get("limit"),
                "image_size": run.data.get("image_size"),
                "batch_size": run.training.get("batch_size"), "lr": run.training.get("lr"),
                "seed": run.training.get("seed"), "latent_dim": run.hparams.get("latent_dim"),
                "width": run.hparams.get("width"), "noise_std": run.hparams.get("noise_std")}
    conflicts = []
    for key, value in given.items():
        if value is not None and key in recorded and value != recorded[key]:
            conflicts.append(f"--{key.replace('_', '-')} {value} (the run: {recorded[key]})")
    return conflicts


def _train(settings, out, resume, host, ctx, device, on_progress, should_stop, on_checkpoint,
           on_model=None):
    import torch

    from .data import default_dataset, resolve_dataset
    from .distributed import convert_sync_batchnorm, rank_seed, revert_sync_batchnorm, shard

    world = ctx.world if ctx else 1
    main = ctx is None or ctx.is_main
    if resume is not None:
        snapshot = read_checkpoint(resume, state=True)  # config, weights, state: one save
        previous = snapshot.config
        conflicts = resume_conflicts(previous, **{k: getattr(settings, k) for k in RESUME_FIXED})
        if conflicts:
            raise UsageError(f"--resume {resume}: {'; '.join(conflicts)} disagree with the "
                             "run; a resumed run keeps its settings")
        settings = _settings_from_run(previous, settings)
        validate_settings(settings)
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
    fp32_outputs = _fp32_outputs(model) if speed.precision == "bf16" else []
    if settings.compile:
        _compile(model)
    groups = model.optimizer_groups()
    optimizers = {name: torch.optim.Adam(params, lr=settings.lr, betas=settings.betas)
                  for name, params in groups.items()}
    start_epoch, start_step, history = 0, 0, []
    if resume is not None:
        fit_weights(snapshot, model)
        state = snapshot.state
        _restore_optimizers(resume, state, optimizers)
        try:
            _restore_rng(state, ctx, settings.seed, device)
        except (RuntimeError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise CheckpointError(f"{resume}: bad random-number-generator state ({exc})") \
                from None
        start_epoch, start_step = int(state["epoch"]), int(state["step"])
        if start_step and start_step >= len(dataset) // settings.batch_size:
            raise CheckpointError(f"{resume}: the training state is at step {start_step} of "
                                  f"an epoch of {len(dataset) // settings.batch_size} steps")
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
            config.data.update(skipped=getattr(dataset, "skipped", 0),
                               first_skipped=getattr(dataset, "first_skipped", None))
            try:
                save_run(out, config, model, optimizers, extra)
            except OutputError as exc:  # a full disk: say so, keep the last checkpoint
                raise CheckpointError(str(exc)) from None

    def kept_message() -> str:
        try:
            done = read_config(out).progress.get("epoch", 0)
        except CheckpointError:
            return "no checkpoint had been written"
        return f"kept the last good checkpoint in {out} (epoch {done})"

    def check_diverged(epoch: int, step: int) -> None:
        """Every update is checked: the losses before it, the weights and the optimiser
        state after it, so the last update of an epoch is never saved unchecked."""
        tensors = dict(model.state_dict())
        for name, opt in optimizers.items():
            for k, per_param in enumerate(opt.state.values()):
                tensors.update({f"{name} optimiser state {k}.{key}": v
                                for key, v in per_param.items() if torch.is_tensor(v)})
        try:
            check_finite(tensors, "weights")
        except CheckpointError as exc:
            raise TrainingDiverged(f"{str(exc).removeprefix('weights: ')} after epoch "
                                   f"{epoch + 1}, step {step}; training stopped; "
                                   f"{kept_message()}") from None

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
                        raise TrainingDiverged(
                            f"loss {bad[0]} became {losses[bad[0]]} at epoch {epoch + 1}, "
                            f"step {step + 1}; training stopped; {kept_message()}")
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
                        check_diverged(epoch, step + 1)
                        checkpoint(epoch, step + 1)
                        return _result(out, epoch, True, history, model, started, wait_s, ctx,
                                       dataset)
            waited = wait_s = waited + batches.wait_s
            done = steps_per_epoch - first
            history.append({"epoch": epoch + 1, **{k: v / max(done, 1) for k, v in sums.items()}})
            check_diverged(epoch, steps_per_epoch)
            checkpoint(epoch + 1, 0)
            if on_checkpoint and main:
                on_checkpoint(model, progress)
        return _result(out, settings.epochs, False, history, model, started, wait_s, ctx,
                       dataset)
    finally:
        revert_sync_batchnorm(synced_bn)
        for hook in fp32_outputs:
            hook.remove()


def _result(out, epochs, stopped, history, model, started, wait_s, ctx, dataset) -> TrainResult:
    return TrainResult(out, epochs, stopped, history, model, time.perf_counter() - started,
                       wait_s, ctx.rank if ctx else 0, ctx.world if ctx else 1,
                       getattr(dataset, "skipped", 0), getattr(dataset, "first_skipped", None))


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


@dataclass
class _Speed:
    precision: str
    channels_last: bool
    autocast: Callable


def _speed_options(settings: TrainSettings, device) -> _Speed:
    """Resolve precision and layout for the device; sets the process-wide TF32 flags on CUDA."""
    import torch

    from .devices import bf16_unsupported

    cuda = device.type == "cuda"
    precision = settings.precision
    if precision == "auto":
        precision = "bf16" if cuda and bf16_unsupported(device) is None else "fp32"
    elif precision == "bf16":
        _check_bf16(device)  # a resumed bf16 run on hardware without bfloat16
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


def _check_bf16(device) -> None:
    """Refuse bf16 (one line) where the hardware would only emulate bfloat16."""
    from .devices import bf16_unsupported

    why = bf16_unsupported(device)
    if why:
        raise UsageError(f"--precision bf16 refused: {why}; use --precision fp32")


def _fp32_outputs(model) -> list:
    """Under bf16 autocast the networks compute in bfloat16; hooks on the model's networks
    (its child modules) hand their outputs back as float32, so every loss is computed in fp32
    whatever the plugin's loss code does. Returns the hook handles."""
    import torch

    def to_fp32(_module, _args, out):
        if torch.is_tensor(out) and out.dtype == torch.bfloat16:
            return out.float()
        return None

    return [net.register_forward_hook(to_fp32) for net in model.children()]


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


def _restore_optimizers(resume: Path, state: dict, optimizers: dict) -> None:
    """Load each optimiser's state, refusing a state made for another model."""
    saved = state["optimizers"]
    if set(saved) != set(optimizers):
        raise CheckpointError(f"{resume}: the training state has optimisers "
                              f"{sorted(saved)}, the model {sorted(optimizers)}")
    for name, opt in optimizers.items():
        try:
            opt.load_state_dict(saved[name])
        except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
            raise CheckpointError(f"{resume}: the training state does not fit the model "
                                  f"(optimiser {name}: {str(exc)[:200]})") from None
        for param, per_param in opt.state.items():
            for key in ("exp_avg", "exp_avg_sq"):
                value = per_param.get(key)
                if value is not None and value.shape != param.shape:
                    raise CheckpointError(f"{resume}: the training state does not fit the "
                                          f"model (optimiser {name}: {key} shaped "
                                          f"{tuple(value.shape)})")


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
    """Resume keeps the run's model, data, optimiser settings and precision (unless
    ``settings`` names one other than "auto"); epochs, device and the other speed options come
    from ``settings``."""
    t = run.training
    precision = settings.precision
    if precision == "auto":
        precision = t.get("precision", "auto")
    return TrainSettings(model=run.model, data=run.data.get("data"),
                         data_format=run.data.get("format"), epochs=settings.epochs,
                         batch_size=t.get("batch_size", settings.batch_size),
                         lr=t.get("lr", settings.lr), betas=tuple(t.get("betas", settings.betas)),
                         image_size=run.data.get("image_size"), device=settings.device,
                         seed=t.get("seed", settings.seed), limit=run.data.get("limit"),
                         precision=precision, channels_last=settings.channels_last,
                         compile=settings.compile, sync_bn=settings.sync_bn)
