"""Resuming a run: its settings back into TrainSettings, then its weights, optimiser and
random-number states back into the trainer, and where to continue (StartPoint).

A resumed run continues exactly as an uninterrupted one would: the model, data, optimiser
settings and precision come from the run; only epochs, device and the other speed options
may change. Every part of the state is checked before use (CheckpointError, one line).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckpointError, UsageError
from ..model_settings import SettingField, convert
from ..runs import Checkpoint, RunConfig, fit_weights, read_checkpoint
from ._config import TrainSettings, validate_settings

RESUME_FIXED = {"latent_dim": "latent_dim", "width": "width", "noise_std": "noise_std",
                "image_size": "image_size"}


def resume_conflicts(run: RunConfig, model_settings: dict | None = None, **given) -> list[str]:
    """Options given for a resumed run that disagree with it, as "--name VALUE (the run:
    X)". Keys: model, data, data_format, batch_size, lr, seed, limit, latent_dim, width,
    noise_std, image_size; None means not given. ``model_settings`` (``--set``: text or
    values) must equal the run's hyperparameters."""
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
    for key, value in (model_settings or {}).items():
        if key not in run.hparams:
            conflicts.append(f"--set {key}={value} (the run has no setting {key})")
        elif not _same(value, run.hparams[key]):
            conflicts.append(f"--set {key}={value} (the run: {run.hparams[key]})")
    return conflicts


def _same(value, recorded) -> bool:
    """Whether a setting given (text or a value) is the run's recorded value."""
    if isinstance(value, str) and not isinstance(recorded, str):
        kind = type(recorded) if isinstance(recorded, bool | int | float) else object
        try:
            value = convert(value, SettingField("", kind, recorded, recorded is None))
        except ValueError:
            return False
    return value == recorded and isinstance(value, bool) == isinstance(recorded, bool)


@dataclass
class StartPoint:
    """Where a training starts: epoch and step (0, 0 for a new run) and the history so far."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)


def read_resume(resume: Path, settings: TrainSettings) -> tuple[TrainSettings, Checkpoint]:
    """The settings of the run to resume (see ``settings_from_run``) and its checkpoint with
    the training state; model options that disagree with the run are refused."""
    snapshot = read_checkpoint(resume, state=True)  # config, weights, state: one save
    conflicts = resume_conflicts(snapshot.config, settings.model_settings,
                                 **{k: getattr(settings, k) for k in RESUME_FIXED})
    if conflicts:
        raise UsageError(f"--resume {resume}: {'; '.join(conflicts)} disagree with the "
                         "run; a resumed run keeps its settings")
    settings = settings_from_run(snapshot.config, settings)
    validate_settings(settings)
    return settings, snapshot


def restore(snapshot: Checkpoint, model, optimizers: dict, ctx, seed: int, device,
            steps_per_epoch: int) -> StartPoint:
    """Load the checkpoint's weights, optimiser and RNG states; where training continues."""
    resume, state = snapshot.run_dir, snapshot.state
    fit_weights(snapshot, model)
    restore_optimizers(resume, state, optimizers)
    try:
        restore_rng(state, ctx, seed, device)
    except (RuntimeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise CheckpointError(f"{resume}: bad random-number-generator state ({exc})") \
            from None
    start = StartPoint(int(state["epoch"]), int(state["step"]),
                       list(snapshot.config.progress.get("history", [])))
    if start.step and start.step >= steps_per_epoch:
        raise CheckpointError(f"{resume}: the training state is at step {start.step} of "
                              f"an epoch of {steps_per_epoch} steps")
    return start


def restore_optimizers(resume: Path, state: dict, optimizers: dict) -> None:
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


def restore_rng(state: dict, ctx, seed: int, device) -> None:
    """Continue the saved random streams (this process's under torchrun; fresh ones when
    the number of processes changed)."""
    import torch

    own = state
    ranks = state.get("rank_rng")
    if ctx is not None:
        if ranks is not None and len(ranks) == ctx.world:
            own = ranks[ctx.rank]
        else:  # a different number of processes: fresh, independent streams
            from ..distributed import rank_seed

            torch.manual_seed(rank_seed(seed + int(state["epoch"]), ctx.rank))
            return
    torch.set_rng_state(own["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in own:
        torch.cuda.set_rng_state(own["cuda_rng"], device)


def settings_from_run(run: RunConfig, settings: TrainSettings) -> TrainSettings:
    """Resume keeps the run's model, data, optimiser settings and precision (unless
    ``settings`` names one other than "auto"); epochs, device and the other speed options come
    from ``settings``."""
    t = run.training
    precision = settings.precision
    if precision == "auto":
        precision = t.get("precision", "auto")
    return TrainSettings(model=run.model, data=run.data_source(),
                         data_format=run.data.get("format"), epochs=settings.epochs,
                         batch_size=t.get("batch_size", settings.batch_size),
                         lr=t.get("lr", settings.lr), betas=tuple(t.get("betas", settings.betas)),
                         image_size=run.data.get("image_size"), device=settings.device,
                         seed=t.get("seed", settings.seed), limit=run.data.get("limit"),
                         precision=precision, channels_last=settings.channels_last,
                         compile=settings.compile, sync_bn=settings.sync_bn)
