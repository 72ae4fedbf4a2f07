"""Models: the interface every plugin model implements, its hyperparameters, the DCGAN
networks, the built-in VAE and AAE, and the compiled plans the chain runs the networks with.

- ``GenerativeAutoencoder``: encoder Q(Z|X), decoder P(X|Z), corruption C(X~|X);
- ``ModelConfig``, ``VAEConfig``, ``AAEConfig``: hyperparameters and their defaults;
- ``DCGANEncoder``, ``DCGANDecoder``, ``Adversary``: the paper's networks;
- ``VAE``, ``AAE``: the built-in models (``genae_builtins`` registers them; plugins subclass
  them);
- ``cached_plan``: the DCGAN networks as compiled plans (faster on CPUs, same numbers).

The configs load at once; every other name loads torch on first use, so registering a
model (``genae-studio plugins``) imports no torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._config import AAEConfig, ModelConfig, VAEConfig

# name -> the internal module that defines it (loaded on first use)
_LAZY = {
    **dict.fromkeys(["GenerativeAutoencoder", "StepFn", "reconstruction_loss"], "._base"),
    **dict.fromkeys(["Adversary", "DCGANDecoder", "DCGANEncoder"], "._nets"),
    **dict.fromkeys(["NetworkPlans", "cached_plan"], "._compiled_plans"),
    "VAE": "._vae",
    "AAE": "._aae",
}

__all__ = ["AAE", "AAEConfig", "VAE", "VAEConfig", "Adversary", "DCGANDecoder", "DCGANEncoder",
           "GenerativeAutoencoder", "ModelConfig", "NetworkPlans", "StepFn", "cached_plan",
           "reconstruction_loss"]

if TYPE_CHECKING:  # for type checkers, IDEs and import-linter; at run time these load lazily
    from ._aae import AAE
    from ._base import GenerativeAutoencoder, StepFn, reconstruction_loss
    from ._compiled_plans import NetworkPlans, cached_plan
    from ._nets import Adversary, DCGANDecoder, DCGANEncoder
    from ._vae import VAE


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
