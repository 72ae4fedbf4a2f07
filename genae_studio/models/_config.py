"""The models' hyperparameters: typed configs with the paper's defaults (no torch).

A plugin registers its model with one of these (``ModelSpec(config=...)``); the built-in
``VAE`` and ``AAE`` take their defaults from them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """The hyperparameters every model factory receives (with ``image_size`` and ``channels``).

    The defaults are the paper's. A model with more hyperparameters subclasses this
    dataclass (see ``genae_builtins.aae.AAEConfig``).
    """

    latent_dim: int = 200  # size of z
    width: int = 64  # filters of the first convolution (DCGAN: 64)
    noise_std: float = 0.5  # corruption std of denoising models (variance 0.25, as the paper)


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    """The VAE's hyperparameters and their defaults (the paper's): ModelConfig's and the
    weight of the KL term."""

    # loss = reconstruction + kl_weight * KL; 1.0 is the ELBO (the paper), > 1 a beta-VAE
    kl_weight: float = 1.0


@dataclass(frozen=True)
class AAEConfig(ModelConfig):
    """The AAE's hyperparameters and their defaults: ModelConfig's and the adversary's."""

    adversary_hidden: int = 512  # units of each of the adversary's two hidden layers
    adversary_dropout: float = 0.2
    # The adversarial term's weight relative to the reference code's (Kaixhin/Autoencoders,
    # which the paper cites): 1.0 weighs the per-element means of reconstruction and
    # adversarial loss 1:1. Releases before 0.2 used 1 / (C*H*W): 1/12,288 at 64x64x3.
    adversarial_weight: float = 1.0
