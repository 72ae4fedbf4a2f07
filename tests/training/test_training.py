import numpy as np
import pytest
import torch

from genae_studio import ModelSpec, hookimpl
from genae_studio.errors import TrainingDiverged
from genae_studio.plugins import load_plugins
from genae_studio.runs import checkpoint_file, read_config
from genae_studio.training import TrainSettings, train

TINY = dict(data="digits", batch_size=32, width=8, latent_dim=8, limit=128, device="cpu")


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("model", ["vae", pytest.param("daae", marks=pytest.mark.slow)])
def test_resume_continues_exactly_where_training_stopped(host, tmp_path, model):
    straight = train(TrainSettings(model=model, epochs=2, **TINY), tmp_path / "a", host=host)
    train(TrainSettings(model=model, epochs=1, **TINY), tmp_path / "b", host=host)
    resumed = train(TrainSettings(epochs=2, device="cpu"), tmp_path / "b",
                    resume=tmp_path / "b", host=host)
    assert resumed.epochs_done == 2 and len(resumed.history) == 2
    a, b = weights(straight.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_config(tmp_path / "b").progress["epoch"] == 2


def test_stop_keeps_a_checkpoint_that_resume_continues_mid_epoch(host, tmp_path):
    straight = train(TrainSettings(epochs=1, **TINY), tmp_path / "a", host=host)
    calls = iter(range(100))
    stopped = train(TrainSettings(epochs=1, **TINY), tmp_path / "b", host=host,
                    should_stop=lambda: next(calls) == 1)
    assert stopped.stopped and read_config(tmp_path / "b").progress["step"] == 2
    resumed = train(TrainSettings(epochs=1, device="cpu"), tmp_path / "b",
                    resume=tmp_path / "b", host=host)
    a, b = weights(straight.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_on_model_hands_out_the_model_being_trained_before_the_first_step(host, tmp_path):
    seen, steps = [], []

    def on_model(model):
        seen.append((model, weights(model)))

    result = train(TrainSettings(epochs=1, **TINY), tmp_path / "a", host=host,
                   on_model=on_model, on_progress=lambda p: steps.append(len(seen)))
    assert len(seen) == 1 and seen[0][0] is result.model
    assert steps and steps[0] == 1  # before the first step reported
    trained = weights(result.model)
    assert not all(torch.equal(seen[0][1][k], trained[k]) for k in trained)  # then trained


@pytest.mark.slow
def test_training_is_reproducible_from_a_seed(host, tmp_path):
    a = train(TrainSettings(epochs=1, seed=3, **TINY), tmp_path / "a", host=host)
    b = train(TrainSettings(epochs=1, seed=3, **TINY), tmp_path / "b", host=host)
    c = train(TrainSettings(epochs=1, seed=4, **TINY), tmp_path / "c", host=host)
    wa, wb, wc = weights(a.model), weights(b.model), weights(c.model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


class Diverging:
    """A plugin whose VAE's loss turns NaN at the 6th update."""

    @hookimpl
    def register_models(self, register):
        from genae_studio.models import VAE

        class Unstable(VAE):
            updates = 0

            def training_step(self, x, step):
                Unstable.updates += 1
                losses = super().training_step(x, step)
                if Unstable.updates >= 6:
                    losses["loss"] = torch.tensor(float("nan"))
                return losses

        register(ModelSpec("unstable", "diverges", lambda **h: Unstable(**h),
                           defaults={"width": 8}))


@pytest.mark.slow
def test_a_nan_loss_stops_training_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    host = load_plugins(autoload=False)
    host.manager.register(Diverging(), name="diverging")
    host.collect()
    with pytest.raises(TrainingDiverged, match=r"loss loss became nan at epoch 2, step 2.*"
                                               r"kept the last good checkpoint"):
        train(TrainSettings(model="unstable", epochs=3, **TINY), tmp_path, host=host)
    config = read_config(tmp_path)
    assert config.progress["epoch"] == 1  # the checkpoint of epoch 1 is intact
    from safetensors.torch import load_file

    assert all(torch.isfinite(v).all() for v in load_file(checkpoint_file(tmp_path))
               .values() if v.is_floating_point())


@pytest.mark.slow
def test_the_chain_moves_prior_samples_toward_encoded_data(host, tmp_path):
    """The paper's claim on a small VAE trained briefly: MMD(z_t, P^(Z)) falls at t = 1 and is
    still below t = 0 at t = 5 (later steps may drift back, as the protocol measures)."""
    from genae_studio.api import load_run
    from genae_studio.data import resolve_dataset
    from genae_studio.metrics import mmd2_unbiased

    settings = TrainSettings(model="vae", data="digits", epochs=4, batch_size=32, width=16,
                             latent_dim=16, device="cpu")
    train(settings, tmp_path, host=host)
    run = load_run(tmp_path, device="cpu", host=host)
    test = resolve_dataset("digits", host.datasets, split="test")
    encoded = run.encode(test.batch(np.arange(256)), sample=True).numpy()
    rec = run.sample(256, steps=[0, 1, 5, 10], seed=0)
    mmd = [mmd2_unbiased(z, encoded) for z in rec.z]
    print("MMD(z_t, encoded data) at t = 0, 1, 5, 10:", np.round(mmd, 4))
    assert mmd[1] < mmd[0] and mmd[2] < mmd[0]
