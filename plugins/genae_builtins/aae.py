"""Plugin: AAE and denoising AAE. The networks load (with torch) only when a model is built."""
from dataclasses import dataclass

from genae_studio import ModelConfig, ModelSpec, hookimpl


@dataclass(frozen=True)
class AAEConfig(ModelConfig):
    """The AAE's hyperparameters and their defaults: ModelConfig's and the adversary's."""

    adversary_hidden: int = 512  # units of each of the adversary's two hidden layers
    adversary_dropout: float = 0.2


def make_aae(**hparams):
    from .aae_model import AAE

    return AAE(**hparams)


make_daae = make_aae  # the denoising AAE is the AAE built from a spec with denoising=True


@hookimpl
def register_models(register):
    register(ModelSpec("aae", "Adversarial autoencoder (DCGAN networks, FC adversary)",
                       make_aae, config=AAEConfig()))
    register(ModelSpec("daae", "Denoising AAE: the encoder sees x + N(0, noise_std^2 I)",
                       make_aae, config=AAEConfig(), denoising=True))
