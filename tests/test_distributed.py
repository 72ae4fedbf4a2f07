"""Data-parallel training: two CPU processes with Gloo, started by torchrun, against one."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from genae_studio import distributed
from genae_studio.errors import UsageError
from genae_studio.plugins import load_plugins
from genae_studio.runs import STATE, WEIGHTS, checkpoint_file
from genae_studio.training import TrainSettings, train

# A deterministic AAE: no random draws in training (its "prior samples" are a fixed function
# of each image, no dropout), so two processes must reproduce one process up to rounding.
# It keeps what makes data parallelism hard: batch norm, two optimisers, and an adversary
# that takes part in both losses.
PLUGIN = textwrap.dedent('''
    import torch
    from torch import nn

    from genae_studio import ModelSpec, hookimpl

    _bce = nn.functional.binary_cross_entropy_with_logits


    def make(**hparams):
        from genae_studio.models import AAE
        from genae_studio.models import reconstruction_loss

        class DeterministicAAE(AAE):
            def training_step(self, x, step):
                z = self.encoder(x)
                prior = torch.sin(37.0 * x.flatten(1)[:, :self.latent_dim] + 1.0)
                real, fake = self.adversary(prior), self.adversary(z.detach())
                d_loss = _bce(real, torch.ones_like(real)) + _bce(fake, torch.zeros_like(fake))
                step("adversary", d_loss)
                rec = reconstruction_loss(self.decoder(z), x)
                d_out = self.adversary(z)
                adv = _bce(d_out, torch.ones_like(d_out))
                step("model", rec + adv)
                return {"loss": (rec + adv).detach(), "d_loss": d_loss.detach()}

        model = DeterministicAAE(**hparams)
        # PyTorch's default initialisation, not DCGAN's N(0, 0.02): from those small weights
        # some gradients start near zero, where the two processes' summation order can flip
        # their sign and Adam turns that into a whole step, which is not what this compares.
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        return model


    @hookimpl
    def register_models(register):
        register(ModelSpec("detaae", "deterministic AAE", make,
                           defaults=dict(latent_dim=8, width=8, adversary_dropout=0.0)))
''')

ARGS = dict(data="digits", limit=256, batch_size=32, device="cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path, *args: str, processes: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
           f"--nproc_per_node={processes}", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "genae_studio", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    if done.returncode != 0 and TEARDOWN_ABORT in done.stderr:
        # Seen once in about 60 runs: a process aborts in Gloo's teardown after training
        # finished (see the note in genae_studio.distributed). Anything else fails at once.
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


TEARDOWN_ABORT = "terminate called without an active exception"


def cli_args(**settings) -> list[str]:
    out = []
    for key, value in settings.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def weights(path):
    return load_file(checkpoint_file(path, WEIGHTS))


@pytest.mark.slow
def test_two_processes_train_exactly_like_one_on_the_same_global_batch(tmp_path):
    plugin = tmp_path / "detaae.py"
    plugin.write_text(PLUGIN)
    torchrun(tmp_path, "--plugin", str(plugin), *cli_args(model="detaae", epochs=2,
                                                          out=tmp_path / "two", **ARGS))
    host = load_plugins([str(plugin)], autoload=False)
    one = train(TrainSettings(model="detaae", epochs=2, **ARGS), tmp_path / "one", host=host)

    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert a.keys() == b.keys()
    # 16 Adam steps of both optimisers; batch norm over the global batch. Equal up to
    # rounding: where a gradient is near zero the two processes' summation order can flip
    # its sign and Adam turns that into a whole step (lr 2e-4) on that weight, so some weights
    # differ by up to a few steps (seen: max 3.5e-4, 4.5% above 1e-5), while most agree to
    # rounding (median 7e-7). A missing or wrong average moves nearly every weight.
    diffs = torch.cat([(a[k].float() - b[k].float()).abs().flatten() for k in a])
    print(f"one vs two processes: max |diff| {diffs.max():.2e}, median {diffs.median():.2e}, "
          f"share above 1e-4 {(diffs > 1e-4).float().mean():.4f}")
    assert diffs.max() < 2e-3 and diffs.median() < 1e-6 and (diffs > 1e-4).float().mean() < 0.02
    two = json.loads((tmp_path / "two" / "config.json").read_text())
    assert two["training"]["processes"] == 2 and two["progress"]["epoch"] == 2
    for h1, h2 in zip(one.history, two["progress"]["history"], strict=True):
        assert h1 == pytest.approx(h2, rel=1e-3)  # the losses follow the weights
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        [".lock", "checkpoints", "config.json"]
    assert sorted(p.name for p in checkpoint_file(tmp_path / "two").parent.iterdir()) == \
        ["model.safetensors", "training_state.pt"]


@pytest.mark.slow
def test_a_stochastic_model_trains_data_parallel_and_resumes(tmp_path, host):
    """The VAE draws eps independently per process: same loss up to sampling noise."""
    done = torchrun(tmp_path, *cli_args(model="vae", width=8, latent_dim=8, epochs=1,
                                        out=tmp_path / "two", **ARGS))
    assert done.stdout.count("wrote ") == 1  # only rank 0 writes and reports
    state = torch.load(checkpoint_file(tmp_path / "two", STATE), weights_only=True)
    assert len(state["rank_rng"]) == 2  # each process's random stream, for resuming
    assert not torch.equal(state["rank_rng"][0]["torch_rng"], state["rank_rng"][1]["torch_rng"])
    torchrun(tmp_path, *cli_args(epochs=2, device="cpu", resume=tmp_path / "two"))
    two = json.loads((tmp_path / "two" / "config.json").read_text())["progress"]["history"]
    one = train(TrainSettings(model="vae", width=8, latent_dim=8, epochs=2, **ARGS),
                tmp_path / "one", host=host).history
    assert len(two) == 2
    for h1, h2 in zip(one, two, strict=True):
        assert h1["loss"] == pytest.approx(h2["loss"], rel=0.02)


def test_the_global_batch_must_split_evenly(tmp_path, host, monkeypatch):
    ctx = distributed.DistContext(rank=0, world=3, local_rank=0, device=torch.device("cpu"),
                                  backend="gloo")
    monkeypatch.setattr(distributed, "init_from_environment", lambda device: ctx)
    monkeypatch.setattr(distributed.DistContext, "close", lambda self: None)
    with pytest.raises(UsageError, match="divisible by the number of processes, 3"):
        train(TrainSettings(model="vae", epochs=1, **ARGS), tmp_path, host=host)


def test_shards_of_a_global_batch_concatenate_to_it():
    import numpy as np

    batch = np.arange(12)
    shards = [distributed.shard(batch, distributed.DistContext(r, 3, r, None, "gloo"))
              for r in range(3)]
    assert np.array_equal(np.concatenate(shards), batch)
    assert distributed.shard(batch, None) is batch
    assert len({distributed.rank_seed(0, r) for r in range(4)}) == 4


def test_sync_batchnorm_is_plain_batchnorm_on_one_process_and_keeps_the_state_dict():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    keys = list(net.state_dict())
    x = torch.randn(8, 1, 6, 6)
    expected = net(x)
    converted = distributed.convert_sync_batchnorm(net)
    assert type(net[1]) is distributed.SyncBatchNorm2d and list(net.state_dict()) == keys
    assert torch.allclose(net(x), expected)  # no process group: local statistics
    distributed.revert_sync_batchnorm(converted)
    assert type(net[1]) is torch.nn.BatchNorm2d
