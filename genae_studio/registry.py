"""What plugins register: model types and datasets.

Plugins receive a ``register`` callable in their hooks and pass it these records.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """A model type.

    ``factory(**hparams)`` returns a ``genae_studio.model.GenerativeAutoencoder``;
    it receives ``defaults`` updated with what the user chose, always including
    ``image_size``, ``channels``, ``latent_dim``, ``width`` and ``noise_std``.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    denoising: bool = False
    plugin: str = ""  # filled in by the plugin manager


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: a built-in name (``detect`` is None) or an on-disk format.

    ``load(source, *, split, image_size, limit, seed)`` returns a
    ``genae_studio.data.ImageDataset``. ``source`` is None for built-in datasets
    and the path for on-disk formats. ``detect(path)`` says whether a path holds
    this format.
    """

    name: str
    description: str
    load: Callable[..., Any]
    detect: Callable[[Any], bool] | None = None
    channels: int | None = None
    image_size: int = 64
    plugin: str = ""
