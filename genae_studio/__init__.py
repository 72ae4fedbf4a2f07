"""genae-studio: generative autoencoders sampled with Markov chains.

Everything a plugin needs is importable from here (see docs/plugins.md)::

    from genae_studio import hookimpl, ModelSpec, DatasetSpec, VAE, ArrayDataset

Names other than the specs load on first use, so ``import genae_studio`` stays
cheap (no torch).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .registry import (
    DatasetLoader,
    DatasetSpec,
    ModelConfig,
    ModelFactory,
    ModelSpec,
    SamplerFactory,
    SamplerSpec,
)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "hookimpl": "genae_studio.hookspecs",
    "hookspec": "genae_studio.hookspecs",
    "GenerativeAutoencoder": "genae_studio.model",
    "StepFn": "genae_studio.model",
    "reconstruction_loss": "genae_studio.model",
    "DCGANEncoder": "genae_studio.nets",
    "DCGANDecoder": "genae_studio.nets",
    "ImageDataset": "genae_studio.data.base",
    "ArrayDataset": "genae_studio.data.base",
    "FileDataset": "genae_studio.data.base",
    "preprocess": "genae_studio.data.base",
    "resize_images": "genae_studio.data.base",
    "DataError": "genae_studio.errors",
    "PluginError": "genae_studio.errors",
    "VAE": "genae_builtins.vae_model",  # loaded by name: the plugins sit above the core
    "AAE": "genae_builtins.aae_model",
    "check_model": "genae_studio.testing",
    "check_dataset": "genae_studio.testing",
    "check_sampler": "genae_studio.testing",
}

__all__ = [
    "AAE", "VAE", "ArrayDataset", "DCGANDecoder", "DCGANEncoder", "DataError", "DatasetLoader",
    "DatasetSpec", "FileDataset", "GenerativeAutoencoder", "ImageDataset", "ModelConfig",
    "ModelFactory", "ModelSpec", "PluginError", "SamplerFactory", "SamplerSpec", "StepFn",
    "__version__", "check_dataset", "check_model", "check_sampler", "hookimpl", "hookspec",
    "preprocess", "reconstruction_loss", "resize_images",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load lazily
    # (VAE and AAE come from the built-in plugins, which the core loads by name only)
    from .data.base import ArrayDataset, FileDataset, ImageDataset, preprocess, resize_images
    from .errors import DataError, PluginError
    from .hookspecs import hookimpl, hookspec
    from .model import GenerativeAutoencoder, StepFn, reconstruction_loss
    from .nets import DCGANDecoder, DCGANEncoder
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
