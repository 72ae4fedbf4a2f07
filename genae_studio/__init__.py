"""genae-studio: generative autoencoders sampled with Markov chains.

Plugins import ``hookimpl`` from here::

    from genae_studio import hookimpl, ModelSpec
"""
from .registry import DatasetSpec, ModelConfig, ModelSpec

__version__ = "0.1.0"
__all__ = ["DatasetSpec", "ModelConfig", "ModelSpec", "hookimpl", "__version__"]


def __getattr__(name):
    # Loaded on first use so ``import genae_studio`` stays cheap.
    if name == "hookimpl":
        from .plugins import hookimpl

        return hookimpl
    raise AttributeError(name)
