"""What several subcommands share: option types and groups, loading a run, output files."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import UsageError
from ..sampling import BN_MODES, parse_steps

PROG = "genae-studio"


def steps_list(text: str) -> list[int]:
    """--steps as given ("0,1,5,10"), for argparse."""
    try:
        return parse_steps(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite(text: str, *, minimum: float, allow_minimum: bool) -> float:
    """A finite float above ``minimum`` (or equal to it, with ``allow_minimum``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < minimum or (value == minimum and not allow_minimum):
        sign = ">=" if allow_minimum else ">"
        raise argparse.ArgumentTypeError(f"must be a finite number {sign} {minimum:g}, "
                                         f"got {text}")
    return value


def rate(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    return _finite(text, minimum=0, allow_minimum=False)


def noise_std(text: str) -> float:
    """A finite number >= 0 (a corruption std)."""
    return _finite(text, minimum=0, allow_minimum=True)


BN_HELP = ("batch norm while sampling: minibatch (the paper; couples the chains of a batch), "
           "running stats, or precise stats re-estimated on the training data "
           "(batch-independent)")


def add_model_source(parser: argparse.ArgumentParser) -> None:
    """--checkpoint/--model, --device, --bn-mode and --seed of the sampling commands."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", type=Path, metavar="DIR", help="a run folder")
    group.add_argument("--model", help="use the bundled run of this model (default: vae)")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]|mps")
    parser.add_argument("--bn-mode", choices=BN_MODES, default="batch", help=BN_HELP)
    parser.add_argument("--seed", type=int, default=0)


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_host(args, model: str | None = None):
    """The plugins of ``--plugin`` (and the built-in and installed ones); failures warned.
    A ``model`` that no plugin registered is refused first, in one line that names the
    failed plugins as the likely cause."""
    from ..plugins import load_plugins

    host = load_plugins(args.plugin or [])
    if model is not None:
        host.model(model)
    if args.command != "plugins":
        for note in host.notes:
            log(f"{PROG}: {note}")
        for failure in host.failures:
            warn(f"{failure} (skipped)")
    return host


def check_bundled_name(model: str | None) -> None:
    """--model names a bundled run; a path there is a UsageError pointing at --checkpoint."""
    if model is not None and "/" in model:
        raise UsageError(f"--model takes a bundled model name, got {model!r}; "
                         "use --checkpoint for a run folder")


def load_run_arg(args, host):
    """The run of --checkpoint or --model, on --device."""
    from ..api import load_run

    return load_run(args.checkpoint, model=args.model, device=args.device, host=host)


def check_outputs(args) -> None:
    """--out (a .png), --npz and the device are checked before any model is loaded."""
    from ..devices import resolve_device
    from ..fileio import check_output_path

    check_output_path(args.out, (".png",), "--out")
    if args.npz is not None:
        check_output_path(args.npz, (".npz",), "--npz")
        if args.npz.resolve() == args.out.resolve():
            raise UsageError("--npz and --out name the same file")
    resolve_device(args.device)


def batches(total: int, size: int):
    """(start, stop) of consecutive batches of ``size`` out of ``total``."""
    for start in range(0, total, size):
        yield start, min(total, start + size)


def commit_outputs(grid, npz, args, what: str) -> None:
    """Rename the finished grid (and npz) into place and say what was written."""
    grid.finish()
    print(f"wrote {args.out} ({what})")
    if npz:
        npz.finish()
        print(f"wrote {args.npz}")


def close_outputs(grid, npz) -> None:
    """Remove the scratch files (after a failure: the old outputs stay as they were)."""
    grid.close()
    if npz:
        npz.close()


class LazyBar:
    """A tqdm progress bar made at the first progress report, with ``options`` for tqdm."""

    def __init__(self, **options):
        self.options, self.bar = options, None

    def get(self, total: int, initial: int = 0):
        """The bar, made with ``total`` and ``initial`` if this is the first report."""
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, **self.options)
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
