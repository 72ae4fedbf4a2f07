"""Old import paths of names that moved from the core to the built-in plugin.

The built-in datasets live in ``genae_builtins`` like a third party's, and the core never
imports the plugin (the import-linter ``layers`` contract). So that old imports such as
``from genae_studio.data.toyfaces import load_toyfaces`` keep working, the old modules
forward the moved names: each is loaded from its new module *by name* on first use, as
``genae_studio.VAE`` is, with a DeprecationWarning naming the new path.
"""
from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

# The names ``genae_studio.data.disk`` defined for the built-in formats -> their new modules.
MOVED_FROM_DISK = {
    **dict.fromkeys(["detect_celeba", "load_celeba"], "genae_builtins.celeba"),
    **dict.fromkeys(["detect_svhn", "load_svhn", "SVHN_FILES"], "genae_builtins.svhn"),
    **dict.fromkeys(["detect_mnist", "load_mnist", "MNIST_FILES", "IMAGES_MAGIC",
                     "LABELS_MAGIC"], "genae_builtins.mnist"),
    **dict.fromkeys(["detect_folder", "load_folder"], "genae_builtins.image_folder"),
    "DIGIT_NAMES": "genae_builtins.digits",
}


def forward(old: str, new: dict[str, str] | str) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for module ``old``: ``new`` maps each moved name to
    the module that now holds it, or is one module that holds every name ``old`` lacks."""

    def module_of(name: str) -> str | None:
        return new if isinstance(new, str) else new.get(name)

    def __getattr__(name: str):
        module = module_of(name)
        if module is None or name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        warnings.warn(f"{old}.{name} moved to {module}.{name}", DeprecationWarning,
                      stacklevel=2)
        return value

    def __dir__() -> list[str]:
        own = importlib.import_module(old).__dict__
        moved = dir(importlib.import_module(new)) if isinstance(new, str) else new
        return sorted({*own, *moved})

    return __getattr__, __dir__
