"""Plugin discovery and loading, modelled on pytest's ``-p``.

Built-in plugins are loaded exactly like third-party ones. Third-party plugins
come from the entry-point group ``genae_studio`` (unless
``GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD`` is set) and from ``--plugin NAME``,
where NAME is an entry-point name, an importable module or a ``.py`` path.
``--plugin no:NAME`` blocks a plugin by entry-point or module name. A module
reached by several of these ways is one plugin. A plugin that fails to import or
raises inside a hook (``sys.exit()`` and ``os._exit()`` included) is recorded in
``failures``, one line each, and skipped.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from . import blame, hookspecs
from .env import AUTOLOAD_ENV, plugin_autoload
from .errors import PluginError, plugin_code
from .hookspecs import PROJECT, hookimpl
from .registry import DatasetSpec, ModelSpec, SamplerSpec, one_line

__all__ = ["AUTOLOAD_ENV", "BUILTIN_PLUGINS", "PluginFailure", "PluginHost", "PluginSource",
           "hookimpl", "load_hint", "load_plugins"]

HOOKS = tuple(name for name in vars(hookspecs) if name.startswith("register_"))

# Module names of the plugins that ship with genae-studio (folder plugins/).
BUILTIN_PLUGINS = {
    "vae": "genae_builtins.vae",
    "aae": "genae_builtins.aae",
    "datasets": "genae_builtins.datasets",
    "samplers": "genae_builtins.samplers",
}
SPECS = {"register_models": ModelSpec, "register_datasets": DatasetSpec,
         "register_samplers": SamplerSpec}


@dataclass
class PluginFailure:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.name}: {self.reason}"


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from: ``kind`` is "built-in", "entry point", "module" (``--plugin
    MODULE``) or "file" (``--plugin path/file.py``). Runs record it (config.json's
    ``plugin_source``) so that a missing plugin is named with how to get it back."""

    kind: str
    module: str = ""
    path: str = ""  # a file plugin's absolute path
    entry_point: str = ""
    distribution: str = ""
    version: str = ""

    def __str__(self) -> str:
        if self.kind == "entry point":
            dist = f" of {self.distribution} {self.version}".rstrip() if self.distribution \
                else ""
            return f"entry point {self.entry_point}{dist} (module {self.module})"
        if self.kind == "file":
            return f"file {self.path}"
        return f"{self.kind} {self.module}"

    def to_json(self) -> dict:
        return {k: v for k, v in vars(self).items() if v}

    @classmethod
    def of_entry_point(cls, ep) -> PluginSource:
        dist = getattr(ep, "dist", None)
        return cls("entry point", module=ep.module, entry_point=ep.name,
                   distribution=getattr(dist, "name", "") or "",
                   version=getattr(dist, "version", "") or "")


def load_hint(plugin: str, recorded: dict) -> str:
    """How to load a run's plugin again, from what its config.json recorded."""
    kind = recorded.get("kind")
    if kind == "file" and recorded.get("path"):
        gone = "" if Path(recorded["path"]).is_file() else " (that file is gone now)"
        return f"load it with --plugin {recorded['path']}{gone}"
    if kind == "entry point" and recorded.get("distribution"):
        pin = f"=={recorded['version']}" if recorded.get("version") else ""
        return (f"install it (pip install {recorded['distribution']}{pin}) or load its "
                f"module with --plugin {recorded.get('module', plugin)}")
    if recorded.get("module"):
        return f"load it with --plugin {recorded['module']}"
    return f"load it with --plugin {plugin}"


