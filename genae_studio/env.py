"""Every ``GENAE_STUDIO_*`` environment variable and the folders they choose, in one place.

=====================================  ==================================================
``GENAE_STUDIO_RESOURCES``             folder holding ``runs/`` (bundled runs) and
                                       ``features/`` (bundled feature networks); default:
                                       the installed package data
``GENAE_STUDIO_CACHE``                 cache folder (decoded datasets, feature networks,
                                       precise batch-norm statistics); default
                                       ``~/.cache/genae-studio``
``GENAE_STUDIO_NO_CACHE``              set (not 0/false/no): on-disk datasets are decoded on
                                       access, not from the decoded-image cache
                                       (``--no-cache``)
``GENAE_STUDIO_DEVICE``                the device ``auto`` means (cpu, cuda[:i], mps)
``GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD``  set: installed plugins' entry points are not
                                       loaded
``GENAE_STUDIO_RUNS``                  where the studio's Training panel writes new runs;
                                       default ``Documents/genae-studio/runs``
``GENAE_STUDIO_SETTINGS``              the studio's settings as an .ini file instead of the
                                       platform's settings store
``GENAE_STUDIO_WIDGET_MAP``            a JSON file the running studio keeps up to date with
                                       where its controls are (the Xvfb smoke test aims its
                                       clicks with it); unset: nothing is written
=====================================  ==================================================

Light on purpose (no torch, no numpy): the command line reads it while building ``--help``.
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

RESOURCES_ENV = "GENAE_STUDIO_RESOURCES"
CACHE_ENV = "GENAE_STUDIO_CACHE"
NO_CACHE_ENV = "GENAE_STUDIO_NO_CACHE"
DEVICE_ENV = "GENAE_STUDIO_DEVICE"
AUTOLOAD_ENV = "GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD"
RUNS_ENV = "GENAE_STUDIO_RUNS"
SETTINGS_ENV = "GENAE_STUDIO_SETTINGS"
WIDGET_MAP_ENV = "GENAE_STUDIO_WIDGET_MAP"


def resources_dir() -> Path:
    """The folder whose runs/ holds the bundled runs and features/ the bundled feature
    networks: $GENAE_STUDIO_RESOURCES; else the package data genae_studio/resources (where a
    wheel installs the top-level resources/ folder); else, in a checkout, resources/ itself."""
    env = os.environ.get(RESOURCES_ENV)
    if env:
        return Path(env)
    package = Path(str(importlib.resources.files("genae_studio")))
    installed = package / "resources"
    return installed if installed.is_dir() else package.parent / "resources"


def cache_dir() -> Path:
    """``$GENAE_STUDIO_CACHE`` or ``~/.cache/genae-studio``, created on demand; a DataError
    (one line) when it cannot be a folder."""
    from .errors import DataError

    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "genae-studio")
    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataError(f"{CACHE_ENV}={path}: not a folder (point it at a folder for the "
                        "cache)") from None
    except OSError as exc:
        raise DataError(f"cache folder {path}: cannot create it ({exc.strerror or exc}); "
                        f"set {CACHE_ENV} to a writable folder") from None
    return path


def default_device() -> str:
    """What ``--device auto`` resolves from: $GENAE_STUDIO_DEVICE, else "auto"."""
    return os.environ.get(DEVICE_ENV, "auto")


def plugin_autoload() -> bool:
    """Whether installed plugins' entry points load: $GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD
    unset or empty."""
    return not os.environ.get(AUTOLOAD_ENV)


def runs_dir() -> Path | None:
    """Where the studio writes new runs: $GENAE_STUDIO_RUNS, or None for the studio's default
    (the platform's Documents folder, /genae-studio/runs)."""
    env = os.environ.get(RUNS_ENV)
    return Path(env) if env else None


def settings_file() -> Path | None:
    """The studio's settings .ini file ($GENAE_STUDIO_SETTINGS), or None for the platform's
    store."""
    env = os.environ.get(SETTINGS_ENV)
    return Path(env) if env else None


def data_cache_enabled() -> bool:
    """False when $GENAE_STUDIO_NO_CACHE is set to anything but 0/false/no/empty."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no")


def widget_map_file() -> Path | None:
    """Where the studio writes its widget map ($GENAE_STUDIO_WIDGET_MAP), or None."""
    env = os.environ.get(WIDGET_MAP_ENV)
    return Path(env) if env else None
