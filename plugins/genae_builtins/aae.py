"""Plugin: AAE and denoising AAE. The networks load (with torch) only when a model is built."""
from genae_studio import AAEConfig, ModelSpec, hookimpl

__all__ = ["AAEConfig", "make_aae", "make_daae", "register_models"]


def make_aae(**hparams):
    from genae_studio import AAE

    return AAE(**hparams)


make_daae = make_aae  # the denoising AAE is the AAE built from a spec with denoising=True


@hookimpl
def register_models(register):
    register(ModelSpec("aae", "Adversarial autoencoder (DCGAN networks, FC adversary)",
                       make_aae, config=AAEConfig()))
    register(ModelSpec("daae", "Denoising AAE: the encoder sees x + N(0, noise_std^2 I)",
                       make_aae, config=AAEConfig(), denoising=True))
