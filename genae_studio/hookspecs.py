"""Hook specifications of genae-studio.

A plugin is a module (or object) with functions decorated by
``genae_studio.hookimpl``. Each hook receives a ``register`` callable, so one
plugin can contribute several models or datasets.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("genae_studio")


@hookspec
def register_models(register):
    """Register model types: call ``register(ModelSpec(...))`` once per model."""


@hookspec
def register_datasets(register):
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset or format."""
