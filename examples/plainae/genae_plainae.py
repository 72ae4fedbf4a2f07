"""Example plugin: a model written from GenerativeAutoencoder itself.

A deterministic autoencoder whose codes are pulled toward N(0, I) by a penalty on their
mean and variance. Load it with ``--plugin examples/plainae/genae_plainae.py``.
"""
from genae_studio import ModelSpec, hookimpl


def make_plainae(*, image_size, channels, latent_dim, width, weight=10.0, **hparams):
    from genae_studio import (
        DCGANDecoder,
        DCGANEncoder,
        GenerativeAutoencoder,
        reconstruction_loss,
    )

    class PlainAE(GenerativeAutoencoder):
        def encode(self, x, *, sample=True, generator=None):
            return self.encoder(x)  # deterministic: sample and mode coincide

        def training_step(self, x, step):
            z = self.encoder(self.training_input(x))
            rec = reconstruction_loss(self.decoder(z), x)  # the decoder returns logits
            moments = z.mean(0).pow(2).sum() + (z.var(0) - 1).pow(2).sum()
            loss = rec + weight * moments
            step("model", loss)
            return {"loss": loss.detach(), "rec": rec.detach(), "moments": moments.detach()}

    return PlainAE(DCGANEncoder(channels, image_size, latent_dim, width),
                   DCGANDecoder(latent_dim, channels, image_size, width),
                   latent_dim=latent_dim, image_size=image_size, channels=channels,
                   width=width, weight=weight, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("plainae", "autoencoder with a moment penalty (example plugin)",
                       make_plainae, defaults={"latent_dim": 32, "width": 16, "weight": 10.0}))
