"""Fault injection on checkpoints: every write, fsync and rename fails in turn; readers race a
writer; hostile and inconsistent run folders are refused with one line."""
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import tiny_model
from safetensors.torch import save_file

from genae_studio import fileio
from genae_studio.api import load_run
from genae_studio.errors import CheckpointError, TrainingDiverged, UsageError
from genae_studio.runs import (
    CONFIG,
    STATE,
    WEIGHTS,
    RunConfig,
    checkpoint_file,
    read_checkpoint,
    read_config,
    run_lock,
    save_run,
)
from genae_studio.runs import _save as run_save
from genae_studio.runs._format import digest as file_digest
from genae_studio.training import TrainSettings, train

TINY = dict(data="digits", batch_size=8, width=8, latent_dim=8, limit=16, device="cpu")


class FaultyOS:
    """The os module, except that the ``fail_at``-th write, fsync, rename, replace or mkdir
    raises ENOSPC (None: count them only)."""

    FAULTY = ("write", "fsync", "rename", "replace", "mkdir")

    def __init__(self, fail_at=None):
        self.fail_at, self.calls = fail_at, []

    def __getattr__(self, name):
        real = getattr(os, name)
        if name not in self.FAULTY:
            return real

        def call(*args, **kwargs):
            self.calls.append(name)
            if len(self.calls) - 1 == self.fail_at:
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            return real(*args, **kwargs)

        return call


def inject(monkeypatch, faulty):
    monkeypatch.setattr(fileio, "os", faulty)
    monkeypatch.setattr(run_save, "os", faulty)


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_consistent(run_dir):
    """The committed checkpoint loads, and its config and training state agree."""
    snap = read_checkpoint(run_dir, state=True)
    assert snap.state["epoch"] == snap.config.progress["epoch"]
    assert len(snap.config.progress["history"]) == snap.config.progress["epoch"]
    return snap.config.progress["epoch"]


