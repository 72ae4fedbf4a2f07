"""The ``genae-studio`` command line. Heavy libraries load only in the commands that need them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import GenaeError, UsageError
from .options import BN_MODES, parse_steps

PROG = "genae-studio"


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors are one line on stderr, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parse_steps(text: str) -> list[int]:
    try:
        return parse_steps(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite(text: str, *, minimum: float, allow_minimum: bool) -> float:
    """A finite float above ``minimum`` (or equal to it, with ``allow_minimum``)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < minimum or (value == minimum and not allow_minimum):
        sign = ">=" if allow_minimum else ">"
        raise argparse.ArgumentTypeError(f"must be a finite number {sign} {minimum:g}, "
                                         f"got {text}")
    return value


def _rate(text: str) -> float:
    return _finite(text, minimum=0, allow_minimum=False)


def _noise_std(text: str) -> float:
    return _finite(text, minimum=0, allow_minimum=True)


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--plugin", "-p", action="append", metavar="NAME",
                        default=default if suppress else [],
                        help="load a plugin by entry-point name, module name or .py path; "
                             "no:NAME blocks one (repeatable)")
    parser.add_argument("--debug", action="store_true",
                        default=default if suppress else False,
                        help="show tracebacks")


def _model_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", type=Path, metavar="DIR", help="a run folder")
    group.add_argument("--model", help="use the bundled run of this model (default: vae)")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]|mps")
    parser.add_argument("--bn-mode", choices=BN_MODES, default="batch",
                        help="batch norm while sampling: minibatch (the paper; couples the "
                             "chains of a batch), running stats, or precise stats re-estimated "
                             "on the training data (batch-independent)")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description="Generative autoencoders sampled with Markov chains "
        "(Creswell et al. 2017). With no command, opens the studio.")
    _common(parser, suppress=False)
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="studio: open this run")
    parser.add_argument("--data", help="studio: dataset name or path")
    parser.add_argument("--device", default="auto", help="studio: auto|cpu|cuda[:i]|mps")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list loaded plugins, their models and datasets; "
                                       "--check NAME tests one against the plugin contract")
    _common(p, suppress=True)
    p.add_argument("--check", metavar="NAME", help="check a model or dataset: one line per "
                                                    "check, exit code 1 on a failure")
    p.add_argument("--data", metavar="PATH", help="with --check of an on-disk format: the "
                                                   "path to check it on")

    p = sub.add_parser("train", help="train a model and write a run folder")
    _common(p, suppress=True)
    # Options that define a run default to None here: with --resume, one that is given must
    # agree with the run (see training.resume_conflicts); without, TrainSettings fills them.
    p.add_argument("--model", help="vae|dvae|aae|daae|<plugin model> (default vae)")
    p.add_argument("--data", help="toyfaces|digits|PATH (default: the first built-in, toyfaces)")
    p.add_argument("--data-format", help="force the on-disk format (celeba|svhn|mnist|folder)")
    p.add_argument("--epochs", type=_positive, default=20)
    p.add_argument("--batch-size", type=_positive, help="default 64")
    p.add_argument("--lr", type=_rate, help="Adam learning rate (default 0.0002)")
    p.add_argument("--latent-dim", type=_positive,
                   help="size of z (default: the model's; 200 for the built-ins)")
    p.add_argument("--image-size", type=int, choices=(32, 64))
    p.add_argument("--width", type=_positive,
                   help="filters of the first layer (default: the model's; 64 for the built-ins)")
    p.add_argument("--noise-std", type=_noise_std,
                   help="corruption std of denoising models (default: the model's; 0.5)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "tf32"), default="auto",
                   help="bf16: bfloat16 autocast (fp32 weights and losses; about 1.5x faster "
                        "on CPUs with AVX512-BF16/AMX, refused where bfloat16 is not native); "
                        "auto: bf16 on GPUs that support it, else fp32; on --resume, the run's")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--limit", type=_positive, help="use only the first N training images")
    p.add_argument("--out", type=Path, help="run folder to write (default runs/MODEL; with "
                                            "--resume, the resumed run)")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (at the first new checkpoint)")

    p = sub.add_parser("sample", help="draw chains from the prior; one grid row per step")
    _common(p, suppress=True)
    _model_source(p)
    p.add_argument("--n", type=_positive, default=16, help="chains (default 16)")
    p.add_argument("--steps", type=_parse_steps, default=[0, 1, 5, 10])
    p.add_argument("--columns", type=_positive, default=16,
                   help="images per grid line; a step's row wraps after this many (16)")
    p.add_argument("--noise-std", type=float, help="corruption std for denoising models")
    p.add_argument("--out", type=Path, default=Path("grid.png"))
    p.add_argument("--npz", type=Path, help="also save x, z and steps as .npz")
    p.add_argument("--batch-size", type=_positive, default=256,
                   help="chains run together (memory grows with it; with --bn-mode batch, "
                        "their batch-norm statistics come from this batch)")

    p = sub.add_parser("interpolate", help="interpolate between test images, before and "
                                           "after chain steps")
    _common(p, suppress=True)
    _model_source(p)
    p.add_argument("--data", help="dataset (default: the run's)")
    p.add_argument("--data-format")
    p.add_argument("--points", type=int, default=8)
    p.add_argument("--steps", type=int, default=5, help="chain steps after interpolating")
    p.add_argument("--pairs", type=_positive, default=4, help="rows of pair interpolations")
    p.add_argument("--four", action="store_true", help="the four-image grid")
    p.add_argument("--method", choices=("slerp", "linear"), default="slerp")
    p.add_argument("--out", type=Path, default=Path("interp.png"))
    p.add_argument("--npz", type=Path)
    p.add_argument("--batch-size", type=_positive, default=256,
                   help="interpolated points run through the chain together")

    p = sub.add_parser("eval", help="measure sample quality and latent distances per chain step")
    _common(p, suppress=True)
    from .evaluate import add_eval_arguments  # light: argparse only

    add_eval_arguments(p)

    p = sub.add_parser("latent", help="draw chain trajectories over the data and prior clouds "
                                      "in a 2-D view of the latent space, with the data score")
    _common(p, suppress=True)
    from .latent_command import add_latent_arguments  # light: argparse only

    add_latent_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS.get(args.command, cmd_studio)(args)
    except GenaeError as exc:
        if args.debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


