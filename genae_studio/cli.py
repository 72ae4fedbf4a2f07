"""The ``genae-studio`` command line: the parser, error handling and dispatch.

Each subcommand lives in its own module of :mod:`genae_studio.commands` (its options and its
``main``); with no command the studio opens. Heavy libraries load only in the commands that
need them, so ``--help`` and ``plugins`` import neither torch nor Qt.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .commands import cache as cache_command
from .commands import eval as eval_command
from .commands import interpolate, latent, plugins, sample, train
from .commands.common import PROG, load_host
from .errors import GenaeError, UsageError
from .signals import as_interrupts, exit_code

# name -> (its module in genae_studio.commands, help line)
COMMANDS = {
    "plugins": (plugins, "list loaded plugins, their models and datasets; --check NAME "
                         "tests one against the plugin contract"),
    "train": (train, "train a model and write a run folder"),
    "sample": (sample, "draw chains from the prior; one grid row per step"),
    "interpolate": (interpolate, "interpolate between test images, before and after chain "
                                 "steps"),
    "eval": (eval_command, "measure sample quality and latent distances per chain step"),
    "latent": (latent, "draw chain trajectories over the data and prior clouds in a 2-D view "
                       "of the latent space, with the data score"),
    "cache": (cache_command, "show the cache folder's size (decoded images...); clear it"),
}


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors are one line on stderr, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--plugin", "-p", action="append", metavar="NAME",
                        default=default if suppress else [],
                        help="load a plugin by entry-point name, module name or .py path; "
                             "no:NAME blocks one (repeatable)")
    parser.add_argument("--debug", action="store_true",
                        default=default if suppress else False,
                        help="show tracebacks")
    parser.add_argument("--no-cache", action="store_true",
                        default=default if suppress else False,
                        help="decode image files on every access instead of once into the "
                             "cache (also GENAE_STUDIO_NO_CACHE=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description="Generative autoencoders sampled with Markov chains "
        "(Creswell et al. 2017). With no command, opens the studio.")
    _common(parser, suppress=False)
    parser.add_argument("--version", action="version", version=version_line(),
                        help="show the versions of genae-studio and torch, and exit")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="studio: open this run")
    parser.add_argument("--data", help="studio: dataset name or path")
    parser.add_argument("--device", default="auto", help="studio: auto|cpu|cuda[:i]|mps")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_line) in COMMANDS.items():
        p = sub.add_parser(name, help=help_line)
        _common(p, suppress=True)
        module.add_arguments(p)
    return parser


def version_line() -> str:
    """``genae-studio X (torch Y, Python Z)``, without importing torch."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return f"{PROG} {__version__} (torch {torch}, Python {platform.python_version()})"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_cache:
        from .data.cache import disable

        disable()
    try:
        if not args.command:
            return cmd_studio(args)
        with as_interrupts():  # SIGTERM and SIGHUP clean up as Ctrl-C does
            return COMMANDS[args.command][0].main(args)
    except GenaeError as exc:
        if args.debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return exit_code(exc)
    except BrokenPipeError:  # the reader went away (`| head`): nothing is wrong here
        try:  # and nothing to flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except Exception as exc:
        if args.debug:
            raise
        from .blame import describe

        line = describe(exc)  # a plugin's bug is the plugin's: it names the plugin
        if line is not None:
            print(f"{PROG}: error: {line}", file=sys.stderr)
            return 2
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


def cmd_studio(args) -> int:
    import os

    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM")):
        raise UsageError("no display found for the studio (DISPLAY is not set); on a server use "
                         "the commands (genae-studio --help)")
    from .tasks.platform_libs import platform_problem

    problem = platform_problem()  # before Qt: a missing xcb library aborts the process
    if problem:
        raise UsageError(problem)
    try:
        from .gui.app import run_studio
    except ImportError as exc:
        raise UsageError(f"the studio needs PyQt6 and pyqtgraph ({exc})") from None
    return run_studio(args, load_host(args))
