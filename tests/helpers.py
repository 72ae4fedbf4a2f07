"""Helpers shared by the tests (import them: `from helpers import tiny_model`)."""


def tiny_model(host, name="vae", image_size=32, channels=1, latent_dim=8, width=8, **extra):
    """A small, seeded instance of the registered model `name` and the hyperparameters used."""
    import torch

    spec = host.model(name)
    hparams = {**spec.defaults, "image_size": image_size, "channels": channels,
               "latent_dim": latent_dim, "width": width, **extra}
    torch.manual_seed(0)
    return spec.build(hparams), hparams


# A beta-VAE written from docs/plugins.md alone: a frozen ModelConfig subclass with its own
# field, the VAE base, the KL weight through the documented config field.
BETAVAE = '''
from dataclasses import dataclass

from genae_studio import ModelConfig, ModelSpec, hookimpl


@dataclass(frozen=True)
class BetaVAEConfig(ModelConfig):
    latent_dim: int = 8
    width: int = 8
    beta: float = 4.0  # the weight of the KL term


def make_betavae(*, beta, **hparams):
    from genae_studio import VAE

    if beta > 100:
        raise ValueError(f"beta {beta} is too large")
    return VAE(kl_weight=beta, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("betavae", "a beta-VAE (test plugin)", make_betavae,
                       config=BetaVAEConfig(), image_sizes=(32,)))
'''
