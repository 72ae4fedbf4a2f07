"""A model's own settings: the fields of its config (a ``ModelConfig`` dataclass), set by the
user (``train --set kl_weight=4``, the studio's Training panel, ``TrainSettings.model_settings``).

Values given as text are parsed with the field's type (bool, int, float, str, ``X | None``);
values given as Python values are checked against it. Plain Python, no torch: the studio
builds its Training panel's fields from ``setting_fields`` on its GUI thread.
"""
from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import UsageError

# Set from the data (``--image-size`` and the dataset's channels), never by --set.
FROM_DATA = ("image_size", "channels")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_NONE = ("none", "null")


@dataclass(frozen=True)
class SettingField:
    """One setting of a model: its name, its type (``bool``, ``int``, ``float``, ``str``, or
    ``object`` for any JSON value), whether it may be None, and its default."""

    name: str
    kind: type
    default: Any
    optional: bool = False

    @property
    def type_name(self) -> str:
        name = "JSON value" if self.kind is object else self.kind.__name__
        return f"{name} or none" if self.optional else name


def setting_fields(config, defaults: Mapping[str, Any] | None = None) -> dict[str, SettingField]:
    """The settings of a model whose defaults are ``config`` (a ModelConfig dataclass) and
    the dict ``defaults`` (keys of an older plugin's ``defaults`` dict that its config lacks
    are settings too, typed by their default value), in the config's field order."""
    hints = _type_hints(type(config))
    found: dict[str, SettingField] = {}
    for f in fields(config):
        if f.name not in FROM_DATA:
            default = getattr(config, f.name)
            kind, optional = _kind(hints.get(f.name), default)
            found[f.name] = SettingField(f.name, kind, default, optional)
    for name, default in (defaults or {}).items():
        if name not in found and name not in FROM_DATA:
            kind, optional = _kind(None, default)
            found[name] = SettingField(name, kind, default, optional)
    return found


def parse_assignments(pairs: Iterable[str], option: str = "--set") -> dict[str, str]:
    """``["beta=1.0", ...]`` -> ``{"beta": "1.0"}`` (a later pair wins); a pair without ``=``
    or with an empty key is a UsageError."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} {pair!r}: expected KEY=VALUE, e.g. {option} "
                             "latent_dim=32")
        result[key.strip()] = value.strip()
    return result


def check_settings(model: str, known: Mapping[str, SettingField],
                   values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as the model's typed settings: text parsed with each field's type, other
    values checked against it. An unknown key or a bad value is a UsageError (one line)
    that names the model's settings."""
    checked = {}
    for key, value in values.items():
        field = known.get(key)
        if field is None:
            names = ", ".join(known) or "none"
            raise UsageError(f"--set {key}: model {model!r} has no setting {key!r} (its "
                             f"settings: {names})")
        try:
            checked[key] = convert(value, field)
        except ValueError as exc:
            raise UsageError(f"--set {key}={value}: {exc} (model {model!r}, setting {key}: "
                             f"{field.type_name}, default {field.default!r})") from None
    return checked


def convert(value: Any, field: SettingField) -> Any:
    """One value for ``field``: text parsed, other values checked (ValueError saying why)."""
    if isinstance(value, str) and field.kind is not str:
        return _parse(value, field)
    if value is None or (field.optional and isinstance(value, str)
                         and value.strip().lower() in _NONE):
        if field.optional:
            return None
        raise ValueError("none is not allowed")
    if field.kind is object:  # any JSON value
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ValueError("not a JSON value") from None
        return value
    if isinstance(value, bool) != (field.kind is bool) or not isinstance(
            value, (int, float) if field.kind is float else field.kind):
        raise ValueError(f"expected {field.type_name}, got {type(value).__name__}")
    return _finite(float(value)) if field.kind is float else value


def _parse(text: str, field: SettingField) -> Any:
    low = text.strip().lower()
    if field.optional and low in _NONE:
        return None
    kind = field.kind
    if kind is bool:
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected true or false")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("not an integer") from None
    if kind is float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        return _finite(number)
    try:  # any JSON value; plain text when it is not JSON
        return json.loads(text)
    except ValueError:
        return text


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _type_hints(cls) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - names a plugin's module no longer holds: use defaults
        return {}


def _kind(hint, default) -> tuple[type, bool]:
    """(bool | int | float | str | object, optional) from a type hint, else the default."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else None
    if hint in (bool, int, float, str):
        return hint, optional
    if hint is None and default is not None:
        for kind in (bool, int, float, str):  # bool before int: True is an int
            if isinstance(default, kind):
                return kind, optional
    return object, optional or default is None
