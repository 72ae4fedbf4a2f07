"""Training, shared by the command line, the Python API and the studio: ``train()``.

Checkpoints are written at the end of every epoch and when stopped, as one atomic unit
(see genae_studio.runs). A loss that turns NaN or infinite, or weights that are not finite
when a checkpoint is due, stop training and keep the last good checkpoint. A training holds
the run folder's lock; it refuses to replace an existing run unless asked to.

This package's front; each part has its own private module:

- ``_config``: ``TrainSettings``, ``TrainProgress``, ``TrainResult``,
  ``TrainCallbacks`` and ``validate_settings`` (no torch);
- ``_resume``: a resumed run back into settings and state
  (``resume_conflicts``, ``StartPoint``);
- ``_speed``: precision, memory layout and torch.compile;
- ``_trainer``: ``Trainer``, the loop (data, model, optimisers, steps, checkpoints);
- genae_studio.distributed: data-parallel training under torchrun;
- genae_studio.data: ``Prefetcher``, batches prepared one step ahead.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from ..errors import UsageError
from ..plugins import PluginHost, load_plugins
from ..runs import clean_run_folder, is_run_folder, new_parts, remove_uncommitted, run_lock
from ._config import (
    PRECISIONS,
    TrainCallbacks,
    TrainProgress,
    TrainResult,
    TrainSettings,
    validate_settings,
)
from ._resume import RESUME_FIXED, resume_conflicts

__all__ = ["PRECISIONS", "RESUME_FIXED", "TrainCallbacks", "TrainProgress",
           "TrainResult", "TrainSettings", "check_model_options", "resume_conflicts", "train",
           "validate_settings"]


def train(settings: TrainSettings, out: Path, *, resume: Path | None = None,
          host: PluginHost | None = None, callbacks: TrainCallbacks | None = None,
          on_progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_checkpoint: Callable[[object, TrainProgress], None] | None = None,
          on_model: Callable[[object], None] | None = None,
          overwrite: bool = False) -> TrainResult:
    """Train ``settings.model`` and write a run folder to ``out``.

    The caller follows and stops the training through ``callbacks`` (a TrainCallbacks), or
    through the same functions given one by one: ``on_progress``, ``should_stop``,
    ``on_checkpoint`` and ``on_model`` (see TrainCallbacks for when each is called).

    With ``resume``, the model, hyperparameters and data come from that run and
    training continues where it stopped, up to ``settings.epochs`` in total.

    Started by ``torchrun`` with more than one process, every process calls this; they
    train one model data-parallel (see genae_studio.distributed) and only rank 0 writes
    the run folder and calls ``on_progress``/``on_checkpoint``/``on_model``.

    ``out`` must not hold a run already, unless it is the run resumed or ``overwrite`` is
    set (the new run then replaces the old one at its first checkpoint). While training,
    ``out`` is locked: a second training of the same folder is refused.
    """
    from .. import distributed
    from ..devices import resolve_device
    from ._speed import check_bf16
    from ._trainer import Trainer

    callbacks = _callbacks(callbacks, on_model=on_model, on_progress=on_progress,
                           on_checkpoint=on_checkpoint, should_stop=should_stop)
    validate_settings(settings)
    out = _check_out(Path(out), resume, overwrite)
    host = host or load_plugins()
    if resume is None:
        check_model_options(host.model(settings.model), settings)
    device = resolve_device(settings.device)
    if settings.precision == "bf16":
        check_bf16(device)  # before the run folder is locked (created)
    ctx = distributed.init_from_environment(device)
    created = new_parts(out)  # removed again if the training fails before a checkpoint
    try:
        main = ctx is None or ctx.is_main
        with run_lock(out) if main else nullcontext():
            try:
                if main:
                    clean_run_folder(out)  # orphans of a killed writer; only under the lock
                trainer = Trainer.build(settings, out, host, ctx.device if ctx else device,
                                        resume=resume, ctx=ctx,
                                        callbacks=callbacks.for_rank(main))
                return trainer.run()
            except BaseException:
                if main:
                    remove_uncommitted(out, created)
                raise
    finally:
        if ctx is not None:
            ctx.close()


def check_model_options(spec, settings: TrainSettings) -> None:
    """Refuse, before any work, settings the model does not have (``model_settings``) or an
    ``image_size`` it cannot build (not in ``ModelSpec.image_sizes``), or a setting given
    twice with two values (``latent_dim=`` and ``model_settings["latent_dim"]``): one
    UsageError line."""
    checked = spec.check_settings(settings.model_settings)
    for key in ("latent_dim", "width", "noise_std"):
        value = getattr(settings, key)
        if value is not None and key in checked and checked[key] != value:
            raise UsageError(f"--{key.replace('_', '-')} {value} and --set {key}="
                             f"{settings.model_settings[key]} disagree; give one")
    if settings.image_size is not None and settings.image_size not in spec.image_sizes:
        raise UsageError(f"--image-size {settings.image_size}: model {spec.name!r} builds "
                         f"images of size {', '.join(map(str, spec.image_sizes))}")


def _callbacks(callbacks: TrainCallbacks | None, **functions) -> TrainCallbacks:
    """One TrainCallbacks from either the object or the functions given one by one."""
    given = {k: f for k, f in functions.items() if f is not None}
    if callbacks is not None and given:
        raise TypeError(f"train(): give callbacks or {', '.join(given)}, not both")
    return callbacks if callbacks is not None else TrainCallbacks(**given)


def _check_out(out: Path, resume: Path | None, overwrite: bool) -> Path:
    """Refuse an ``out`` that is a file, or that holds a run other than the one resumed
    (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    same = resume is not None and out.resolve() == Path(resume).resolve()
    if is_run_folder(out) and not (same or overwrite):
        raise UsageError(f"{out} already holds a run; continue it with --resume {out} or "
                         "replace it with --overwrite")
    return out
