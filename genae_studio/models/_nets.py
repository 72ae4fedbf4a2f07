"""DCGAN-style convolutional networks (Radford et al. 2016), as used in the paper.

The encoder is shaped like the DCGAN discriminator (strided convolutions), the
decoder like the DCGAN generator (fractionally-strided convolutions). Every
convolution is followed by batch norm and ReLU, except the output layers.
"""
from __future__ import annotations

import math

from torch import nn

SUPPORTED_SIZES = (32, 64)
INIT_STD = 0.02  # DCGAN: weights from N(0, 0.02), batch-norm scales from N(1, 0.02)


def dcgan_init(net: nn.Module) -> None:
    """DCGAN's initialisation, which the paper adopts: convolution weights N(0, 0.02),
    batch-norm scales N(1, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def _halvings(image_size: int) -> int:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image size must be one of {SUPPORTED_SIZES}, got {image_size}")
    return int(math.log2(image_size)) - 2  # down to 4x4


class DCGANEncoder(nn.Module):
    """(B, C, S, S) images -> (B, out_features) codes."""

    def __init__(self, channels: int, image_size: int, out_features: int, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch, out_ch = channels, width
        for _ in range(_halvings(image_size)):
            layers += [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]
            in_ch, out_ch = out_ch, out_ch * 2
        layers.append(nn.Conv2d(in_ch, out_features, 4, 1, 0))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x):
        return self.net(x).flatten(1)


class DCGANDecoder(nn.Module):
    """(B, latent_dim) codes -> (B, C, S, S) logits; apply a sigmoid for images in [0, 1]."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int = 64):
        super().__init__()
        n = _halvings(image_size)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers.append(nn.ConvTranspose2d(ch, channels, 4, 2, 1))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z):
        return self.net(z[:, :, None, None])


class Adversary(nn.Module):
    """Fully connected discriminator on latent codes: (B, K) -> (B,) logits.

    PyTorch's default initialisation, like the reference code's (Torch7's) for its layers."""

    def __init__(self, latent_dim: int, hidden: int = 512, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, z):
        return self.net(z).squeeze(1)