@pytest.fixture(scope="module")
def one_epoch(host, tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    train(TrainSettings(epochs=1, **TINY), out, host=host)
    return out


def test_a_checkpoint_is_one_unit_named_by_its_manifest(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
    raw = json.loads((run / CONFIG).read_text())
    assert raw["format_version"] == 2 and raw["progress"]["epoch"] == 2
    folder = run / raw["checkpoint"]["folder"]
    assert [p.name for p in (run / "checkpoints").iterdir()] == [folder.name]  # old one gone
    for name, digest in raw["checkpoint"]["files"].items():
        data = (folder / name).read_bytes()
        assert digest == {"bytes": len(data), "sha256": __import__("hashlib").sha256(data)
                          .hexdigest()}
    assert assert_consistent(run) == 2


@pytest.mark.slow
def test_every_write_fsync_and_rename_of_a_save_can_fail_and_the_run_stays_whole(
        host, one_epoch, tmp_path, monkeypatch):
    reference = train(TrainSettings(epochs=2, **TINY), tmp_path / "straight", host=host).model
    counting = FaultyOS()
    probe = tmp_path / "probe"
    shutil.copytree(one_epoch, probe)
    inject(monkeypatch, counting)
    train(TrainSettings(epochs=2, device="cpu"), probe, resume=probe, host=host)
    monkeypatch.undo()
    operations = counting.calls
    assert {"write", "fsync", "rename", "replace", "mkdir"} <= set(operations)
    outcomes = set()
    for k, name in enumerate(operations):
        run = tmp_path / f"run{k}"
        shutil.copytree(one_epoch, run)
        inject(monkeypatch, FaultyOS(fail_at=k))
        if k == 0:  # the lock's note of its holder's pid: only for messages, not needed
            assert name == "write"
            train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
        else:
            with pytest.raises(CheckpointError, match="cannot save the checkpoint.*No space"):
                train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
        monkeypatch.undo()
        epoch = assert_consistent(run)  # the old checkpoint, or the new one, complete
        outcomes.add(epoch)
        assert epoch == 1 or k == 0 or k >= operations.index("replace"), (k, name)
        resumed = train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
        assert assert_consistent(run) == 2
        final = load_run(run, device="cpu", host=host).model.state_dict()
        assert all(torch.equal(final[key], value) for key, value in
                   reference.state_dict().items()), f"fault at {name} #{k}"
        assert resumed.epochs_done == 2
        leftovers = [f for f in files_under(run) if ".tmp" in f]
        assert not leftovers, (k, name, leftovers)
        shutil.rmtree(run)
    assert outcomes == {1, 2}  # faults before the commit keep the old, after it the new


def test_orphans_of_a_killed_writer_are_cleaned_by_the_next_run(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    orphans = [run / ".training_state.pt.x1y2z3.tmp", run / ".config.json.abc.tmp",
               run / "checkpoints" / ".e00002-s0000000-0badf00d.tmp" / WEIGHTS,
               run / "checkpoints" / "e00002-s0000000-deadbeef" / WEIGHTS]
    for path in orphans:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
    assert not any(p.exists() or p.parent.exists() and p.parent != run for p in orphans)
    assert len(list((run / "checkpoints").iterdir())) == 1


def test_a_file_that_disagrees_with_the_manifest_is_refused_naming_the_run(
        host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    weights = checkpoint_file(run, WEIGHTS)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{run}: .*does not match the manifest"):
        load_run(run, device="cpu", host=host)
    shutil.copy(checkpoint_file(one_epoch, WEIGHTS), weights)
    checkpoint_file(run, STATE).write_bytes(checkpoint_file(one_epoch, STATE).read_bytes()[:-9])
    with pytest.raises(CheckpointError, match="does not match the manifest"):
        train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)


def legacy_run(host, folder, epoch=1, state_epoch=None, name="aae"):
    """A format-1 folder, as genae-studio wrote them before checkpoints became one unit."""
    model, hparams = tiny_model(host, name)
    folder.mkdir(parents=True)
    opts = {k: torch.optim.Adam(v) for k, v in model.optimizer_groups().items()}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS)
    torch.save({"optimizers": {k: o.state_dict() for k, o in opts.items()},
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch if state_epoch is None else state_epoch, "step": 0},
               folder / STATE)
    doc = RunConfig(plugin=host.model(name).plugin, model=name, hparams=hparams,
                    progress={"epoch": epoch, "step": 0}).to_json()
    doc["format_version"] = 1
    (folder / CONFIG).write_text(json.dumps(doc))
    return model


def test_old_run_folders_still_load_and_their_mixed_files_are_refused(host, tmp_path):
    model = legacy_run(host, tmp_path / "old")
    run = load_run(tmp_path / "old", device="cpu", host=host)
    assert all(torch.equal(run.model.state_dict()[k], v) for k, v in model.state_dict().items())
    assert read_checkpoint(tmp_path / "old", state=True).state["epoch"] == 1
    legacy_run(host, tmp_path / "mixed", epoch=3, state_epoch=2)  # 83 steps vs 81
    with pytest.raises(CheckpointError, match="different checkpoints"):
        read_checkpoint(tmp_path / "mixed", state=True)


def test_an_old_run_resumed_in_place_moves_to_the_new_layout(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    raw = json.loads((run / CONFIG).read_text())
    folder = run / raw.pop("checkpoint")["folder"]
    raw["format_version"] = 1
    for name in (WEIGHTS, STATE):
        os.replace(folder / name, run / name)
    shutil.rmtree(run / "checkpoints")
    (run / CONFIG).write_text(json.dumps(raw))
    train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
    assert not (run / WEIGHTS).exists() and not (run / STATE).exists()
    assert assert_consistent(run) == 2


def test_readers_racing_a_writer_always_see_one_complete_checkpoint(host, tmp_path):
    model, hparams = tiny_model(host, "vae")
    opts = {k: torch.optim.Adam(v) for k, v in model.optimizer_groups().items()}
    stop = threading.Event()

    def save(epoch):
        config = RunConfig(plugin="vae", model="vae", hparams=hparams,
                           progress={"epoch": epoch, "step": 0,
                                     "history": [{"epoch": e + 1} for e in range(epoch)]})
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(epoch)
        save_run(tmp_path, config, model, opts,
                 {"torch_rng": torch.get_rng_state(), "epoch": epoch, "step": 0})

    save(0)

    def writer():
        epoch = 1
        while not stop.is_set():
            save(epoch)
            epoch += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = set()
        for _ in range(60):
            snap = read_checkpoint(tmp_path, state=True)
            epoch = snap.config.progress["epoch"]
            assert snap.state["epoch"] == epoch
            assert float(snap.weights["encoder.net.0.weight"].flatten()[0]) == epoch
            seen.add(epoch)
    finally:
        stop.set()
        thread.join()
    assert len(seen) > 1  # the writer did move on while the readers read


def test_weights_that_are_not_finite_are_never_saved_nor_loaded(host, tmp_path):
    model, hparams = tiny_model(host, "vae")
    config = RunConfig(plugin="vae", model="vae", hparams=hparams)
    save_run(tmp_path, config, model)
    with torch.no_grad():
        next(model.parameters())[0] = float("nan")
    with pytest.raises(CheckpointError, match="refused to save a diverged model"):
        save_run(tmp_path, config, model)
    assert load_run(tmp_path, device="cpu", host=host)  # the good one is still there
    legacy = tmp_path / "forged"
    legacy_run(host, legacy, name="vae")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_file(state, legacy / WEIGHTS)  # a NaN written by an older version or by hand
    with pytest.raises(CheckpointError, match="weights are unusable.*NaN"):
        load_run(legacy, device="cpu", host=host)


def test_a_diverging_last_update_of_an_epoch_is_not_saved(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    before = checkpoint_file(run).read_bytes()

    def poison_the_last_update(model):
        step = model.training_step
        calls = []

        def training_step(x, step_fn):
            losses = step(x, step_fn)  # the loss is computed before the update: finite
            calls.append(1)
            if len(calls) == 2:  # the last step of the epoch (2 steps)
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))
            return losses

        model.training_step = training_step

    with pytest.raises(TrainingDiverged, match=r"NaN.*kept the last good checkpoint.*epoch 1"):
        train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host,
              on_model=poison_the_last_update)
    assert checkpoint_file(run).read_bytes() == before
    assert assert_consistent(run) == 1


@pytest.mark.parametrize("settings,match", [
    (dict(lr=float("nan")), "--lr must be a finite number > 0"),
    (dict(lr=-1.0), "--lr must be"), (dict(lr=0.0), "--lr must be"),
    (dict(lr=float("inf")), "--lr must be"),
    (dict(noise_std=float("nan")), "--noise-std must be a finite number >= 0"),
    (dict(noise_std=-0.1), "--noise-std must be")])
def test_bad_hyperparameters_are_refused_before_any_work(host, tmp_path, settings, match):
    with pytest.raises(UsageError, match=match):
        train(TrainSettings(**{**TINY, **settings}), tmp_path / "run", host=host)
    assert not (tmp_path / "run").exists()


def test_an_existing_run_is_replaced_only_when_asked(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    with pytest.raises(UsageError, match="already holds a run.*--resume.*--overwrite"):
        train(TrainSettings(model="aae", epochs=1, **TINY), run, host=host)
    assert read_config(run).model == "vae"
    train(TrainSettings(model="aae", epochs=1, **TINY), run, host=host, overwrite=True)
    assert read_config(run).model == "aae" and load_run(run, host=host).name == "aae"
    assert len(list((run / "checkpoints").iterdir())) == 1


def test_resume_refuses_model_settings_that_disagree_with_the_run(host, one_epoch, tmp_path):
    with pytest.raises(UsageError, match=r"--latent-dim 16 \(the run: 8\).*disagree"):
        train(TrainSettings(epochs=2, device="cpu", latent_dim=16), tmp_path / "x",
              resume=one_epoch, host=host)


HOLD = """
import sys, time
from genae_studio.runs import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_naming_the_folder_and_the_holder(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError, match=rf"{run}: another process is writing this "
                                                  rf"run \(held by pid {holder.pid}\)"):
            train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)
    finally:
        holder.kill()
        holder.wait()
    with run_lock(run):  # released when its holder dies
        pass
    assert assert_consistent(run) == 1


def forge_state(run, state_bytes):
    """Replace the training state and update the manifest, as a hostile file would come."""
    raw = json.loads((run / CONFIG).read_text())
    checkpoint_file(run, STATE).write_bytes(state_bytes)
    raw["checkpoint"]["files"][STATE] = file_digest(state_bytes)
    (run / CONFIG).write_text(json.dumps(raw))


def test_a_deflate_bomb_is_refused_before_it_is_unpacked(host, one_epoch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (200 << 20))
    assert len(buffer.getvalue()) < 1 << 20
    forge_state(run, buffer.getvalue())
    with pytest.raises(CheckpointError, match=r"declares 200 MB unpacked"):
        read_checkpoint(run, state=True)


@pytest.mark.parametrize("change,match", [
    (lambda s: s.update(model="aae"), "training state of model 'aae'"),
    (lambda s: s.pop("optimizers"), "not a genae-studio training state"),
    (lambda s: s.update(torch_rng=torch.zeros(7, dtype=torch.uint8)), "random-number"),
    (lambda s: s.update(epoch=5), "different checkpoints"),
    (lambda s: s["optimizers"].update(extra=s["optimizers"]["model"]), "optimisers"),
])
def test_a_training_state_is_checked_before_use(host, one_epoch, tmp_path, change, match):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    state = torch.load(checkpoint_file(run, STATE), weights_only=True)
    change(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    forge_state(run, buffer.getvalue())
    with pytest.raises(CheckpointError, match=match):
        train(TrainSettings(epochs=2, device="cpu"), run, resume=run, host=host)


@pytest.mark.parametrize("change,match", [
    (lambda c: c["hparams"].update(latent_dim=10**9), "latent_dim must be an integer from 1"),
    (lambda c: c["hparams"].update(width=0), "width must be"),
    (lambda c: c["hparams"].update(image_size=-64), "image_size must be"),
    (lambda c: c["hparams"].update(channels="3"), "channels must be"),
    (lambda c: c.update(format_version=99), "newer genae-studio"),
    (lambda c: c.update(format_version="2"), "unknown format_version"),
    (lambda c: c["checkpoint"].update(folder="../../etc"), "bad or missing checkpoint"),
])
def test_config_json_is_validated(host, one_epoch, tmp_path, change, match):
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    raw = json.loads((run / CONFIG).read_text())
    change(raw)
    (run / CONFIG).write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=match):
        load_run(run, device="cpu", host=host)


def test_a_config_that_is_a_device_or_huge_is_not_read(host, tmp_path):
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / CONFIG).symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_config(tmp_path / "zero")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / CONFIG).write_text(" " * (5 << 20) + "{}")
    with pytest.raises(CheckpointError, match="more than the 4 MB"):
        read_config(tmp_path / "big")


@pytest.mark.slow
def test_kill_9_at_random_moments_always_leaves_one_consistent_checkpoint(tmp_path):
    """At least 20 kills of a width-64 training (a 33 MB checkpoint per 2 steps), each at a
    random moment of a checkpoint cycle; after each, the run is consistent (config, weights
    and optimiser steps agree) and a resume continues it (tests/kill9_driver.py)."""
    driver = Path(__file__).with_name("kill9_driver.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(driver.parents[1]), str(driver.parents[1] / "plugins")])}
    done = subprocess.run([sys.executable, str(driver), str(tmp_path / "run"), "20", "0"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nkill -9 loop: {summary}")
    assert summary["kills"] == 20 and summary["leftovers"] == []
    assert summary["epochs"] > 1
