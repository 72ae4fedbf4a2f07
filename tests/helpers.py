"""Helpers shared by the tests (import them: `from helpers import tiny_model`)."""


def tiny_model(host, name="vae", image_size=32, channels=1, latent_dim=8, width=8, **extra):
    """A small, seeded instance of the registered model `name` and the hyperparameters used."""
    import torch

    spec = host.model(name)
    hparams = {**spec.defaults, "image_size": image_size, "channels": channels,
               "latent_dim": latent_dim, "width": width, **extra}
    torch.manual_seed(0)
    return spec.build(hparams), hparams
