"""The trainer's parts, each on its own: callbacks, data and hyperparameters, speed options,
replicas, resume, the step and its checks, the epoch; and the old import paths."""
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio import distributed
from genae_studio.errors import CheckpointError, TrainingDiverged, UsageError
from genae_studio.runs import read_config
from genae_studio.training import TrainCallbacks, TrainSettings, train
from genae_studio.training._resume import read_resume, restore
from genae_studio.training._speed import Speed, speed_options
from genae_studio.training._trainer import Trainer, load_training_data, model_hparams, reduce_losses

TINY = dict(data="digits", batch_size=32, width=8, latent_dim=8, limit=128, device="cpu")
CPU = torch.device("cpu")


def build(host, out, **settings) -> Trainer:
    return Trainer.build(TrainSettings(**{**TINY, **settings}), out, host, CPU)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# --- callbacks ---------------------------------------------------------------------------
def test_other_ranks_only_answer_should_stop():
    heard = []
    callbacks = TrainCallbacks(on_model=heard.append, on_progress=heard.append,
                               on_checkpoint=lambda m, p: heard.append(p),
                               should_stop=lambda: True)
    assert callbacks.for_rank(True) is callbacks
    other = callbacks.for_rank(False)
    other.model_ready("model")
    other.progress("progress")
    other.checkpoint_written("model", "progress")
    assert heard == [] and other.stop_requested()
    callbacks.model_ready("model")
    callbacks.checkpoint_written("model", "progress")
    assert heard == ["model", "progress"]
    assert not TrainCallbacks().stop_requested()


def test_train_takes_one_callbacks_object_or_the_functions_but_not_both(host, tmp_path):
    seen = []
    stopped = train(TrainSettings(epochs=1, **TINY), tmp_path / "a", host=host,
                    callbacks=TrainCallbacks(on_progress=seen.append, should_stop=lambda: True))
    assert stopped.stopped and [p.step for p in seen] == [1]
    assert read_config(tmp_path / "a").progress["step"] == 1
    with pytest.raises(TypeError, match="callbacks or on_progress, not both"):
        train(TrainSettings(epochs=1, **TINY), tmp_path / "b", host=host,
              callbacks=TrainCallbacks(), on_progress=seen.append)
    assert not (tmp_path / "b").exists()


# --- data and hyperparameters ------------------------------------------------------------
def test_the_global_batch_must_split_evenly_and_fit_the_data(host):
    settings, dataset = load_training_data(TrainSettings(**TINY), host, world=4)
    assert settings.data == "digits" and len(dataset) == 128
    with pytest.raises(UsageError, match="divisible by the number of processes, 3"):
        load_training_data(TrainSettings(**TINY), host, world=3)
    with pytest.raises(UsageError, match="16 training images, fewer than one batch of 32"):
        load_training_data(TrainSettings(**{**TINY, "limit": 16}), host)


def test_hyperparameters_are_the_defaults_the_data_and_what_the_settings_choose(host):
    spec = host.model("vae")
    _, dataset = load_training_data(TrainSettings(**TINY), host)
    hparams = model_hparams(spec, TrainSettings(width=8), dataset)
    assert hparams["width"] == 8 and hparams["latent_dim"] == spec.defaults["latent_dim"]
    assert hparams["noise_std"] == spec.defaults["noise_std"]
    assert (hparams["image_size"], hparams["channels"]) == (32, 1)


