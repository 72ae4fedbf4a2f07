"""genae-studio: generative autoencoders sampled with Markov chains.

Everything a plugin needs is importable from here (see docs/plugins.md)::

    from genae_studio import hookimpl, ModelSpec, DatasetSpec, VAE, ArrayDataset

Old import paths of names that moved are kept by genae_studio.deprecated.

Names other than the specs load on first use, so ``import genae_studio`` stays
cheap (no torch).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import deprecated
from .models import AAEConfig, ModelConfig, VAEConfig
from .registry import (
    DatasetLoader,
    DatasetSpec,
    ModelFactory,
    ModelSpec,
    SamplerFactory,
    SamplerSpec,
)

deprecated.install()  # old import paths keep working (genae_studio.deprecated)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "hookimpl": "genae_studio.hookspecs",
    "hookspec": "genae_studio.hookspecs",
    "GenerativeAutoencoder": "genae_studio.models",
    "StepFn": "genae_studio.models",
    "reconstruction_loss": "genae_studio.models",
    "DCGANEncoder": "genae_studio.models",
    "DCGANDecoder": "genae_studio.models",
    "VAE": "genae_studio.models",
    "AAE": "genae_studio.models",
    "ImageDataset": "genae_studio.data.base",
    "ArrayDataset": "genae_studio.data.base",
    "FileDataset": "genae_studio.data.base",
    "preprocess": "genae_studio.data.base",
    "resize_images": "genae_studio.data.base",
    "DataError": "genae_studio.errors",
    "PluginError": "genae_studio.errors",
    "UsageError": "genae_studio.errors",
    "check_model": "genae_studio.testing",
    "check_dataset": "genae_studio.testing",
    "check_sampler": "genae_studio.testing",
}

__all__ = [
    "AAE", "AAEConfig", "ArrayDataset", "DCGANDecoder", "DCGANEncoder", "DataError",
    "DatasetLoader", "VAE", "VAEConfig",
    "DatasetSpec", "FileDataset", "GenerativeAutoencoder", "ImageDataset", "ModelConfig",
    "ModelFactory", "ModelSpec", "PluginError", "SamplerFactory", "SamplerSpec", "StepFn",
    "UsageError",
    "__version__", "check_dataset", "check_model", "check_sampler", "hookimpl", "hookspec",
    "preprocess", "reconstruction_loss", "resize_images",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load lazily
    from .data.base import ArrayDataset, FileDataset, ImageDataset, preprocess, resize_images
    from .errors import DataError, PluginError, UsageError
    from .hookspecs import hookimpl, hookspec
    from .models import (
        DCGANDecoder,
        DCGANEncoder,
        GenerativeAutoencoder,
        StepFn,
        reconstruction_loss,
    )
    from .testing import check_dataset, check_model, check_sampler


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genae_studio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
