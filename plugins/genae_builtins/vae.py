"""Plugin: VAE and denoising VAE. The networks load (with torch) only when a model is built."""
from genae_studio import ModelSpec, hookimpl

DEFAULTS = dict(latent_dim=200, width=64, noise_std=0.5)


def make_vae(**hparams):
    from .vae_model import VAE

    return VAE(**hparams)


def make_dvae(**hparams):
    from .vae_model import VAE

    return VAE(denoising=True, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("vae", "Variational autoencoder (DCGAN networks)", make_vae,
                       defaults=dict(DEFAULTS)))
    register(ModelSpec("dvae", "Denoising VAE: the encoder sees x + N(0, noise_std^2 I)",
                       make_dvae, defaults=dict(DEFAULTS), denoising=True))
