"""Adversarial autoencoder and denoising AAE (Makhzani et al. 2015).

The built-in plugin registers them; third parties subclass them (``genae_studio.AAE``).
"""
from __future__ import annotations

import torch
from torch import nn

from ._base import GenerativeAutoencoder, StepFn, reconstruction_loss
from ._config import AAEConfig
from ._nets import Adversary, DCGANDecoder, DCGANEncoder

_D = AAEConfig()

_bce = nn.functional.binary_cross_entropy_with_logits


class AAE(GenerativeAutoencoder):
    """Deterministic encoder; an adversary on z tells P(Z) samples from e(x).

    The encoder minimises reconstruction + ``adversarial_weight`` x the non-saturating
    -log D(e(x)), weighed per element as in the reference code (see ``AAEConfig``); the
    adversary has its own Adam.
    """

    def __init__(self, *, image_size: int = 64, channels: int = 3,
                 latent_dim: int = _D.latent_dim, width: int = _D.width,
                 noise_std: float = _D.noise_std, denoising: bool = False,
                 adversary_hidden: int = _D.adversary_hidden,
                 adversary_dropout: float = _D.adversary_dropout,
                 adversarial_weight: float = _D.adversarial_weight,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None,
                 **hparams):
        encoder = encoder or DCGANEncoder(channels, image_size, latent_dim, width)
        decoder = decoder or DCGANDecoder(latent_dim, channels, image_size, width)
        super().__init__(encoder, decoder, latent_dim=latent_dim, image_size=image_size,
                         channels=channels, noise_std=noise_std,
                         width=width, adversary_hidden=adversary_hidden,
                         adversary_dropout=adversary_dropout,
                         adversarial_weight=adversarial_weight, **hparams)
        self.denoising = denoising
        self.adversarial_weight = adversarial_weight
        self.adversary = Adversary(latent_dim, adversary_hidden, adversary_dropout)

    def encode(self, x, *, sample=True, generator=None):
        return self.encoder(x)

    def optimizer_groups(self):
        return {"model": [*self.encoder.parameters(), *self.decoder.parameters()],
                "adversary": list(self.adversary.parameters())}

    def training_step(self, x: torch.Tensor, step: StepFn) -> dict[str, torch.Tensor]:
        """One update of each player, in the reference code's order: both are scored by
        the adversary as it was before this step, then the autoencoder is updated, then
        the adversary."""
        z = self.encoder(self.training_input(x))
        # Autoencoder: reconstruct and fool the adversary (non-saturating -log D(e(x))).
        rec = reconstruction_loss(self.decoder(z), x)  # summed over the C*H*W elements
        d_out = self.adversary(z)
        adv = _bce(d_out, torch.ones_like(d_out))  # averaged over the batch
        # Per-element means weighed 1:1 at adversarial_weight = 1: rec is a sum over C*H*W.
        loss = rec + self.adversarial_weight * x[0].numel() * adv
        # Adversary: prior samples are "real", codes are "fake".
        real = self.adversary(torch.randn_like(z))
        fake = self.adversary(z.detach())
        d_loss = _bce(real, torch.ones_like(real)) + _bce(fake, torch.zeros_like(fake))
        step("model", loss)
        step("adversary", d_loss)  # its gradients are zeroed first, then taken from d_loss
        return {"loss": loss.detach(), "rec": rec.detach(), "adv": adv.detach(),
                "d_loss": d_loss.detach()}