# --- speed options -----------------------------------------------------------------------
def test_speed_options_on_the_cpu_are_fp32_without_autocast(host):
    speed = speed_options(TrainSettings(), CPU)
    assert (speed.precision, speed.channels_last) == ("fp32", False)
    assert isinstance(speed.autocast(True), nullcontext)
    model, hooks = speed.apply(tiny_model(host)[0], compile=False)
    assert hooks == [] and not model.encoder._forward_hooks
    layout = speed_options(TrainSettings(channels_last=True), CPU)
    model, _ = layout.apply(tiny_model(host)[0], compile=False)
    conv = next(p for p in model.parameters() if p.dim() == 4 and min(p.shape[1:]) > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_under_bf16_the_networks_hand_back_float32(host):
    model, _ = tiny_model(host)
    model, hooks = Speed("bf16", False, nullcontext).apply(model, compile=False)
    assert len(hooks) == len(list(model.children()))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.encoder(torch.rand(2, 1, 32, 32)).dtype == torch.float32
    for hook in hooks:
        hook.remove()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.encoder(torch.rand(2, 1, 32, 32)).dtype == torch.bfloat16


# --- replicas ----------------------------------------------------------------------------
class OneProcess:
    """The part of a DistContext that ``replicate`` uses, recording its calls."""

    def __init__(self):
        self.broadcast = []

    def broadcast_state(self, module):
        self.broadcast.append(module)


def test_a_replica_copies_rank_0_and_syncs_batch_norm_when_asked(host):
    model, _ = tiny_model(host)
    ctx = OneProcess()
    synced = distributed.replicate(model, ctx, sync_bn=True)
    assert ctx.broadcast == [model] and synced
    assert all(type(m) is distributed.SyncBatchNorm2d for m in synced)
    distributed.revert_sync_batchnorm(synced)
    assert all(type(m) is torch.nn.BatchNorm2d for m in synced)
    assert distributed.replicate(model, ctx, sync_bn=False) == []


# --- the step ----------------------------------------------------------------------------
def test_reduce_losses_gives_floats_and_keeps_the_stop_flag_alone():
    losses, stop = reduce_losses({"loss": torch.tensor(1.5), "d": torch.tensor([2.0])}, True,
                                 None)
    assert losses == {"loss": 1.5, "d": 2.0} and stop is True


def test_a_step_updates_the_weights_and_returns_its_losses(host, tmp_path):
    trainer = build(host, tmp_path)
    before = weights(trainer.model)
    x = torch.rand(32, 1, 32, 32)
    losses, stop = trainer.step(x, epoch=0, step=0)
    assert "loss" in losses and np.isfinite(losses["loss"]) and stop is False
    after = weights(trainer.model)
    assert not all(torch.equal(before[k], after[k]) for k in before)
    trainer.callbacks = TrainCallbacks(should_stop=lambda: True)
    assert trainer.step(x, epoch=0, step=1)[1] is True


def test_a_nan_loss_stops_the_step_naming_the_loss_epoch_and_step(host, tmp_path):
    trainer = build(host, tmp_path)
    trainer.model.training_step = lambda x, step: {"loss": torch.tensor(float("nan"))}
    with pytest.raises(TrainingDiverged, match=r"loss loss became nan at epoch 3, step 5; "
                                               r"training stopped; no checkpoint had been"):
        trainer.step(torch.rand(32, 1, 32, 32), epoch=2, step=4)


def test_weights_or_optimiser_state_that_are_not_finite_stop_training(host, tmp_path):
    trainer = build(host, tmp_path)
    trainer.step(torch.rand(32, 1, 32, 32), epoch=0, step=0)
    trainer.check_diverged(0, 1)  # finite: no error
    state = next(iter(trainer.optimizers["model"].state.values()))
    state["exp_avg"].view(-1)[0] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"model optimiser state 0.exp_avg holds NaN "
                                               r"or infinite values after epoch 1, step 1"):
        trainer.check_diverged(0, 1)


# --- the epoch and the run ---------------------------------------------------------------
def test_an_epoch_reports_every_step_and_ends_with_a_checkpoint(host, tmp_path):
    trainer = build(host, tmp_path / "run", epochs=2)
    seen, saved = [], []
    trainer.callbacks = TrainCallbacks(on_progress=seen.append,
                                       on_checkpoint=lambda m, p: saved.append(p.step))
    trainer.model.train()
    assert trainer.run_epoch(0) is False
    assert [(p.epoch, p.step, p.steps_per_epoch) for p in seen] == [(0, s, 4) for s in (1, 2, 3, 4)]
    assert saved == [4] and len(trainer.history) == 1
    progress = read_config(tmp_path / "run").progress
    assert (progress["epoch"], progress["step"], len(progress["history"])) == (1, 0, 1)
    assert trainer.run_epoch(1, first=3) is False  # the last step only, as on resume
    assert seen[-1].step == 4 and len(seen) == 5 and trainer.history[-1]["epoch"] == 2


def test_run_gives_the_model_back_unchanged_however_it_ends(host, tmp_path):
    trainer = build(host, tmp_path)
    trainer.synced_bn = distributed.convert_sync_batchnorm(trainer.model)
    trainer.hooks = Speed("bf16", False, nullcontext).apply(trainer.model, False)[1]

    def broken(x, step):
        raise RuntimeError("a plugin bug")

    trainer.model.training_step = broken
    with pytest.raises(RuntimeError, match="a plugin bug"):
        trainer.run()
    assert not any(type(m) is distributed.SyncBatchNorm2d for m in trainer.model.modules())
    assert not trainer.model.encoder._forward_hooks


# --- resume ------------------------------------------------------------------------------
def test_resume_reads_the_runs_settings_and_state(host, tmp_path):
    train(TrainSettings(epochs=1, **TINY), tmp_path, host=host)
    with pytest.raises(UsageError, match=r"--width 16 \(the run: 8\) disagree"):
        read_resume(tmp_path, TrainSettings(epochs=3, width=16))
    settings, snapshot = read_resume(tmp_path, TrainSettings(epochs=3, device="cpu",
                                                             batch_size=8))
    assert (settings.model, settings.data, settings.limit) == ("vae", "digits", 128)
    assert (settings.epochs, settings.batch_size) == (3, 32)  # epochs from the caller only
    trainer = Trainer.build(TrainSettings(epochs=3, device="cpu"), tmp_path, host, CPU,
                            resume=tmp_path)
    assert (trainer.start.epoch, trainer.start.step, len(trainer.history)) == (1, 0, 1)
    snapshot.state["step"] = 4  # an epoch of this run has 4 steps
    model, _ = tiny_model(host)
    with pytest.raises(CheckpointError, match="at step 4 of an epoch of 4 steps"):
        restore(snapshot, model, trainer.optimizers, None, 0, CPU, 4)
