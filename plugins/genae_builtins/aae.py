"""Plugin: AAE and denoising AAE. The networks load (with torch) only when a model is built."""
from genae_studio import ModelSpec, hookimpl

DEFAULTS = dict(latent_dim=200, width=64, noise_std=0.5, adversary_hidden=512,
                adversary_dropout=0.2)


def make_aae(**hparams):
    from .aae_model import AAE

    return AAE(**hparams)


def make_daae(**hparams):
    from .aae_model import AAE

    return AAE(denoising=True, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("aae", "Adversarial autoencoder (DCGAN networks, FC adversary)",
                       make_aae, defaults=dict(DEFAULTS)))
    register(ModelSpec("daae", "Denoising AAE: the encoder sees x + N(0, noise_std^2 I)",
                       make_daae, defaults=dict(DEFAULTS), denoising=True))
