"""The model interface every plugin model implements.

A ``GenerativeAutoencoder`` has an encoder Q(Z|X), a decoder P(X|Z) and, for
denoising models, a corruption C(X~|X) = N(X, noise_std^2 I). Training,
chains, interpolation, checkpoints and the studio only use this interface.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# step(optimizer_name, loss): zero the grads, backpropagate, (synchronise), update.
StepFn = Callable[[str, torch.Tensor], None]


class GenerativeAutoencoder(nn.Module):
    """Base class. Subclasses implement ``encode``, ``training_step`` and ``optimizer_groups``.

    ``encoder`` maps images to codes; ``decoder`` maps codes to logits.
    """

    denoising: bool = False  # set from ModelSpec.denoising when the core builds the model

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, latent_dim: int,
                 image_size: int, channels: int, noise_std: float = 0.0, **hparams):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.image_size = image_size
        self.channels = channels
        self.noise_std = float(noise_std)
        self.hparams = dict(latent_dim=latent_dim, image_size=image_size, channels=channels,
                            noise_std=noise_std, **hparams)

    # --- sampling interface -------------------------------------------------------------
    def encode(self, x: torch.Tensor, *, sample: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Q(Z|x): a draw when ``sample`` (stochastic encoders), else the mode."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image of z, in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def corrupt(self, x: torch.Tensor, noise_std: float | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """C(X~|X): add Gaussian noise of std ``noise_std`` (not clipped, as in the paper)."""
        std = self.noise_std if noise_std is None else noise_std
        if std == 0:
            return x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + std * noise

    def sample_prior(self, n: int, *, generator: torch.Generator | None = None,
                     device=None) -> torch.Tensor:
        """z ~ P(Z) = N(0, I)."""
        device = device if device is not None else self.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --- training interface -------------------------------------------------------------
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters for each optimiser, by name; each gets its own Adam."""
        return {"model": list(self.parameters())}

    def training_step(self, x: torch.Tensor, step: StepFn) -> dict[str, torch.Tensor]:
        """One update on a clean batch x; calls ``step`` once per optimiser; returns losses."""
        raise NotImplementedError

    def training_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees during training: corrupted for denoising models."""
        return self.corrupt(x) if self.denoising else x


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy, summed over dimensions and averaged over the batch."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    return bce / target.shape[0]
