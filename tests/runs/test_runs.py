import json
import os
import pickle

import pytest
import torch
from helpers import tiny_model

from genae_studio.api import load_run
from genae_studio.errors import CheckpointError
from genae_studio.fileio import atomic_write
from genae_studio.runs import (
    CONFIG,
    STATE,
    WEIGHTS,
    RunConfig,
    load_training_state,
    read_config,
    save_run,
)


def save_tiny(host, out, name="aae", epoch=1):
    model, hparams = tiny_model(host, name)
    opts = {k: torch.optim.Adam(v) for k, v in model.optimizer_groups().items()}
    config = RunConfig(plugin=host.model(name).plugin, model=name, hparams=hparams,
                       progress={"epoch": epoch, "step": 0})
    save_run(out, config, model, opts, {"torch_rng": torch.get_rng_state(), "epoch": epoch,
                                        "step": 0})
    return model


def unlock_manifest(run_dir):
    """Drop the manifest's hashes: the tests below then reach the per-file checks."""
    raw = json.loads((run_dir / CONFIG).read_text())
    folder = raw.pop("checkpoint")["folder"]
    raw["format_version"] = 1
    for name in (WEIGHTS, STATE):
        if (run_dir / folder / name).exists():
            os.replace(run_dir / folder / name, run_dir / name)
    (run_dir / CONFIG).write_text(json.dumps(raw))


@pytest.mark.parametrize("name", ["vae", "aae"])
def test_a_checkpoint_round_trip_reproduces_outputs_exactly(host, tmp_path, name):
    model = save_tiny(host, tmp_path, name)
    with torch.no_grad():  # move the running statistics away from their defaults
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
    config = read_config(tmp_path)
    save_run(tmp_path, config, model)
    run = load_run(tmp_path, device="cpu", host=host)
    model.eval().to(memory_format=torch.channels_last)  # the layout load_run uses
    z = torch.randn(5, model.latent_dim)
    x = torch.rand(5, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(run.decode(z, bn_mode="eval"), model.decode(z))
        assert torch.equal(run.encode(x, bn_mode="eval"), model.encode(x, sample=False))
    for key, value in model.state_dict().items():
        assert torch.equal(run.model.state_dict()[key], value)
    assert run.config.hparams == config.hparams


def test_a_pickle_payload_is_refused_without_running_it(host, tmp_path):
    save_tiny(host, tmp_path)
    unlock_manifest(tmp_path)  # as if the manifest had been forged too
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / STATE).write_bytes(pickle.dumps({"optimizers": Exploit()}))
    with pytest.raises(CheckpointError, match="refused to load") as raised:
        load_training_state(tmp_path)
    assert "\n" not in str(raised.value)
    torch.save({"optimizers": {}, "evil": Exploit()}, tmp_path / STATE)
    with pytest.raises(CheckpointError, match="refused to load") as raised:
        load_training_state(tmp_path)
    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message and "posix.system" in message
    assert "weights_only" not in message
    (tmp_path / WEIGHTS).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_run(tmp_path, device="cpu", host=host)
    assert not marker.exists()


def test_corrupt_and_foreign_files_give_clear_errors(host, tmp_path):
    with pytest.raises(CheckpointError, match="no such run folder"):
        load_run(tmp_path / "missing", host=host)
    with pytest.raises(CheckpointError, match="no config.json"):
        load_run(tmp_path, host=host)
    save_tiny(host, tmp_path)
    unlock_manifest(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_run(tmp_path, device="cpu", host=host)
    save_tiny(host, tmp_path)
    (tmp_path / CONFIG).write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt config"):
        load_run(tmp_path, host=host)
    (tmp_path / CONFIG).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a genae-studio run"):
        load_run(tmp_path, host=host)


def test_weights_of_another_model_do_not_load(host, tmp_path):
    save_tiny(host, tmp_path, "aae")
    raw = json.loads((tmp_path / CONFIG).read_text())
    raw["hparams"]["latent_dim"] = 12
    (tmp_path / CONFIG).write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        load_run(tmp_path, device="cpu", host=host)


def test_a_run_whose_plugin_is_missing_names_it(host, tmp_path):
    save_tiny(host, tmp_path, "vae")
    raw = json.loads((tmp_path / CONFIG).read_text())
    raw.update(model="myencoder", plugin="myencoder")
    (tmp_path / CONFIG).write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="--plugin myencoder"):
        load_run(tmp_path, host=host)


def test_a_crash_during_a_save_leaves_the_previous_file(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"good")

    def crash(path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_bytes() == b"good"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
