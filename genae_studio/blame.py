"""Which plugin an exception came from, so that a plugin's bug is reported as the plugin's.

The plugin loader tells ``plugin_loaded`` where each third-party plugin's code lives (its
file, or its top-level package's folder); ``ModelSpec.build``, the dataset resolver and the
sampler builder tell ``used`` which model, dataset or sampler runs now. ``describe(exc)``
then reads the traceback: the innermost frame that runs a plugin's code, or failing that
one that runs a method of a model a plugin built (a plugin's model may be the tool's class
with the plugin's networks, whose failures surface in torch), names the plugin and what of
it ran. The built-in plugins are the tool's own code: their failures stay internal errors.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass

from .errors import one_line

TOOL_PACKAGES = ("genae_studio", "genae_builtins")


@dataclass(frozen=True)
class Subject:
    """A plugin and, when known, its model, dataset or sampler that ran."""

    plugin: str
    kind: str = ""  # "model", "dataset", "sampler" or "" (unknown)
    name: str = ""

    def __str__(self) -> str:
        return f"plugin {self.plugin}, {self.kind} {self.name!r}" if self.kind \
            else f"plugin {self.plugin}"


_roots: dict[str, str] = {}  # a plugin's file or package folder (real path) -> plugin name
_load_args: dict[str, str] = {}  # plugin name -> the --plugin argument that loaded it
_subjects: list[tuple[Subject, frozenset[str]]] = []  # what ran, with its files; latest last
_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its Subject


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _is_tool(module_name: str) -> bool:
    return module_name.split(".")[0] in TOOL_PACKAGES


def _module_roots(module) -> list[str]:
    """Where a plugin module's code lives: its top-level package's folders, or its file."""
    import sys

    name = getattr(module, "__name__", "") or ""
    top = sys.modules.get(name.split(".")[0]) if getattr(module, "__package__", "") else None
    paths = list(getattr(top, "__path__", None) or []) if top is not None else []
    if not paths and isinstance(getattr(module, "__file__", None), str):
        paths = [module.__file__]
    return [_real(p) for p in paths]


def plugin_loaded(name: str, module, load_arg: str | None = None) -> None:
    """Remember where plugin ``name``'s code lives (built-in plugins are skipped), and the
    ``--plugin`` argument that loaded it, if any."""
    if _is_tool(getattr(module, "__name__", "") or ""):
        return
    for root in _module_roots(module):
        _roots[root] = name
    if load_arg is not None:
        _load_args[name] = load_arg
    else:
        _load_args.pop(name, None)


def third_party(plugin: str) -> bool:
    """Whether ``plugin`` is a loaded plugin other than the built-in ones."""
    return bool(plugin) and plugin in set(_roots.values())


def _files_of(*objects) -> frozenset[str]:
    import inspect

    files = set()
    for obj in objects:
        target = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
        try:
            file = inspect.getsourcefile(target) or inspect.getfile(target)
        except (TypeError, OSError):
            continue
        files.add(_real(file))
    return frozenset(files)


def used(plugin: str, kind: str, name: str, maker, made=None) -> None:
    """Spec ``name`` of ``plugin`` ran ``maker`` (its factory, loader or build) and got
    ``made``; a model made by a third-party plugin is remembered as that plugin's."""
    if not third_party(plugin):
        return
    subject = Subject(plugin, kind, name)
    _subjects.append((subject, _files_of(maker, *([made] if made is not None else []))))
    del _subjects[:-32]
    if kind == "model" and made is not None:
        try:
            _models[made] = subject
        except TypeError:  # not weak-referenceable
            pass
        for root in _module_roots_of_class(made):
            _roots.setdefault(root, plugin)


def _module_roots_of_class(obj) -> list[str]:
    import sys

    module = sys.modules.get(type(obj).__module__)
    return [] if module is None or _is_tool(module.__name__) else _module_roots(module)


def _plugin_of(file: str) -> str | None:
    path = _real(file)
    for root, plugin in _roots.items():
        if path == root or path.startswith(root + os.sep):
            return plugin
    return None


def _subject_for(plugin: str, file: str | None) -> Subject:
    mine = [(s, files) for s, files in reversed(_subjects) if s.plugin == plugin]
    if file is not None:
        path = _real(file)
        for subject, files in mine:
            if path in files:
                return subject
    return mine[0][0] if mine else Subject(plugin)


def _frames_and_lines(exc: BaseException) -> list:
    """(frame, line) of the traceback, innermost first."""
    found, tb = [], exc.__traceback__
    while tb is not None:
        found.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return found[::-1]


def _frames(exc: BaseException) -> list:
    """The traceback's frames, innermost first."""
    return [frame for frame, _ in _frames_and_lines(exc)]


def find(exc: BaseException) -> Subject | None:
    """The plugin (and what of it) whose code raised ``exc``, or None for the tool's own."""
    if not _roots:
        return None
    frames = _frames(exc)
    for frame in frames:
        plugin = _plugin_of(frame.f_code.co_filename)
        if plugin is not None:
            return _subject_for(plugin, frame.f_code.co_filename)
    for frame in frames:
        owner = frame.f_locals.get("self")
        try:
            subject = _models.get(owner)
        except TypeError:
            continue
        if subject is not None:
            return subject
    return None


def location(exc: BaseException, plugin: str) -> str:
    """``" (at file.py:LINE)"`` for the innermost frame of ``plugin``'s code in ``exc``'s
    traceback, or ""."""
    for frame, line in _frames_and_lines(exc):
        if _plugin_of(frame.f_code.co_filename) == plugin:
            return f" (at {os.path.basename(frame.f_code.co_filename)}:{line})"
    return ""


def check_command(subject: Subject) -> str:
    """The command that checks the subject against the plugin contract."""
    load = _load_args.get(subject.plugin)
    loading = f"--plugin {load} " if load else ""
    return f"genae-studio {loading}plugins --check {subject.name or '...'}"


def describe(exc: BaseException) -> str | None:
    """``plugin P, model M: Type: message; run `genae-studio plugins --check M``` when a
    plugin's code raised ``exc``, else None."""
    subject = find(exc)
    if subject is None:
        return None
    return f"{subject}: {one_line(exc)}; run `{check_command(subject)}`"