@dataclass
class PluginHost:
    """The loaded plugins and what they registered."""

    manager: pluggy.PluginManager
    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    samplers: dict[str, SamplerSpec] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    sources: dict[str, PluginSource] = field(default_factory=dict)  # plugin -> where from
    notes: list[str] = field(default_factory=list)  # one line each, e.g. a shadowed install

    def plugin_names(self) -> list[str]:
        return [name for name, plugin in self.manager.list_name_plugin() if plugin is not None]

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise PluginError(f"unknown model {name!r} (loaded models: {known})"
                              f"{self.failure_hint()}") from None

    def failure_hint(self) -> str:
        """"; the likely cause: plugin P failed (why)" when plugins failed, else ""."""
        if not self.failures:
            return ""
        return "; the likely cause: " + "; ".join(
            f"plugin {f.name} failed ({f.reason})" for f in self.failures)

    def collect(self, on_loading: Callable[[str, str], None] | None = None) -> None:
        """Call each registration hook plugin by plugin, so one failure skips one plugin.
        ``on_loading(plugin, what)`` is called before each hook runs."""
        self.models.clear()
        self.datasets.clear()
        self.samplers.clear()
        for hook_name, target in (("register_models", self.models),
                                  ("register_datasets", self.datasets),
                                  ("register_samplers", self.samplers)):
            hook = getattr(self.manager.hook, hook_name)
            for impl in hook.get_hookimpls():  # in registration order
                found: dict = {}
                if on_loading:
                    on_loading(impl.plugin_name, f"calling {hook_name}")
                try:
                    with plugin_code(impl.plugin_name):
                        impl.function(register=_registrar(found, impl.plugin_name, hook_name))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # sys.exit() too: one plugin must not end us
                    self.failures.append(PluginFailure(
                        impl.plugin_name, f"{hook_name} raised {one_line(exc)}"
                                          f"{blame.location(exc, impl.plugin_name)}"))
                    continue
                self._keep(impl.plugin_name, found, target)

    def _keep(self, plugin: str, found: dict, target: dict) -> None:
        """Add what ``plugin`` registered. A name taken already is reported and the first
        kept, except that a plugin loaded explicitly (``--plugin`` file or module) takes it
        from an installed one (an entry point), said in one note: explicit beats installed."""
        for name, spec in found.items():
            old = target.get(name)
            if old is None:
                target[name] = spec
            elif self._explicit_over_installed(plugin, old.plugin):
                target[name] = spec
                self.notes.append(f"{name!r} of plugin {plugin} ({self.sources[plugin]}) "
                                  f"replaces the one of the installed plugin {old.plugin}")
            else:
                self.failures.append(PluginFailure(
                    plugin, f"{name!r} is already registered by plugin {old.plugin}; kept "
                            "that one"))

    def _explicit_over_installed(self, new: str, old: str) -> bool:
        new_source, old_source = self.sources.get(new), self.sources.get(old)
        return (new_source is not None and new_source.kind in ("file", "module")
                and old_source is not None and old_source.kind == "entry point")


def _registrar(found: dict, plugin_name: str, hook_name: str):
    expected = SPECS[hook_name]

    def register(spec):
        if not isinstance(spec, expected):
            raise TypeError(f"register() takes a {expected.__name__}, got {type(spec).__name__}")
        if not spec.name or not isinstance(spec.name, str):
            raise ValueError("a registered name must be a non-empty string")
        maker = next((getattr(spec, a) for a in ("factory", "load", "build") if hasattr(spec, a)),
                     None)
        if not callable(maker):
            raise TypeError(f"{spec.name!r}: factory/load/build must be callable")
        found[spec.name] = replace(spec, plugin=plugin_name)

    return register


def _same_file(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, TypeError, ValueError):
        return False


def _loaded_file(manager: pluggy.PluginManager, plugin) -> bool:
    """Whether a registered plugin comes from the same file (one module imported twice)."""
    file = getattr(plugin, "__file__", None)
    if not isinstance(file, str):
        return False
    return any(isinstance(getattr(other, "__file__", None), str)
               and os.path.basename(other.__file__) == os.path.basename(file)
               and _same_file(other.__file__, file) for other in manager.get_plugins())


def _import_by_path(path: Path):
    """Import a .py file; a file already imported (as a module or a plugin) is reused."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.basename(file) == path.name \
                and _same_file(file, path):
            return module
    module_name = f"genae_studio_plugin_{path.stem}"
    if module_name in sys.modules:  # another file with this name: keep both apart
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        module_name = f"{module_name}_{digest}"
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


def _unknown_hooks(manager: pluggy.PluginManager, plugin) -> list[str]:
    """Names of the plugin's hookimpls that match no hook (typos like register_modles)."""
    return sorted(name for name in dir(plugin)
                  if name not in HOOKS and manager.parse_hookimpl_opts(plugin, name) is not None)


def _arguments(function) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def _mismatch(plugin) -> str:
    """Which hookimpl asks for arguments its hook does not pass."""
    for hook in HOOKS:
        function = getattr(plugin, hook, None)
        if function is None:
            continue
        wanted = _arguments(function)
        passed = _arguments(getattr(hookspecs, hook))
        extra = sorted(set(wanted) - set(passed))
        if extra:
            return (f"hookimpl {hook}({', '.join(wanted)}) takes arguments the hook does not "
                    f"pass: {', '.join(extra)} ({hook} passes: {', '.join(passed)})")
    return "a hookimpl does not match its hook"


