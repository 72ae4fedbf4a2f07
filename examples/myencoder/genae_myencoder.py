"""Example third-party plugin: a VAE whose encoder is a small residual network.

Install it (``pip install -e examples/myencoder``) and it is found through the
``genae_studio`` entry-point group; or load it without installing:
``genae-studio --plugin examples/myencoder/genae_myencoder.py train --model myencoder``.
It gets training, chains, interpolation, checkpoints and the studio for free.
"""
from genae_studio import ModelConfig, ModelSpec, hookimpl


def make_model(*, image_size=64, channels=3, latent_dim=200, width=32, **hparams):
    from torch import nn

    from genae_studio import VAE

    class Residual(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch),
                                      nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 3, 1, 1))

        def forward(self, x):
            return nn.functional.relu(x + self.body(x))

    layers, ch = [nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(inplace=True)], width
    size = image_size
    while size > 4:  # halve to 4x4, one residual block per scale
        layers += [Residual(ch), nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(ch * 2), nn.ReLU(inplace=True)]
        ch, size = ch * 2, size // 2
    layers += [nn.Flatten(), nn.Linear(ch * 16, 2 * latent_dim)]  # mean and log-variance
    encoder = nn.Sequential(*layers)
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               encoder=encoder, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("myencoder", "VAE with a residual encoder (example plugin)", make_model,
                       config=ModelConfig(width=32)))