def _host(args):
    from .plugins import load_plugins

    host = load_plugins(args.plugin or [])
    if args.command != "plugins":
        for failure in host.failures:
            print(f"{PROG}: warning: {failure} (skipped)", file=sys.stderr)
    return host


def cmd_plugins(args) -> int:
    host = _host(args)
    if args.check:
        return _check_plugin(args.check, args.data, host)
    print("plugins: " + ", ".join(host.plugin_names()))
    print("\nmodels:")
    for spec in host.models.values():
        tag = " [denoising]" if spec.denoising else ""
        print(f"  {spec.name:<12} {spec.description}{tag}  (plugin {spec.plugin})")
    print("\ndatasets:")
    for spec in host.datasets.values():
        kind = "on disk" if spec.detect else "built-in"
        print(f"  {spec.name:<12} {spec.description} [{kind}]  (plugin {spec.plugin})")
    if host.failures:
        print("\nfailed plugins:")
        for failure in host.failures:
            print(f"  {failure}")
    return 0


def _check_plugin(name: str, data, host) -> int:
    from .testing import run_dataset_checks, run_model_checks

    targets = [(kind, table[name]) for kind, table in (("model", host.models),
                                                       ("dataset", host.datasets))
               if name in table]
    if not targets:
        raise UsageError(f"--check {name}: no model or dataset of that name (models: "
                         f"{', '.join(host.models) or 'none'}; datasets: "
                         f"{', '.join(host.datasets) or 'none'})")
    for failure in host.failures:
        print(f"{PROG}: warning: {failure} (skipped)", file=sys.stderr)
    failed = []
    for kind, spec in targets:
        print(f"checking {kind} {name} (plugin {spec.plugin})", flush=True)
        results = run_model_checks(spec) if kind == "model" else run_dataset_checks(spec, data)
        for result in results:
            print(f"  {result}")
        failed += [f"{kind} {name}: {r.check}" for r in results if not r.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}")
        return 1
    print("all checks passed")
    return 0


