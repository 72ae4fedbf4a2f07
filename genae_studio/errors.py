"""Errors that reach the user as one clear line (the command line prints str(error)), and
``plugin_code``, which turns a plugin's ``os._exit()`` into one of them."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class GenaeError(Exception):
    """Base class: the message alone must say what went wrong and where."""


class UsageError(GenaeError):
    """Bad arguments or options."""


class DataError(GenaeError):
    """A dataset path, layout or file that cannot be used."""


class CheckpointError(GenaeError):
    """A run folder or checkpoint file that is missing, corrupt or foreign."""


class PluginError(GenaeError):
    """A plugin that cannot be imported or misbehaves."""


class TrainingDiverged(GenaeError):
    """A loss turned NaN or infinite."""


class Cancelled(GenaeError):
    """Work stopped because the caller asked for it."""


class PluginExit(PluginError):
    """A plugin called ``os._exit()`` while its code ran under ``plugin_code``."""


_running_plugins: list[str] = []  # the plugins whose code runs now (innermost last)
_real_exit = os._exit


def _exit_from_plugin(code: int = 0) -> None:
    if _running_plugins:
        raise PluginExit(f"plugin {_running_plugins[-1]} called os._exit({code})")
    _real_exit(code)


@contextlib.contextmanager
def plugin_code(name: str) -> Iterator[None]:
    """Run a plugin's code (its import, hooks, factories): ``os._exit()`` called in it raises
    PluginExit, which the caller reports as that plugin's failure, instead of ending the
    process silently. (Nothing in-process can stop a plugin that kills its own process
    another way, e.g. with a signal or a crash in native code.)"""
    _running_plugins.append(name)
    os._exit = _exit_from_plugin
    try:
        yield
    finally:
        _running_plugins.remove(name)
        if not _running_plugins:
            os._exit = _real_exit


def running_plugin() -> str | None:
    """The plugin whose code runs now (under ``plugin_code``), if any."""
    return _running_plugins[-1] if _running_plugins else None


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, shortened: failures are listed one per line."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
