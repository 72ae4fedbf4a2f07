"""Plugin discovery and loading, modelled on pytest's ``-p``.

Built-in plugins are loaded exactly like third-party ones. Third-party plugins
come from the entry-point group ``genae_studio`` (unless
``GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD`` is set) and from ``--plugin NAME``,
where NAME is an entry-point name, an importable module or a ``.py`` path.
``--plugin no:NAME`` blocks a plugin. A plugin that fails to import or raises
inside a hook is recorded in ``failures`` and skipped.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import DatasetSpec, ModelSpec

PROJECT = "genae_studio"
hookimpl = pluggy.HookimplMarker(PROJECT)
AUTOLOAD_ENV = "GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD"

# Module names of the plugins that ship with genae-studio (folder plugins/).
BUILTIN_PLUGINS = {
    "vae": "genae_builtins.vae",
    "aae": "genae_builtins.aae",
    "datasets": "genae_builtins.datasets",
}


@dataclass
class PluginFailure:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.name}: {self.reason}"


@dataclass
class PluginHost:
    """The loaded plugins and what they registered."""

    manager: pluggy.PluginManager
    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def plugin_names(self) -> list[str]:
        return [name for name, plugin in self.manager.list_name_plugin() if plugin is not None]

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise PluginError(f"unknown model {name!r} (loaded models: {known})") from None

    def collect(self) -> None:
        """Call each registration hook plugin by plugin, so one failure skips one plugin."""
        self.models.clear()
        self.datasets.clear()
        for hook_name, target in (("register_models", self.models),
                                  ("register_datasets", self.datasets)):
            hook = getattr(self.manager.hook, hook_name)
            for impl in hook.get_hookimpls():  # in registration order
                found: dict = {}
                try:
                    impl.function(register=_registrar(found, impl.plugin_name, hook_name))
                except Exception as exc:  # a broken plugin must not break the others
                    self.failures.append(PluginFailure(
                        impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}"))
                    continue
                for name, spec in found.items():
                    if name in target:
                        self.failures.append(PluginFailure(
                            impl.plugin_name, f"{name!r} is already registered by plugin "
                            f"{target[name].plugin}; kept that one"))
                    else:
                        target[name] = spec


def _registrar(found: dict, plugin_name: str, hook_name: str):
    expected = ModelSpec if hook_name == "register_models" else DatasetSpec

    def register(spec):
        if not isinstance(spec, expected):
            raise TypeError(f"register() takes a {expected.__name__}, got {type(spec).__name__}")
        if not spec.name or not isinstance(spec.name, str):
            raise ValueError("a registered name must be a non-empty string")
        if not callable(getattr(spec, "factory", None) or getattr(spec, "load", None)):
            raise TypeError(f"{spec.name!r}: factory/load must be callable")
        found[spec.name] = replace(spec, plugin=plugin_name)

    return register


def _import_by_path(path: Path):
    module_name = f"genae_studio_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=PROJECT)}


def load_plugins(plugin_args: list[str] | tuple[str, ...] = (), *,
                 autoload: bool | None = None) -> PluginHost:
    """Load built-in, entry-point and ``--plugin`` plugins and collect their registrations."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager)

    blocked = {arg[3:] for arg in plugin_args if arg.startswith("no:")}
    requested = [arg for arg in plugin_args if not arg.startswith("no:")]
    for name in blocked:
        manager.set_blocked(name)
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)

    def add(name: str, load) -> None:
        if name in blocked or manager.has_plugin(name) or manager.is_blocked(name):
            return
        try:
            plugin = load()
            manager.register(plugin, name=name)
        except Exception as exc:
            host.failures.append(PluginFailure(
                name, f"error importing plugin: {type(exc).__name__}: {exc}"))

    for name, module in BUILTIN_PLUGINS.items():
        add(name, lambda module=module: importlib.import_module(module))

    eps = _entry_points()
    if autoload:
        for name, ep in eps.items():
            add(name, ep.load)

    for arg in requested:
        path = Path(arg)
        if arg.endswith(".py"):
            if not path.is_file():
                host.failures.append(PluginFailure(arg, "no such plugin file"))
                continue
            add(path.stem, lambda path=path: _import_by_path(path))
        elif arg in eps:
            add(arg, eps[arg].load)
        else:
            add(arg, lambda arg=arg: importlib.import_module(arg))

    host.collect()
    return host
