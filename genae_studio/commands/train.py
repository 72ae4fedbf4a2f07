"""``genae-studio train``: train a model (or resume a run) and write a run folder."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CheckpointError, GenaeError, UsageError
from ..signals import exit_code
from .common import PROG, LazyBar, load_host, noise_std, positive, rate

# The options that define a run: with --resume, one that is given must agree with the run.
RUN_OPTIONS = ("model", "data", "data_format", "batch_size", "lr", "seed", "limit",
               "latent_dim", "width", "noise_std", "image_size")


def add_arguments(p) -> None:
    # Options that define a run default to None here: with --resume, one that is given must
    # agree with the run (see training.resume_conflicts); without, TrainSettings fills them.
    # The defaults shown are read from TrainSettings and ModelConfig: they have one home.
    from ..models import ModelConfig
    from ..training import PRECISIONS, TrainSettings

    train, model = TrainSettings(), ModelConfig()
    p.add_argument("--model", help=f"vae|dvae|aae|daae|<plugin model> (default {train.model})")
    p.add_argument("--data", help="a registered dataset or a PATH (default: the first "
                                  "registered dataset that needs no path; see "
                                  f"{PROG} plugins)")
    p.add_argument("--data-format", help="force the on-disk format of --data (the formats: "
                                         f"{PROG} plugins)")
    p.add_argument("--epochs", type=positive, default=train.epochs)
    p.add_argument("--batch-size", type=positive, help=f"default {train.batch_size}")
    p.add_argument("--lr", type=rate, help=f"Adam learning rate (default {train.lr:g})")
    p.add_argument("--latent-dim", type=positive,
                   help=f"size of z (default: the model's; {model.latent_dim} for the built-ins)")
    p.add_argument("--image-size", type=positive,
                   help="one of the model's image sizes (ModelSpec.image_sizes; the "
                        "built-ins: 32, 64); default: the dataset's")
    p.add_argument("--width", type=positive,
                   help=f"filters of the first layer (default: the model's; {model.width} for "
                        "the built-ins)")
    p.add_argument("--noise-std", type=noise_std,
                   help=f"corruption std of denoising models (default: the model's; "
                        f"{model.noise_std:g})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the model: a field of its config, e.g. --set "
                        "kl_weight=4 for a beta-VAE (repeatable; an unknown KEY is refused "
                        "with the model's settings listed)")
    p.add_argument("--device", default=train.device)
    p.add_argument("--precision", choices=PRECISIONS, default=train.precision,
                   help="bf16: bfloat16 autocast (fp32 weights and losses; about 1.5x faster "
                        "on CPUs with AVX512-BF16/AMX, refused where bfloat16 is not native); "
                        "auto: bf16 on GPUs that support it, else fp32; on --resume, the run's")
    p.add_argument("--seed", type=int, help=f"default {train.seed}")
    p.add_argument("--limit", type=positive, help="use only the first N training images")
    p.add_argument("--out", type=Path, help="run folder to write (default runs/MODEL; with "
                                            "--resume, the resumed run)")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (at the first new checkpoint)")


def _settings(args):
    """TrainSettings from the options; with --resume, given run options must agree."""
    from ..model_settings import parse_assignments
    from ..training import TrainSettings, resume_conflicts

    given = {k: getattr(args, k) for k in RUN_OPTIONS}
    model_settings = parse_assignments(args.set)  # typed by the model in train()
    if args.resume is not None:
        if args.overwrite and (args.out is None or args.out == args.resume):
            raise UsageError("--overwrite with --resume: give a different --out for the copy")
        conflicts = resume_conflicts(_resumed_config(args.resume), model_settings, **given)
        if conflicts:
            raise UsageError(f"--resume {args.resume}: {'; '.join(conflicts)} disagree with "
                             "the run; a resumed run keeps its settings (drop them, or train "
                             "a new run)")
    defaults = TrainSettings()
    return TrainSettings(**{k: defaults.__dict__[k] if v is None else v
                            for k, v in given.items()},
                         model_settings=model_settings, epochs=args.epochs,
                         device=args.device, precision=args.precision)


def _resumed_config(resume: Path):
    """The config of the run to resume; a run whose first training has not written its
    first checkpoint yet is named with the process that holds it."""
    from ..runs import lock_holder, read_config

    try:
        return read_config(resume)
    except CheckpointError:
        holder = lock_holder(resume) if resume.is_dir() else None
        if holder is None:
            raise
        pid = f" (pid {holder})" if holder else ""
        raise CheckpointError(f"--resume {resume}: another process{pid} is training this "
                              "run and has not written its first checkpoint yet; resume it "
                              "once that training has ended") from None


def _nothing_to_train(args) -> str | None:
    """With --resume, why no step would be trained (--epochs not above the run's), or None."""
    if args.resume is None:
        return None
    progress = _resumed_config(args.resume).progress
    done, step = int(progress.get("epoch", 0)), int(progress.get("step", 0))
    if step == 0 and args.epochs <= done:
        return (f"nothing was trained: {args.resume} already has {done} epochs, and --epochs "
                f"{args.epochs} is the total to reach (give --epochs above {done} to continue)")
    return None


def _report(bar: LazyBar):
    """on_progress for train(): one bar over all batches of all epochs, with the losses."""

    def on_progress(p) -> None:
        b = bar.get(p.epochs * p.steps_per_epoch, p.epoch * p.steps_per_epoch + p.step - 1)
        b.update(1)
        b.set_description(f"epoch {p.epoch + 1}/{p.epochs}")
        b.set_postfix({**{k: f"{v:.3g}" for k, v in p.losses.items()},
                       "img/s": f"{p.images_per_s:.0f}"}, refresh=False)

    return on_progress


def main(args) -> int:
    from ..fileio import check_output_folder
    from ..runs import read_config
    from ..training import train

    settings = _settings(args)
    out = args.out or args.resume or Path("runs") / settings.model
    check_output_folder(out, "--out" if args.out or args.resume is None else "--resume")
    idle = _nothing_to_train(args)
    if idle:
        print(idle)
        return 0
    host = load_host(args, model=None if args.resume else settings.model)
    bar = LazyBar(unit="batch", dynamic_ncols=True)
    try:
        result = train(settings, out, resume=args.resume, host=host, on_progress=_report(bar),
                       overwrite=args.overwrite)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP (genae_studio.signals)
        bar.close()
        try:
            kept = f"the checkpoint of epoch {read_config(out).progress.get('epoch', 0)} in " \
                   f"{out} is kept"
        except GenaeError:
            kept = "no checkpoint had been written"
        print(f"{PROG}: interrupted; {kept}", file=sys.stderr)
        return exit_code(exc)
    finally:
        bar.close()
    if result.skipped and result.rank == 0:
        print(f"{PROG}: warning: {result.skipped} unreadable images skipped (first: "
              f"{result.first_skipped})", file=sys.stderr)
    if result.rank == 0:  # under torchrun only rank 0 writes, so only it says so
        last = result.history[-1] if result.history else {}
        summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch")
        print(f"wrote {out} ({result.epochs_done} epochs; {summary})")
    return 0
