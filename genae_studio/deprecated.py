"""Old import paths, in one place: the table ``MOVED`` and the import hook that reads it.

Modules and names that moved keep working at their old paths, with one DeprecationWarning
format (``old moved to new``). ``tests/test_old_import_paths.py`` reads the same table, so
an entry added here is tested.

- ``"old.module": "new.module"``: the whole module moved; importing the old path gives the
  module object of the new one (so ``genae_studio.chain.markov_chain`` *is* the chain).
- ``"old.module:name": "new.module:new_name"``: one name moved (or was renamed); the old
  module, if it still exists, keeps its other names. A module whose every name moved
  (``genae_studio.evaluate``) exists only through this table.

The hook is installed when ``genae_studio`` is imported (``genae_builtins`` imports it
first too). Moved names are loaded by name on first use, so the core never imports the
built-in plugin (the import-linter ``layers`` contract) and importing an old module costs
nothing until a name is used. In the manner of pytest's ``deprecated.py`` and Lightning's
``_graveyard``, the new code never reads this table: only old paths do.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

_MODULES = {
    # concepts became folders (issue 18); a module that moved is now a folder's private one
    "genae_studio.trainer": "genae_studio.training._trainer",
    "genae_studio.train_config": "genae_studio.training._config",
    "genae_studio.train_resume": "genae_studio.training._resume",
    "genae_studio.train_speed": "genae_studio.training._speed",
    "genae_studio.run_format": "genae_studio.runs._format",
    "genae_studio.run_load": "genae_studio.runs._load",
    "genae_studio.run_save": "genae_studio.runs._save",
    "genae_studio.model": "genae_studio.models._base",
    "genae_studio.nets": "genae_studio.models._nets",
    "genae_studio.compiled_plans": "genae_studio.models._compiled_plans",
    "genae_studio.fast": "genae_studio.models._compiled_plans",  # its name before that
    "genae_studio.chain": "genae_studio.sampling._chain",
    "genae_studio.precise_bn": "genae_studio.sampling._precise_bn",
    "genae_studio.interpolate": "genae_studio.sampling._interpolate",
    "genae_studio.options": "genae_studio.sampling._options",
    # renamed: it is statistical bands, not start-up
    "genae_studio.bootstrap": "genae_studio.confidence_bands",
    # the VAE and AAE classes moved into the core; their configs stay public in the plugin
    "genae_builtins.vae_model": "genae_studio.models._vae",
    "genae_builtins.aae_model": "genae_studio.models._aae",
    # the studio's Qt-free work: a name that says so (genae_studio.gui is the studio)
    "genae_studio.studio": "genae_studio.tasks",
    "genae_studio.studio.chain_metrics": "genae_studio.tasks.chain_metrics",
    "genae_studio.studio.chain_settings": "genae_studio.tasks.chain_settings",
    "genae_studio.studio.chains": "genae_studio.tasks.chains",
    "genae_studio.studio.export": "genae_studio.tasks.export",
    "genae_studio.studio.interpolation": "genae_studio.tasks.interpolation",
    "genae_studio.studio.latent_cloud": "genae_studio.tasks.latent_cloud",
    "genae_studio.studio.live_training": "genae_studio.tasks.live_training",
    "genae_studio.studio.loading": "genae_studio.tasks.loading",
    "genae_studio.studio.platform_libs": "genae_studio.tasks.platform_libs",
    "genae_studio.studio.precise": "genae_studio.tasks.precise",
    "genae_studio.studio.progress": "genae_studio.tasks.progress",
    "genae_studio.studio.system": "genae_studio.tasks.system",
    # the built-in datasets moved from the core to the built-in plugin
    "genae_studio.data.toyfaces": "genae_builtins.toyfaces",
    "genae_studio.data.digits": "genae_builtins.digits",
}

_NAMES = {
    # names renamed where they live (two PRECISIONS, two library_versions)
    "genae_studio.sampling._chain:PRECISIONS": "genae_studio.sampling:CHAIN_PRECISIONS",
    "genae_studio.runs:library_versions": "genae_studio.runs:run_versions",
    "genae_studio.runs._format:library_versions": "genae_studio.runs:run_versions",
    # the GENAE_STUDIO_* variables' names, now all in genae_studio.env
    "genae_studio.api:RESOURCES_ENV": "genae_studio.env:RESOURCES_ENV",
    # re-exports that sat in a front module
    "genae_studio.runs:atomic_write": "genae_studio.fileio:atomic_write",
    "genae_studio.training:Prefetcher": "genae_studio.data:Prefetcher",
    # the built-in formats' names once defined in genae_studio.data.disk
    **{f"genae_studio.data.disk:{name}": f"{module}:{name}" for module, names in {
        "genae_builtins.celeba": ["detect_celeba", "load_celeba"],
        "genae_builtins.svhn": ["detect_svhn", "load_svhn", "SVHN_FILES"],
        "genae_builtins.mnist": ["detect_mnist", "load_mnist", "MNIST_FILES", "IMAGES_MAGIC",
                                 "LABELS_MAGIC"],
        "genae_builtins.image_folder": ["detect_folder", "load_folder"],
        "genae_builtins.digits": ["DIGIT_NAMES"],
    }.items() for name in names},
    # genae_studio.evaluate: the eval measures' former home
    **{f"genae_studio.evaluate:{name}": f"genae_studio.evaluation:{name}" for name in [
        "AMBIGUOUS", "COLUMNS", "JSON_VERSION", "Reference", "build_reference",
        "chain_metrics", "decisiveness", "decode", "encode_heldout",
        "environment", "evaluate_run", "format_table", "pick_pairs", "reference_rows",
        "run_chains", "save_figures", "step_metrics"]},
    "genae_studio.evaluate:encoding_seed": "genae_studio.latent:encoding_seed",
    "genae_studio.evaluation:encoding_seed": "genae_studio.latent:encoding_seed",
    "genae_studio.evaluation.reference:encoding_seed": "genae_studio.latent:encoding_seed",
    # it sorted the steps under the name of the function that keeps their order
    "genae_studio.evaluate:parse_steps": "genae_studio.sampling:sorted_steps",
    "genae_studio.evaluate:parse_spaces": "genae_studio.commands.eval:parse_spaces",
}

# old path -> new path, as documented above
MOVED: dict[str, str] = {**_MODULES, **_NAMES}


def message(old: str, new: str) -> str:
    """The one DeprecationWarning text: ``old moved to new`` (dotted paths)."""
    return f"{old.replace(':', '.')} moved to {_public(new).replace(':', '.')}"


def _public(path: str) -> str:
    """``genae_studio.sampling._chain`` -> ``genae_studio.sampling``: the package front that
    exports what a private module defines."""
    module, _, name = path.partition(":")
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            module = ".".join(parts[:i])
            break
    return f"{module}:{name}" if name else module


def _moved_names(module: str) -> dict[str, str]:
    prefix = module + ":"
    return {old[len(prefix):]: new for old, new in _NAMES.items() if old.startswith(prefix)}


def _forward(module: types.ModuleType, old_module: str) -> None:
    """Give ``module`` a ``__getattr__`` (and ``__dir__``) for the names that moved out of
    ``old_module``; a ``__getattr__`` it defines itself is asked first."""
    names = _moved_names(old_module)
    own_getattr = module.__dict__.get("__getattr__")

    def __getattr__(name: str):
        if own_getattr is not None:
            try:
                return own_getattr(name)
            except AttributeError:
                pass
        new = names.get(name)
        if new is None or name.startswith("__"):
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        new_module, _, new_name = new.partition(":")
        value = getattr(importlib.import_module(new_module), new_name)
        warnings.warn(message(f"{old_module}:{name}", new), DeprecationWarning, stacklevel=2)
        return value

    def __dir__() -> list[str]:
        return sorted({*module.__dict__, *names})

    module.__getattr__ = __getattr__
    module.__dir__ = __dir__
    module._moved_names_forwarded = True


class _Alias(importlib.abc.Loader):
    """Loads an old module path as the module object of its new path."""

    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        warnings.warn(message(spec.name, self.new), DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.new)
        self.spec = module.__spec__  # the import system sets the old path's spec on it
        return module

    def exec_module(self, module):
        module.__spec__ = self.spec


class _NamesOnly(importlib.abc.Loader):
    """Loads an old module that exists only as the names that moved out of it."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__doc__ = f"Old import path; see genae_studio.deprecated ({module.__name__})."
        _forward(module, module.__name__)


class _WithForwards(importlib.abc.Loader):
    """Runs a module that still exists, then adds the names that moved out of it."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _forward(module, module.__name__)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname in _MODULES:
            return importlib.machinery.ModuleSpec(fullname, _Alias(_MODULES[fullname]))
        if not any(old.startswith(fullname + ":") for old in _NAMES):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            return importlib.machinery.ModuleSpec(fullname, _NamesOnly())
        spec.loader = _WithForwards(spec.loader)
        return spec


def install() -> None:
    """Put the old paths' finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    # a module imported before the finder was installed still gets its moved names
    for old in {old.partition(":")[0] for old in _NAMES}:
        module = sys.modules.get(old)
        if module is not None and not hasattr(module, "_moved_names_forwarded"):
            _forward(module, old)