class _Loader:
    """Imports plugins and registers them with the host's manager, one at a time; a plugin
    that fails to import or register is recorded in ``host.failures`` and skipped."""

    def __init__(self, host: PluginHost, blocked: set[str],
                 on_loading: Callable[[str, str], None] | None = None):
        self.host, self.manager, self.blocked = host, host.manager, blocked
        self.on_loading = on_loading

    def fail(self, name: str, reason: str) -> None:
        self.host.failures.append(PluginFailure(name, reason))

    def add(self, name: str, load, *aliases: str, source: PluginSource,
            load_arg: str | None = None) -> None:
        """Register what ``load()`` returns as ``name``, from ``source``; ``aliases`` block
        it too; ``load_arg`` is the ``--plugin`` argument that asked for it."""
        if self.blocked & {name, *aliases} or self.manager.has_plugin(name):
            return
        if self.on_loading:
            self.on_loading(name, "importing")
        try:
            with plugin_code(name):  # os._exit() at import becomes this plugin's failure
                plugin = load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit() at import too
            self.fail(name, f"error importing plugin: {one_line(exc)}")
            return
        if self._known(plugin) or not self._register(name, plugin):
            return
        self.host.sources[name] = source
        blame.plugin_loaded(name, plugin, load_arg)
        for hook in _unknown_hooks(self.manager, plugin):
            self.fail(name, f"hookimpl {hook!r} matches no hook (hooks: {', '.join(HOOKS)})")

    def _known(self, plugin) -> bool:
        """Whether ``plugin`` is blocked or already registered (one module reached another way
        is one plugin)."""
        return (self.manager.is_registered(plugin)
                or getattr(plugin, "__name__", None) in self.blocked
                or _loaded_file(self.manager, plugin))

    def _register(self, name: str, plugin) -> bool:
        try:
            self.manager.register(plugin, name=name)
        except KeyboardInterrupt:
            raise
        except pluggy.PluginValidationError:
            self.fail(name, f"invalid plugin: {_mismatch(plugin)}")
            return False
        except BaseException as exc:
            self.fail(name, f"invalid plugin: {one_line(exc)}")
            return False
        return True

    def add_requested(self, arg: str, eps: dict, shadowed: dict) -> None:
        """``--plugin ARG``: a .py path, an entry-point name or a module name. A file that is
        an installed plugin's module (``shadowed``: file -> entry point) takes its name."""
        if arg.endswith(".py"):
            path = Path(arg)
            if not path.is_file():
                self.fail(arg, "no such plugin file")
                return
            source = PluginSource("file", path=str(path.resolve()))
            installed = shadowed.get(arg)
            if installed is not None:
                self.add(installed.name, lambda: _import_by_path(path), arg, source=source,
                         load_arg=arg)
                return
            # A file named like a loaded or blocked plugin (vae.py) is named by its path.
            taken = self.manager.has_plugin(path.stem) or path.stem in self.blocked
            self.add(arg if taken else path.stem, lambda: _import_by_path(path), arg,
                     source=source, load_arg=arg)
        elif arg in eps:
            self.add(arg, eps[arg].load, eps[arg].module,
                     source=PluginSource.of_entry_point(eps[arg]), load_arg=arg)
        else:
            self.add(arg, lambda: importlib.import_module(arg), arg,
                     source=PluginSource("module", module=arg), load_arg=arg)


def load_plugins(plugin_args: list[str] | tuple[str, ...] = (), *,
                 autoload: bool | None = None,
                 on_loading: Callable[[str, str], None] | None = None) -> PluginHost:
    """Load built-in, entry-point and ``--plugin`` plugins and collect their registrations.
    ``on_loading(plugin, what)`` is told before each plugin is imported and each hook
    called (``plugins --check`` names a plugin that ends its process this way)."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager)

    blocked = {arg[3:] for arg in plugin_args if arg.startswith("no:")}
    for name in blocked:
        manager.set_blocked(name)
    if autoload is None:
        autoload = plugin_autoload()
    loader = _Loader(host, blocked, on_loading)
    for name, module in BUILTIN_PLUGINS.items():
        loader.add(name, lambda module=module: importlib.import_module(module), module,
                   source=PluginSource("built-in", module=module))
    eps = _entry_points()
    requested = [arg for arg in plugin_args if not arg.startswith("no:")]
    shadowed = _shadowed(requested, {name: ep for name, ep in eps.items()
                                     if not blocked & {name, ep.module}}) if autoload else {}
    for arg, ep in shadowed.items():
        host.notes.append(f"plugin {ep.name}: loading {arg} (--plugin) instead of the "
                          f"installed {PluginSource.of_entry_point(ep)}")
    if autoload:
        skipped = {ep.name for ep in shadowed.values()}
        for name, ep in eps.items():
            if name not in skipped:
                loader.add(name, ep.load, ep.module, source=PluginSource.of_entry_point(ep))
    for arg in requested:
        loader.add_requested(arg, eps, shadowed)
    host.collect(on_loading)
    return host


def _module_path(path: Path) -> list[str]:
    """The dotted module name a file would have, as parts, as long as its folders go."""
    path = path.resolve()
    return list(path.parent.parts) if path.name == "__init__.py" \
        else [*path.parent.parts, path.stem]


def _shadowed(requested: list[str], eps: dict) -> dict:
    """``--plugin file.py`` arguments that are another copy of an installed plugin's module
    (its dotted name ends the file's path, and the installed module is another file):
    file argument -> the entry point, which is then not loaded (the file is being edited)."""
    found = {}
    for arg in requested:
        if not arg.endswith(".py") or not Path(arg).is_file():
            continue
        parts = _module_path(Path(arg))
        for ep in eps.values():
            dotted = ep.module.split(".")
            if parts[-len(dotted):] != dotted:
                continue
            try:
                spec = importlib.util.find_spec(ep.module)
            except (ImportError, ValueError):
                spec = None
            origin = getattr(spec, "origin", None)
            if origin is None or not _same_file(origin, arg):
                found[arg] = ep
                break
    return found
