"""Precise batch norm: statistics re-estimated on training data, chains independent of batch."""
import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio.data import ArrayDataset
from genae_studio.errors import UsageError
from genae_studio.sampling import _precise_bn as precise_bn
from genae_studio.sampling import markov_chain, sampling_mode


def tiny_data(n=96, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = (rng.random((n, 1, size, size)) * 255).astype(np.uint8)
    return ArrayDataset(images, name="noise")


def chain_z(model, z0, bn_mode, seed=0, steps=3):
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([s.z for s in markov_chain(model, z0, n=len(z0), steps=steps,
                                                   bn_mode=bn_mode, generator=gen)])


@pytest.mark.parametrize("name", ["aae", "vae"])
def test_a_precise_chain_does_not_depend_on_the_other_chains_in_its_batch(host, name):
    model, _ = tiny_model(host, name)
    precise_bn.prepare(model, tiny_data(), precise_bn.PreciseSettings(batches=5, batch_size=32),
                       cache=False)
    torch.manual_seed(1)
    a = torch.randn(1, model.latent_dim)
    others_1 = torch.randn(7, model.latent_dim)
    others_2 = 3 * torch.randn(7, model.latent_dim) + 1  # a very different batch
    # Same batch shape and seed: the VAE draws the same noise for chain a in both batches.
    precise_1 = chain_z(model, torch.cat([a, others_1]), "precise")
    precise_2 = chain_z(model, torch.cat([a, others_2]), "precise")
    torch.testing.assert_close(precise_1[:, 0], precise_2[:, 0], atol=1e-5, rtol=1e-5)
    # ...and the same chain alone, in a batch of one.
    alone = chain_z(model, a, "precise")
    if name == "aae":  # deterministic: no noise to line up
        torch.testing.assert_close(precise_1[:, 0], alone[:, 0], atol=1e-5, rtol=1e-5)
    # The paper's batch mode couples them: the test would notice a batch-dependent mode.
    batch_1 = chain_z(model, torch.cat([a, others_1]), "batch")
    batch_2 = chain_z(model, torch.cat([a, others_2]), "batch")
    assert (batch_1[1:, 0] - batch_2[1:, 0]).norm() > 1e-2


def test_with_one_batch_of_everything_precise_statistics_are_that_batchs_statistics(host):
    """Known answer: averaged over batches that are all the whole data set, the precise
    statistics are the whole set's batch statistics, so encoding the set in precise mode
    equals encoding it in batch mode (up to the unbiased/biased variance factor)."""
    model, _ = tiny_model(host, "aae")  # deterministic encoder
    data = tiny_data(64)
    precise_bn.prepare(model, data, precise_bn.PreciseSettings(batches=3, batch_size=64),
                       cache=False)
    x = torch.as_tensor(data.batch(np.arange(64))).float() / 255
    with torch.inference_mode():
        with sampling_mode(model, "batch"):
            z_batch = model.encode(x)
        with sampling_mode(model, "precise"):
            z_precise = model.encode(x)
        with sampling_mode(model, "eval"):  # the untrained running stats: far off
            z_eval = model.encode(x)
    torch.testing.assert_close(z_precise, z_batch, atol=2e-3, rtol=2e-3)
    assert (z_eval - z_batch).abs().max() > 0.1


def test_estimating_leaves_the_weights_running_stats_and_mode_untouched(host):
    model, _ = tiny_model(host, "dvae")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = precise_bn.estimate(model, tiny_data(), precise_bn.PreciseSettings(batches=2))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training
    assert set(stats) == {name for name, _ in precise_bn.batch_norms(model)}
    for name, bn in precise_bn.batch_norms(model):
        assert bn.momentum == 0.1
        assert not torch.allclose(stats[name][0], bn.running_mean)


def test_precise_mode_without_statistics_is_a_clear_error(host):
    model, _ = tiny_model(host, "vae")
    for training in (True, False):
        model.train(training)
        with pytest.raises(UsageError, match="precise"):
            next(markov_chain(model, n=4, steps=1, bn_mode="precise"))
        assert model.training == training  # sampling_mode restored the mode it found


def test_the_fast_precise_chain_equals_the_plain_one(host):
    model, _ = tiny_model(host, "aae")
    precise_bn.prepare(model, tiny_data(), precise_bn.PreciseSettings(batches=2), cache=False)
    z0 = torch.randn(5, model.latent_dim)
    fast = [s.z for s in markov_chain(model, z0, steps=2, bn_mode="precise", fast=True)]
    plain = [s.z for s in markov_chain(model, z0, steps=2, bn_mode="precise", fast=False)]
    for a, b in zip(fast, plain, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_statistics_are_cached_and_reloaded_to_the_same_numbers(host, tmp_path, monkeypatch):
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path))
    model, _ = tiny_model(host, "vae")
    settings = precise_bn.PreciseSettings(batches=2)
    first = precise_bn.prepare(model, tiny_data(), settings)
    stats = {n: getattr(bn, precise_bn.ATTR) for n, bn in precise_bn.batch_norms(model)}
    again, _ = tiny_model(host, "vae")
    second = precise_bn.prepare(again, tiny_data(), settings)
    assert not first["from_cache"] and second["from_cache"]
    for name, bn in precise_bn.batch_norms(again):
        for a, b in zip(getattr(bn, precise_bn.ATTR), stats[name], strict=True):
            assert torch.equal(a, b)
    # Other weights are another key: estimated anew, not taken from the cache.
    with torch.no_grad():
        next(again.parameters()).add_(1.0)
    assert not precise_bn.prepare(again, tiny_data(), settings)["from_cache"]
