"""``genae-studio plugins``: the loaded plugins, their models and datasets; ``--check NAME``
runs the plugin contract's checks (:mod:`genae_studio.testing`) on one of them.

The checks run in a child process: a plugin that exits (``os._exit``), dies (a signal, a
crash in native code) or hangs, while it is imported or while a check runs, is reported as
one FAIL line naming the plugin and what happened; each check has ``--timeout`` seconds.
The child reports each step as a JSON line on a pipe of its own, so what the plugin prints
cannot be mistaken for a result.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from ..errors import UsageError
from .common import load_host, warn

DEFAULT_TIMEOUT_S = 300.0  # a model's checks build and train it at its default size


def add_arguments(parser) -> None:
    from pathlib import Path

    from ..scaffold import KINDS

    sub = parser.add_subparsers(dest="plugins_command", metavar="new")
    new = sub.add_parser("new", help="write a plugin package to start from, genae-NAME/: the "
                                     "module, pyproject.toml with the entry point, a test")
    new.add_argument("kind", choices=KINDS)
    new.add_argument("name", help="the model's, dataset's or sampler's name (a Python "
                                  "identifier)")
    new.add_argument("--dir", type=Path, default=Path("."),
                     help="where to write genae-NAME/ (default: here)")
    parser.add_argument("--check", metavar="NAME", help="check a model, dataset or sampler: one "
                                                         "line per check, exit code 1 on a "
                                                         "failure")
    parser.add_argument("--data", metavar="PATH", help="with --check of an on-disk format: the "
                                                        "path to check it on")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="with --check of a model: check it built with this setting (a "
                             "field of its config; repeatable)")
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help="with --check: seconds that importing the plugins, and each check, "
                             f"may take before the check is failed (default {DEFAULT_TIMEOUT_S:g})")


def _seconds(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def main(args) -> int:
    if getattr(args, "plugins_command", None) == "new":
        from ..scaffold import write_package

        folder = write_package(args.kind, args.name, args.dir)
        print(f"wrote {folder}: install it with pip install -e {folder}, then check it with "
              f"genae-studio plugins --check {args.name}")
        return 0
    if args.check:
        from ..model_settings import parse_assignments

        settings = parse_assignments(args.set)
        return check_in_child(args.check, args.data, args.plugin or [], args.timeout, settings)
    if args.set:
        raise UsageError("--set needs --check NAME (the model to check with those settings)")
    host = load_host(args)
    print("plugins:")
    for name in host.plugin_names():
        source = host.sources.get(name)
        print(f"  {name:<12} {source or ''}".rstrip())
    for note in host.notes:
        print(f"  ({note})")
    print("\nmodels:")
    for spec in host.models.values():
        tag = " [denoising]" if spec.denoising else ""
        print(f"  {spec.name:<12} {spec.description}{tag}  (plugin {spec.plugin})")
    print("\ndatasets:")
    for spec in host.datasets.values():
        kind = "on disk" if spec.detect else "built-in"
        print(f"  {spec.name:<12} {spec.description} [{kind}]  (plugin {spec.plugin})")
    print("\nsamplers:")
    for spec in host.samplers.values():
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"  {spec.name:<12} {spec.description}{f' [{options}]' if options else ''}  "
              f"(plugin {spec.plugin})")
    if host.failures:
        print("\nfailed plugins:")
        for failure in host.failures:
            print(f"  {failure}")
    return 0


# --- the parent: starts the child, prints its results, judges its end ----------------------

def _ended(returncode: int) -> str:
    """How a child ended, in words."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class _Parent:
    """Follows the child's reports: what runs now, which checks failed."""

    def __init__(self, name: str):
        self.name = name
        self.phase = "starting"  # what the child is doing, for the FAIL line
        self.plugin = None  # the plugin whose code runs now
        self.kind = None
        self.check = None
        self.failed: list[str] = []
        self.finished = False
        self.unknown = None

    def handle(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "loading":
            self.plugin = event["plugin"]
            self.phase = (f"importing plugin {self.plugin}" if event["what"] == "importing"
                          else f"plugin {self.plugin}'s {event['what']}")
        elif kind == "loaded":
            for failure in event["failures"]:
                warn(f"{failure} (skipped)")
            self.phase = "after loading the plugins"
        elif kind == "unknown":
            self.unknown = event["message"]
            if event["failures"]:  # the name's plugin most likely failed: say so as a check
                print(f"checking {self.name}", flush=True)
                for failure in event["failures"]:
                    print(f"  FAIL  loading plugins: {failure}", flush=True)
                    self.failed.append(f"loading plugins: {failure}")
        elif kind == "target":
            self.kind, self.plugin = event["kind"], event["plugin"]
            self.phase = f"checking {self.kind} {self.name}"
            print(f"checking {self.kind} {self.name} (plugin {self.plugin})", flush=True)
        elif kind == "start":
            self.check = event["check"]
        elif kind == "result":
            print(f"  {event['line']}", flush=True)
            if not event["ok"]:
                self.failed.append(f"{self.kind} {self.name}: {event['check']}")
            self.check = None
        elif kind == "done":
            self.finished = True

    def fail(self, what: str) -> None:
        """The child ended early or hung: one FAIL line naming the plugin and what happened."""
        if self.check is not None:
            print(f"  FAIL  {self.check}: the check process {what} during this check "
                  f"(plugin {self.plugin})", flush=True)
            self.failed.append(f"{self.kind} {self.name}: {self.check}")
        else:
            print(f"  FAIL  {self.phase}: the check process {what}", flush=True)
            self.failed.append(self.phase)


def check_in_child(name: str, data, plugins: list[str], timeout: float,
                   settings: dict[str, str] | None = None) -> int:
    """Run the contract's checks on the model and/or dataset ``name`` in a child process
    (a model built with ``settings``, its config fields as text); 1 when a check fails or
    the child exits, dies or hangs."""
    request = {"name": name, "data": data, "plugins": list(plugins), "path": sys.path,
               "cwd": os.getcwd(), "settings": dict(settings or {})}
    read_fd, write_fd = os.pipe()
    request["fd"] = write_fd
    code = ("import sys; from genae_studio.commands.plugins import child_main; "
            "sys.exit(child_main())")
    try:
        child = subprocess.Popen([sys.executable, "-c", code, json.dumps(request)],
                                 pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                 stdout=_stderr_fd(), start_new_session=True)
    finally:
        os.close(write_fd)
    parent = _Parent(name)
    try:
        timed_out = _follow(child, read_fd, parent, timeout)
    finally:
        os.close(read_fd)
        if child.poll() is None:
            _kill(child)
    if parent.unknown is not None and not parent.failed:
        raise UsageError(parent.unknown)
    if timed_out:
        parent.fail(f"did not finish within --timeout {timeout:g} s (it hangs or is too slow)")
    elif not parent.finished:
        parent.fail(_ended(child.returncode))
    elif child.returncode:
        parent.fail(_ended(child.returncode))
    if parent.failed:
        print(f"FAILED: {'; '.join(parent.failed)}")
        return 1
    print("all checks passed")
    return 0


def _stderr_fd():
    """Where the child's prints go: our stderr (stdout holds only the check lines)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stream
        return subprocess.DEVNULL


def _follow(child, read_fd: int, parent: _Parent, timeout: float) -> bool:
    """Read the child's reports until it closes the pipe; True if one step took longer
    than ``timeout`` (every report restarts the clock)."""
    buffer = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            child.wait()
            return False
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            parent.handle(event)
            deadline = time.monotonic() + timeout


def _kill(child) -> None:
    """End the child and anything it started (its own session)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        child.kill()
    child.wait()


# --- the child: loads the plugins and runs the checks, reporting each step -----------------

def _exit_with_parent() -> None:
    """End this child if the parent dies (it runs in its own session, which a kill -9 of
    the parent would not reach): a hung plugin must not outlive the command."""
    import threading

    from ..errors import _real_exit

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        _real_exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def child_main() -> int:
    request = json.loads(sys.argv[1])
    sys.path[:] = request["path"]
    os.chdir(request["cwd"])
    _exit_with_parent()
    out = os.fdopen(request["fd"], "w", buffering=1)

    def send(**event) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    from .. import testing
    from ..errors import plugin_code
    from ..plugins import load_plugins

    host = load_plugins(request["plugins"],
                        on_loading=lambda plugin, what: send(event="loading", plugin=plugin,
                                                             what=what))
    send(event="loaded", failures=[str(f) for f in host.failures])
    name = request["name"]
    targets = [(kind, table[name]) for kind, table in (("model", host.models),
                                                       ("dataset", host.datasets),
                                                       ("sampler", host.samplers))
               if name in table]
    if not targets:
        message = (f"--check {name}: no model, dataset or sampler of that name (models: "
                   f"{', '.join(host.models) or 'none'}; datasets: "
                   f"{', '.join(host.datasets) or 'none'}; samplers: "
                   f"{', '.join(host.samplers) or 'none'}){host.failure_hint()}")
        send(event="unknown", failures=[str(f) for f in host.failures], message=message)
        send(event="done")
        return 0

    try:
        hparams = _checked_settings(targets, request.get("settings") or {})
    except UsageError as exc:
        send(event="unknown", failures=[], message=str(exc))
        send(event="done")
        return 0

    sent: list = []

    def report(result) -> None:
        sent.append(result)
        send(event="result", check=result.check, ok=result.ok, line=str(result))

    def on_check(check: str, result) -> None:
        if result is None:
            send(event="start", check=check)
        else:
            report(result)

    testing.on_check = on_check
    for kind, spec in targets:
        send(event="target", kind=kind, plugin=spec.plugin)
        with plugin_code(spec.plugin):  # os._exit() in a check fails that check
            if kind == "model":
                results = testing.run_model_checks(spec, hparams=hparams)
            elif kind == "sampler":
                results = testing.run_sampler_checks(spec)
            else:
                results = testing.run_dataset_checks(spec, request["data"])
        for result in results:  # those not run as a check (a missing --data)
            if not any(result is done for done in sent):
                report(result)
    send(event="done")
    return 0


def _checked_settings(targets: list, settings: dict[str, str]) -> dict:
    """``--set`` values typed by the model checked; refused when no model is checked."""
    if not settings:
        return {}
    models = [spec for kind, spec in targets if kind == "model"]
    if not models:
        raise UsageError(f"--set: {targets[0][1].name} is not a model; --set gives a model's "
                         "settings")
    return models[0].check_settings(settings)
