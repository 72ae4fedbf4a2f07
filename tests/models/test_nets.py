"""The DCGAN networks of the paper: shapes, layer pattern, width, the adversary."""
import pytest
import torch
from torch import nn

from genae_studio.models import Adversary, DCGANDecoder, DCGANEncoder


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3)])
def test_encoder_and_decoder_map_images_to_codes_and_back(size, channels):
    torch.manual_seed(0)
    encoder = DCGANEncoder(channels, size, out_features=10, width=8)
    decoder = DCGANDecoder(latent_dim=10, channels=channels, image_size=size, width=8)
    x = torch.rand(5, channels, size, size)
    z = encoder(x)
    assert z.shape == (5, 10)
    assert decoder(z).shape == (5, channels, size, size)


@pytest.mark.parametrize("size,halvings", [(32, 3), (64, 4)])
def test_the_encoder_halves_to_4x4_with_batch_norm_and_relu_after_each_strided_conv(size,
                                                                                   halvings):
    net = DCGANEncoder(3, size, out_features=7, width=8).net
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert len(convs) == halvings + 1  # the last one maps 4x4 to 1x1
    assert [c.out_channels for c in convs] == [8 * 2 ** i for i in range(halvings)] + [7]
    layers = list(net)
    for i, layer in enumerate(layers[:-1]):
        if isinstance(layer, nn.Conv2d):
            assert layer.stride == (2, 2)
            assert isinstance(layers[i + 1], nn.BatchNorm2d)
            assert isinstance(layers[i + 2], nn.ReLU)
    assert isinstance(layers[-1], nn.Conv2d)  # the output layer has no norm or activation


def test_the_decoder_mirrors_the_encoder_and_ends_in_logits():
    net = DCGANDecoder(latent_dim=12, channels=3, image_size=64, width=8).net
    deconvs = [m for m in net if isinstance(m, nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [64, 32, 16, 8, 3]
    assert isinstance(list(net)[-1], nn.ConvTranspose2d)  # the sigmoid is applied by decode()
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net) == len(deconvs) - 1


def test_unsupported_image_sizes_are_refused_with_the_sizes_that_work():
    with pytest.raises(ValueError, match=r"image size must be one of \(32, 64\), got 48"):
        DCGANEncoder(3, 48, out_features=4)
    with pytest.raises(ValueError, match="got 128"):
        DCGANDecoder(4, 3, 128)


def test_the_adversary_gives_one_logit_per_code_and_drops_out_only_in_training():
    torch.manual_seed(0)
    adversary = Adversary(latent_dim=6, hidden=16, dropout=0.5)
    z = torch.randn(9, 6)
    assert adversary(z).shape == (9,)
    adversary.eval()
    assert torch.equal(adversary(z), adversary(z))
    adversary.train()
    assert not torch.equal(adversary(z), adversary(z))
