"""Run.sample_batches: the one way to run many chains (CLI sample and interpolate, eval, the
plugin checks). Its random stream is the one each caller used before it existed."""
import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio.api import Run
from genae_studio.runs import RunConfig
from genae_studio.sampling import markov_chain, record_chain


def tiny_run(host, name="vae"):
    model, hparams = tiny_model(host, name)
    return Run(model, RunConfig("genae_builtins", name, hparams), None, model.device)


@pytest.mark.parametrize("name", ["vae", "daae"])
def test_batches_one_after_another_are_the_sample_commands_old_stream(host, name):
    run = tiny_run(host, name)
    parts = list(run.sample_batches(10, [3, 0, 3], seed=5, batch_size=4))
    assert [(p.start, p.stop, p.t) for p in parts] == [
        (0, 4, 0), (0, 4, 3), (4, 8, 0), (4, 8, 3), (8, 10, 0), (8, 10, 3)]
    generator = torch.Generator().manual_seed(5)  # what commands/sample.py did
    for start, stop in [(0, 4), (4, 8), (8, 10)]:
        rec = record_chain(run.model, [0, 3], n=stop - start, generator=generator)
        mine = [p for p in parts if p.start == start]
        for row, part in enumerate(mine):
            np.testing.assert_array_equal(part.x.numpy(), rec.x[row])
            np.testing.assert_array_equal(part.z.numpy(), rec.z[row])


@pytest.mark.parametrize("name", ["vae", "dvae"])
def test_lockstep_is_evals_old_stream(host, name):
    run = tiny_run(host, name)
    parts = list(run.sample_batches(10, [0, 2], seed=3, batch_size=4, lockstep=True))
    generator = torch.Generator().manual_seed(3)  # what evaluation.run_chains did
    z0 = run.model.sample_prior(10, generator=generator)
    chains = [markov_chain(run.model, z0[i:i + 4], n=len(z0[i:i + 4]), steps=2,
                           generator=generator) for i in range(0, 10, 4)]
    old = {s[0].t: torch.cat([p.x for p in s]) for s in zip(*chains, strict=True)}
    assert [(p.start, p.stop, p.t) for p in parts] == [(0, 10, 0), (0, 10, 2)]
    for part in parts:
        assert torch.equal(part.x, old[part.t])


def test_one_batch_is_the_same_in_both_orders_and_equals_run_sample(host):
    run = tiny_run(host, "vae")
    one = [p.x for p in run.sample_batches(6, [0, 1, 4], seed=9, batch_size=6)]
    both = [p.x for p in run.sample_batches(6, [0, 1, 4], seed=9, batch_size=6,
                                            lockstep=True)]
    rec = run.sample(6, [0, 1, 4], seed=9)
    for a, b, c in zip(one, both, rec.x, strict=True):
        assert torch.equal(a, b)
        np.testing.assert_array_equal(a.numpy(), c)


def test_given_codes_start_the_chains_and_progress_counts_every_step(host):
    run = tiny_run(host, "aae")
    z0 = np.random.default_rng(0).standard_normal((5, run.model.latent_dim)).astype("float32")
    seen = []
    parts = list(run.sample_batches(5, [0], z0=z0, batch_size=2, bn_mode="eval",
                                    progress=lambda *a: seen.append(a)))
    np.testing.assert_array_equal(torch.cat([p.z for p in parts]).numpy(), z0)
    np.testing.assert_allclose(torch.cat([p.x for p in parts]).numpy(),  # compiled plans:
                               run.decode(z0, bn_mode="eval").numpy(), atol=1e-5)  # rounding
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("kwargs,message", [
    ({"steps": []}, "steps must be non-negative"),
    ({"steps": [-1]}, "steps must be non-negative"),
    ({"batch_size": 0}, "at least 1"),
    ({"z0": np.zeros((3, 8), "float32")}, "z0 holds 3 codes for 4 chains"),
])
def test_bad_arguments_fail_before_any_step_runs(host, kwargs, message):
    run = tiny_run(host, "vae")
    with pytest.raises(ValueError, match=message):
        run.sample_batches(4, **{"steps": [0, 1], **kwargs})


def test_the_generator_of_a_seed_is_public_and_repeatable(host):
    run = tiny_run(host, "vae")
    a, b = run.generator(4), run.generator(4)
    assert torch.equal(torch.randn(3, generator=a), torch.randn(3, generator=b))
    assert run.generator(None) is None
