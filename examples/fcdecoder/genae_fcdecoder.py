"""Example plugin: a VAE whose decoder is a fully connected network.

Load it with ``genae-studio --plugin examples/fcdecoder/genae_fcdecoder.py train
--model fcvae --data digits``; check it with ``... plugins --check fcvae``.
The decoder returns logits: no sigmoid at its end (``decode()`` applies one).
"""
from genae_studio import ModelSpec, hookimpl


def make_fcvae(*, image_size, channels, latent_dim, hidden=512, **hparams):
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
                       make_fcvae, defaults={"latent_dim": 32, "width": 32, "hidden": 512}))