def cmd_train(args) -> int:
    from tqdm import tqdm

    from .runs import read_config
    from .training import TrainSettings, resume_conflicts, train

    given = {k: getattr(args, k) for k in ("model", "data", "data_format", "batch_size", "lr",
                                           "seed", "limit", "latent_dim", "width",
                                           "noise_std", "image_size")}
    if args.resume is not None:
        if args.overwrite and (args.out is None or args.out == args.resume):
            raise UsageError("--overwrite with --resume: give a different --out for the copy")
        conflicts = resume_conflicts(read_config(args.resume), **given)
        if conflicts:
            raise UsageError(f"--resume {args.resume}: {'; '.join(conflicts)} disagree with "
                             "the run; a resumed run keeps its settings (drop them, or train "
                             "a new run)")
    defaults = TrainSettings()
    settings = TrainSettings(**{k: defaults.__dict__[k] if v is None else v
                                for k, v in given.items()},
                             epochs=args.epochs, device=args.device,
                             precision=args.precision)
    out = args.out or args.resume or Path("runs") / settings.model
    host = _host(args)
    bar = None

    def on_progress(p):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.epochs * p.steps_per_epoch, unit="batch", dynamic_ncols=True,
                       initial=p.epoch * p.steps_per_epoch + p.step - 1)
        bar.update(1)
        bar.set_description(f"epoch {p.epoch + 1}/{p.epochs}")
        bar.set_postfix({**{k: f"{v:.3g}" for k, v in p.losses.items()},
                         "img/s": f"{p.images_per_s:.0f}"}, refresh=False)

    try:
        result = train(settings, out, resume=args.resume, host=host, on_progress=on_progress,
                       overwrite=args.overwrite)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        try:
            kept = f"the checkpoint of epoch {read_config(out).progress.get('epoch', 0)} in " \
                   f"{out} is kept"
        except GenaeError:
            kept = "no checkpoint had been written"
        print(f"{PROG}: interrupted; {kept}", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    if result.skipped and result.rank == 0:
        print(f"{PROG}: warning: {result.skipped} unreadable images skipped (first: "
              f"{result.first_skipped})", file=sys.stderr)
    if result.rank == 0:  # under torchrun only rank 0 writes, so only it says so
        last = result.history[-1] if result.history else {}
        summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch")
        print(f"wrote {out} ({result.epochs_done} epochs; {summary})")
    return 0


def _load(args, host):
    from .api import load_run

    return load_run(args.checkpoint, model=args.model, device=args.device, host=host)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_outputs(args) -> None:
    """Output paths and the device are checked before any model is loaded or sampled."""
    from .devices import resolve_device
    from .fileio import check_output_path

    check_output_path(args.out, (".png",), "--out")
    if args.npz is not None:
        check_output_path(args.npz, (".npz",), "--npz")
        if args.npz.resolve() == args.out.resolve():
            raise UsageError("--npz and --out name the same file")
    resolve_device(args.device)


def _batches(total: int, size: int):
    for start in range(0, total, size):
        yield start, min(total, start + size)


def cmd_sample(args) -> int:
    from .chain import record_chain
    from .imaging import LabelMargin
    from .outputs import PAD, GridWriter, NpzWriter

    _check_outputs(args)
    host = _host(args)
    run = _load(args, host)
    run.prepare_bn(args.bn_mode, host=host, log=_log)
    model, steps = run.model, args.steps
    image = (model.channels, model.image_size, model.image_size)
    generator = run._generator(args.seed)
    # One block per step, labelled with its t; a block wraps after --columns chains.
    columns = min(args.n, args.columns)
    lines = -(-args.n // columns)
    height = len(steps) * lines * (model.image_size + PAD) + PAD
    tops = [PAD + r * lines * (model.image_size + PAD) for r in range(len(steps))]
    margin = LabelMargin(height, model.channels, [f"t = {t}" for t in steps], tops,
                         model.image_size)  # its memory does not grow with --n
    grid = GridWriter(args.out, len(steps) * lines, columns, model.channels, model.image_size,
                      margin=margin)
    npz = NpzWriter(args.npz) if args.npz else None
    try:
        if npz:
            npz.declare("x", (len(steps), args.n, *image), "float32", parts=len(steps))
            npz.declare("z", (len(steps), args.n, model.latent_dim), "float32",
                        parts=len(steps))
            npz.declare("steps", (len(steps),), "int64")
            npz.append("steps", steps)
        for start, stop in _batches(args.n, args.batch_size):  # memory: one batch of chains
            rec = record_chain(model, steps, n=stop - start, bn_mode=args.bn_mode,
                               noise_std=args.noise_std, generator=generator)
            for row in range(len(steps)):
                k = start
                while k < stop:  # chain k: line k // columns of the step's block
                    line, col = divmod(k, columns)
                    end = min(stop, k - col + columns)
                    grid.put(row * lines + line, col, rec.x[row][k - start:end - start])
                    k = end
                if npz:
                    npz.append("x", rec.x[row], part=row)
                    npz.append("z", rec.z[row], part=row)
        shape = f"{len(steps)} rows" if lines == 1 else \
            f"{len(steps)} blocks of {lines} lines"
        _commit(grid, npz, args, f"{shape} labelled with t: steps "
                f"{','.join(map(str, steps))}; {args.n} chains of {run.name}")
    finally:
        _close(grid, npz)
    return 0


def _commit(grid, npz, args, what: str) -> None:
    """Rename the finished grid (and npz) into place and say what was written."""
    grid.finish()
    print(f"wrote {args.out} ({what})")
    if npz:
        npz.finish()
        print(f"wrote {args.npz}")


def _close(grid, npz) -> None:
    """Remove the scratch files (after a failure: the old outputs stay as they were)."""
    grid.close()
    if npz:
        npz.close()


MAX_FOUR_POINTS = 64  # --four draws points x points images


def cmd_interpolate(args) -> int:
    import numpy as np
    import torch

    from .chain import record_chain
    from .data import check_fits, default_dataset, resolve_dataset
    from .interpolate import lerp, slerp
    from .outputs import GridWriter, NpzWriter

    if args.points < 2:
        raise UsageError("--points must be at least 2")
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0 (chain steps after interpolating), "
                         f"got {args.steps}")
    if args.four and args.points > MAX_FOUR_POINTS:
        raise UsageError(f"--four with --points {args.points} draws {args.points ** 2} images; "
                         f"at most --points {MAX_FOUR_POINTS}")
    _check_outputs(args)
    host = _host(args)
    run = _load(args, host)
    run.prepare_bn(args.bn_mode, host=host, log=_log)
    model = run.model
    data = args.data or run.config.data.get("data") or default_dataset(host.datasets)
    dataset = resolve_dataset(data, host.datasets, data_format=args.data_format, split="test",
                              image_size=model.image_size)
    check_fits(dataset, model.channels, name=data)
    need = 4 if args.four else 2 * args.pairs
    # Encode a full batch so batch-norm statistics are meaningful; use its first images.
    count = min(len(dataset), max(64, need))
    if count < need:
        raise UsageError(f"{data}: only {len(dataset)} test images, {need} needed")
    pick = np.sort(np.random.default_rng(args.seed).choice(len(dataset), count, replace=False))
    z = run.encode(dataset.batch(pick), bn_mode=args.bn_mode)[:need]
    mix = slerp if args.method == "slerp" else lerp
    ts = torch.linspace(0, 1, args.points).tolist()  # as interpolate.interpolate
    if args.four:  # rows go from the top corners to the bottom ones, columns left to right
        left = [mix(z[0], z[2], t) for t in ts]
        right = [mix(z[1], z[3], t) for t in ts]
        lines, shape = [(a, b) for a, b in zip(left, right, strict=True)], (args.points,) * 2
    else:
        lines, shape = [(z[2 * p], z[2 * p + 1]) for p in range(args.pairs)], \
            (args.pairs, args.points)
    total = int(np.prod(shape))
    image = (model.channels, model.image_size, model.image_size)
    rows = len(lines)
    # Pairs: the "before" rows on top, "after" below. Four: "before" left, "after" right of
    # an empty column.
    grid_shape = (rows, 2 * args.points + 1) if args.four else (2 * rows, args.points)
    grid = GridWriter(args.out, *grid_shape, model.channels, model.image_size)
    npz = NpzWriter(args.npz) if args.npz else None
    generator = run._generator(args.seed)
    try:
        if npz:
            for name, tail, dtype in (("z", (model.latent_dim,), "float32"),
                                      ("before", image, "float32"), ("after", image, "float32"),
                                      ("z_after", (model.latent_dim,), "float32")):
                npz.declare(name, (*shape, *tail), dtype)
            npz.declare("steps", (1,), "int64")
            npz.append("steps", [args.steps])
        for start, stop in _batches(total, args.batch_size):
            flat = torch.stack([mix(*lines[i // args.points], ts[i % args.points])
                                for i in range(start, stop)]).to(run.device)
            rec = record_chain(model, [0, args.steps], z0=flat, n=len(flat),
                               bn_mode=args.bn_mode, generator=generator)
            _put_cells(grid, start, rec.x, args.points, rows, args.four)
            if npz:
                for name, value in (("z", flat.cpu().numpy()), ("before", rec.x[0]),
                                    ("after", rec.x[1]), ("z_after", rec.z[1])):
                    npz.append(name, value)
        layout = "left: before, right" if args.four else f"top {rows} rows: before, bottom"
        _commit(grid, npz, args, f"{layout}: after {args.steps} chain steps")
    finally:
        _close(grid, npz)
    return 0


def _put_cells(grid, start: int, x, points: int, rows: int, four: bool) -> None:
    """Place a batch of flat interpolation indices start.. (before x[0], after x[1])."""
    i, end = start, start + x.shape[1]
    while i < end:
        row, col = divmod(i, points)
        k = min(end, (row + 1) * points) - i
        before, after = x[0][i - start:i - start + k], x[1][i - start:i - start + k]
        if four:
            grid.put(row, col, before)
            grid.put(row, points + 1 + col, after)
        else:
            grid.put(row, col, before)
            grid.put(rows + row, col, after)
        i += k


def cmd_eval(args) -> int:
    from .evaluate import run_eval_command

    return run_eval_command(args, _host(args))


def cmd_latent(args) -> int:
    from .latent_command import run_latent_command

    return run_latent_command(args, _host(args))


def cmd_studio(args) -> int:
    import os

    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM")):
        raise UsageError("no display found for the studio (DISPLAY is not set); on a server use "
                         "the commands (genae-studio --help)")
    try:
        from .gui.app import run_studio
    except ImportError as exc:
        raise UsageError(f"the studio needs PyQt6 and pyqtgraph ({exc})") from None
    return run_studio(args, _host(args))


COMMANDS = {"plugins": cmd_plugins, "train": cmd_train, "sample": cmd_sample,
            "interpolate": cmd_interpolate, "eval": cmd_eval, "latent": cmd_latent}
