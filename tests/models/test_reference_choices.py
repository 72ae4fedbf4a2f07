"""The choices that make the built-in models match the paper and the code it cites, pinned:
DCGAN initialisation, the AAE's adversarial weight and its update order."""
import pytest
import torch
from torch import nn

from genae_studio import AAE, VAE, AAEConfig
from genae_studio.models import DCGANDecoder, DCGANEncoder


@pytest.mark.parametrize("net", [DCGANEncoder(3, 64, 200, width=16),
                                 DCGANDecoder(200, 3, 64, width=16)])
def test_convolutions_start_from_dcgan_normal_0_002_and_batch_norm_from_n_1_002(net):
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    weights = torch.cat([c.weight.detach().flatten() for c in convs])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)  # PyTorch's default: ~0.01-0.06
    assert all(c.bias is None or not c.bias.any() for c in convs)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([b.weight.detach() for b in norms])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)
    assert scales.std().item() == pytest.approx(0.02, rel=0.2)
    assert not torch.cat([b.bias.detach() for b in norms]).any()


def test_the_aae_default_weighs_per_element_means_one_to_one_as_the_reference_code():
    assert AAEConfig().adversarial_weight == 1.0
    model = AAE(image_size=32, channels=1, latent_dim=8, width=8)
    assert model.hparams["adversarial_weight"] == 1.0
    losses = model.training_step(torch.rand(6, 1, 32, 32), lambda name, loss: None)
    # rec is summed over the 1,024 pixels, adv averaged over the batch: 1:1 per element.
    expected = losses["rec"] + 1024 * losses["adv"]
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_adversarial_weight_is_a_setting():
    model = AAE(image_size=32, channels=1, latent_dim=8, width=8, adversarial_weight=1 / 1024)
    losses = model.training_step(torch.rand(6, 1, 32, 32), lambda name, loss: None)
    expected = losses["rec"] + losses["adv"]  # the weighting of releases before 0.2
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_aae_scores_the_encoder_against_the_adversary_before_its_update():
    """The reference code's order: one forward pass scores both players, then the
    autoencoder is updated, then the adversary."""
    torch.manual_seed(0)
    model = AAE(image_size=32, channels=1, latent_dim=8, width=8, adversary_dropout=0.0)
    adversary_before = {k: v.clone() for k, v in model.adversary.state_dict().items()}
    optimisers = {name: torch.optim.Adam(params, lr=0.1)
                  for name, params in model.optimizer_groups().items()}
    calls = []

    def step(name, loss):
        calls.append(name)
        if name == "model":  # the adversary has not moved yet when the encoder is scored
            for k, v in model.adversary.state_dict().items():
                assert torch.equal(v, adversary_before[k])
        optimisers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimisers[name].step()

    model.training_step(torch.rand(6, 1, 32, 32), step)
    assert calls == ["model", "adversary"]
    assert any(not torch.equal(v, adversary_before[k])
               for k, v in model.adversary.state_dict().items())


def test_the_vae_uses_the_same_initialisation():
    model = VAE(image_size=32, channels=1, latent_dim=8, width=16)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    weights = torch.cat([c.weight.detach().flatten() for c in convs])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
