"""Example plugin: a VAE whose decoder is a fully connected network.

Load it with ``genae-studio --plugin examples/fcdecoder/genae_fcdecoder.py train
--model fcvae --data digits``; check it with ``... plugins --check fcvae``.
The decoder returns logits: no sigmoid at its end (``decode()`` applies one).
"""
from dataclasses import dataclass

from genae_studio import ModelConfig, ModelSpec, hookimpl


@dataclass(frozen=True)
class FCVAEConfig(ModelConfig):  # the defaults: ModelConfig's fields, changed and extended
    latent_dim: int = 32
    width: int = 32  # filters of the (built-in DCGAN) encoder
    hidden: int = 512  # units of the decoder's hidden layer


def make_fcvae(*, image_size, channels, latent_dim, hidden, **hparams):
    from torch import nn

    from genae_studio import VAE

    # codes (B, latent_dim) -> logits (B, channels, image_size, image_size)
    decoder = nn.Sequential(
        nn.Linear(latent_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, channels * image_size * image_size),
        nn.Unflatten(1, (channels, image_size, image_size)),
    )
    # The encoder stays the built-in DCGAN one (images -> 2 * latent_dim: mean, log-variance).
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim,
               decoder=decoder, hidden=hidden, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("fcvae", "VAE with a fully connected decoder (example plugin)",
                       make_fcvae, config=FCVAEConfig()))
