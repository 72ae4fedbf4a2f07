import pytest
import torch
from helpers import tiny_model

from genae_studio.models import GenerativeAutoencoder
from genae_studio.sampling import markov_chain, record_chain, sampling_mode


def test_the_chain_feeds_back_each_step_starts_from_the_previous_output(host):
    model, _ = tiny_model(host, "aae")  # deterministic encoder: the chain is a fixed map
    z0 = torch.randn(6, model.latent_dim)
    zs = [s.z for s in markov_chain(model, z0, steps=3, bn_mode="eval")]

    def one_step(z):
        with torch.inference_mode(), sampling_mode(model, "eval"):
            return model.encode(model.decode(z))

    assert torch.allclose(zs[1], one_step(z0), atol=1e-5)
    assert torch.allclose(zs[2], one_step(zs[1]), atol=1e-5)
    assert torch.allclose(zs[3], one_step(one_step(one_step(z0))), atol=1e-4)


class ShiftByOne(GenerativeAutoencoder):
    """decode then encode adds exactly 1 to z, so z_t must equal z_0 + t."""

    def __init__(self):
        super().__init__(torch.nn.Identity(), torch.nn.Identity(), latent_dim=3, image_size=1,
                         channels=1)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

    def decode(self, z):
        return torch.sigmoid(z)[:, None, None, :]

    def encode(self, x, *, sample=True, generator=None):
        return torch.logit(x.reshape(len(x), -1).double()).float() + 1


def test_step_t_is_t_steps_from_z0_not_one_step_from_x0():
    z0 = torch.zeros(2, 3)
    zs = [s.z for s in markov_chain(ShiftByOne(), z0, steps=5)]
    # The authors' Lua demo restarts each step from x0: every step would be z0 + 1.
    for t, z in enumerate(zs):
        assert torch.allclose(z, torch.full((2, 3), float(t)), atol=1e-3)


def test_step_zero_is_the_prior_sample_and_its_decoding(host):
    model, _ = tiny_model(host, "vae")
    z0 = torch.randn(4, model.latent_dim)
    first = next(markov_chain(model, z0, steps=0))
    assert first.t == 0 and torch.equal(first.z, z0)
    with torch.inference_mode(), sampling_mode(model, "batch"):
        assert torch.allclose(first.x, model.decode(z0))


def test_a_vae_chain_draws_afresh_each_step_and_an_aae_does_not(host):
    vae, _ = tiny_model(host, "vae")
    z0 = torch.randn(4, vae.latent_dim)
    runs = [list(markov_chain(vae, z0, steps=1, generator=torch.Generator().manual_seed(s)))
            for s in (1, 2)]
    assert not torch.allclose(runs[0][1].z, runs[1][1].z)
    again = list(markov_chain(vae, z0, steps=1, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(again[1].z, runs[0][1].z)

    aae, _ = tiny_model(host, "aae")
    a = [s.z for s in markov_chain(aae, z0, steps=2)]
    b = [s.z for s in markov_chain(aae, z0, steps=2)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_batch_mode_uses_minibatch_statistics_without_updating_running_averages(host):
    model, _ = tiny_model(host, "vae")
    model.train()
    bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [(m.running_mean.clone(), m.running_var.clone()) for m in bn]
    z0 = torch.randn(8, model.latent_dim) * 3
    batch = record_chain(model, [0, 2], z0=z0, bn_mode="batch")
    evals = record_chain(model, [0, 2], z0=z0, bn_mode="eval")
    for m, (mean, var) in zip(bn, before, strict=True):
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var)
    assert model.training  # the mode is restored
    assert not torch.allclose(torch.from_numpy(batch.x[0]), torch.from_numpy(evals.x[0]))
    with pytest.raises(ValueError):
        next(markov_chain(model, z0, bn_mode="train"))


def test_denoising_chains_corrupt_before_encoding_with_the_chosen_std(host, monkeypatch):
    model, _ = tiny_model(host, "dvae", noise_std=0.5)
    seen = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda x, **kw: seen.append(x.clone()) or encode(x, **kw))
    steps = list(markov_chain(model, n=64, steps=1, noise_std=0.3))
    assert abs((seen[0] - steps[0].x).std().item() - 0.3) < 0.01
    seen.clear()
    steps = list(markov_chain(model, n=64, steps=1))  # the model's own std
    assert abs((seen[0] - steps[0].x).std().item() - 0.5) < 0.01
    seen.clear()
    steps = list(markov_chain(model, n=8, steps=1, corrupt=False))
    assert torch.equal(seen[0], steps[0].x)


def test_corruption_std_default_is_half_and_configurable(host):
    model, _ = tiny_model(host, "dvae")
    x = torch.full((64, 1, 32, 32), 0.5)
    assert abs((model.corrupt(x) - x).std().item() - 0.5) < 0.01  # the paper's variance 0.25
    model2, _ = tiny_model(host, "dvae", noise_std=0.1)
    assert abs((model2.corrupt(x) - x).std().item() - 0.1) < 0.005
    plain, _ = tiny_model(host, "vae")
    assert torch.equal(plain.training_input(x), x)  # non-denoising models see clean x


def test_denoising_training_corrupts_the_input_but_reconstructs_the_clean_image(
        host, monkeypatch):
    from genae_studio.models import _vae as vae_model

    model, _ = tiny_model(host, "dvae")
    inputs, targets = [], []
    model.encoder.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    loss = vae_model.reconstruction_loss
    monkeypatch.setattr(vae_model, "reconstruction_loss",
                        lambda logits, target: targets.append(target) or loss(logits, target))
    x = torch.rand(8, 1, 32, 32)
    model.training_step(x, lambda name, loss: None)
    assert abs((inputs[0] - x).std().item() - 0.5) < 0.05
    assert torch.equal(targets[0], x)


def test_record_chain_keeps_only_the_listed_steps_in_order(host):
    model, _ = tiny_model(host, "aae")
    rec = record_chain(model, [5, 0, 1], n=3)
    assert list(rec.steps) == [5, 0, 1]
    assert rec.z.shape == (3, 3, model.latent_dim) and rec.x.shape == (3, 3, 1, 32, 32)
    assert 0 <= rec.x.min() and rec.x.max() <= 1
    with pytest.raises(ValueError):
        record_chain(model, [-1])


def test_the_aae_chain_is_deterministic_and_the_vae_chain_is_not(host):
    """The AAE's step is the map z -> e(d(z)): chains from the same z0 with different seeds
    are identical (no ergodicity argument applies); the VAE draws anew at every step."""
    z0 = torch.randn(6, 8)
    for name, same in (("aae", True), ("vae", False)):
        model, _ = tiny_model(host, name)
        paths = [torch.stack([s.z for s in markov_chain(
            model, z0, steps=3, bn_mode="eval", generator=torch.Generator().manual_seed(seed))])
            for seed in (1, 2)]
        assert torch.equal(paths[0], paths[1]) == same
