"""VAE and denoising VAE (Kingma & Welling 2014; Im et al. 2017).

The built-in plugin registers them; third parties subclass them (``genae_studio.VAE``).
"""
from __future__ import annotations

import torch
from torch import nn

from ._base import GenerativeAutoencoder, StepFn, reconstruction_loss
from ._config import VAEConfig
from ._nets import DCGANDecoder, DCGANEncoder

_D = VAEConfig()


class VAE(GenerativeAutoencoder):
    """The encoder outputs a mean and a log-variance; z = mu + sigma * eps.

    Pass ``encoder``/``decoder`` to use other networks: the encoder must map images
    to 2 * latent_dim features (the mean, then the log-variance), the decoder codes to
    logits. The loss is reconstruction + ``kl_weight`` * KL (1.0: the ELBO; > 1: a β-VAE).
    """

    def __init__(self, *, image_size: int = 64, channels: int = 3,
                 latent_dim: int = _D.latent_dim, width: int = _D.width,
                 noise_std: float = _D.noise_std, kl_weight: float = _D.kl_weight,
                 denoising: bool = False,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None,
                 **hparams):
        if not kl_weight >= 0:
            raise ValueError(f"kl_weight must be >= 0, got {kl_weight}")
        encoder = encoder or DCGANEncoder(channels, image_size, 2 * latent_dim, width)
        decoder = decoder or DCGANDecoder(latent_dim, channels, image_size, width)
        super().__init__(encoder, decoder, latent_dim=latent_dim, image_size=image_size,
                         channels=channels, noise_std=noise_std,
                         width=width, kl_weight=kl_weight, **hparams)
        self.denoising = denoising
        self.kl_weight = float(kl_weight)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x, *, sample=True, generator=None):
        mu, logvar = self.posterior(x)
        if not sample:
            return mu
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def training_step(self, x: torch.Tensor, step: StepFn) -> dict[str, torch.Tensor]:
        mu, logvar = self.posterior(self.training_input(x))
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = reconstruction_loss(self.decoder(z), x)
        # KL(Q(Z|x) || N(0, I)), summed over dimensions, averaged over the batch like rec.
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        loss = rec + self.kl_weight * kl
        step("model", loss)
        return {"loss": loss.detach(), "rec": rec.detach(), "kl": kl.detach()}
