"""Plugin: VAE and denoising VAE. The networks load (with torch) only when a model is built."""
from genae_studio import ModelSpec, VAEConfig, hookimpl

__all__ = ["VAEConfig", "make_dvae", "make_vae", "register_models"]


def make_vae(**hparams):
    from genae_studio import VAE

    return VAE(**hparams)


make_dvae = make_vae  # the denoising VAE is the VAE built from a spec with denoising=True


@hookimpl
def register_models(register):
    register(ModelSpec("vae", "Variational autoencoder (DCGAN networks)", make_vae,
                       config=VAEConfig()))
    register(ModelSpec("dvae", "Denoising VAE: the encoder sees x + N(0, noise_std^2 I)",
                       make_vae, config=VAEConfig(), denoising=True))
