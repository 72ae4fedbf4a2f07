"""Bad input on the command line: found before any work, one line, exit code 2; outputs are
written atomically, so a full disk leaves the previous file."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from genae_studio.cli import main
from genae_studio.runs import CONFIG, checkpoint_file

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train", "--model", "vae", "--data", "digits", "--epochs", "1", "--batch-size", "8",
         "--width", "8", "--latent-dim", "8", "--limit", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def one_line_error(capsys, argv, *expected):
    """Runs the command; asserts exit code 2 and a single stderr line holding ``expected``."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for text in expected:
        assert text in err, err
    return err


def usage_error(capsys, argv, *expected):
    """argparse refusals exit through SystemExit(2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(t in err for t in expected), err


@pytest.mark.parametrize("flag,value", [("--lr", "nan"), ("--lr", "-1"), ("--lr", "0"),
                                        ("--lr", "inf"), ("--noise-std", "nan"),
                                        ("--noise-std", "-0.5")])
def test_bad_rates_are_refused_up_front(capsys, tmp_path, flag, value):
    usage_error(capsys, [*TRAIN, flag, value, "--out", str(tmp_path / "r")], flag)
    assert not (tmp_path / "r").exists()


def test_train_refuses_to_replace_a_run_unless_asked(capsys, run_dir, tmp_path):
    before = checkpoint_file(run_dir).read_bytes()
    one_line_error(capsys, [*TRAIN, "--model", "aae", "--out", str(run_dir)],
                   "already holds a run", "--resume", "--overwrite")
    assert checkpoint_file(run_dir).read_bytes() == before
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main([*TRAIN, "--model", "aae", "--out", str(copy), "--overwrite"]) == 0
    assert json.loads((copy / CONFIG).read_text())["model"] == "aae"


@pytest.mark.parametrize("extra,named", [
    (["--model", "aae"], "--model aae (the run: vae)"),
    (["--latent-dim", "16"], "--latent-dim 16 (the run: 8)"),
    (["--lr", "1e6"], "--lr 1000000.0 (the run: 0.0002)"),
])
def test_resume_refuses_options_that_disagree_with_the_run(capsys, run_dir, extra, named):
    one_line_error(capsys, ["train", "--resume", str(run_dir), "--epochs", "2", "--device",
                            "cpu", *extra], named, "disagree")


def test_resume_with_the_runs_own_options_continues(capsys, run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["train", "--resume", str(copy), "--epochs", "2", "--model", "vae",
                 "--latent-dim", "8", "--device", "cpu"]) == 0
    assert json.loads((copy / CONFIG).read_text())["progress"]["epoch"] == 2


@pytest.mark.parametrize("args,expected", [
    (["--out", "x.xyz"], "unknown extension '.xyz'"),
    (["--out", "{tmp}"], "is a folder"),
    (["--npz", "a.txt"], "--npz a.txt: unknown extension"),
    (["--device", "meta"], "device 'meta' is not supported"),
    (["--device", "xla"], "device 'xla'"),
    (["--device", "cuda:7"], "device 'cuda:7'"),
])
def test_sample_checks_its_arguments_before_working(capsys, run_dir, tmp_path, monkeypatch,
                                                    args, expected):
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    one_line_error(capsys, ["sample", "--checkpoint", str(run_dir), *args], expected)
    assert sorted(os.listdir(tmp_path)) == []


def test_interpolate_refuses_negative_steps(capsys, run_dir, tmp_path):
    one_line_error(capsys, ["interpolate", "--checkpoint", str(run_dir), "--steps", "-1",
                            "--out", str(tmp_path / "i.png")], "--steps must be >= 0")
    assert not (tmp_path / "i.png").exists()


def test_a_run_with_nan_weights_is_refused(capsys, run_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    raw = json.loads((bad / CONFIG).read_text())
    raw.pop("checkpoint")
    raw["format_version"] = 1  # as an older version wrote runs
    weights = load_file(checkpoint_file(run_dir))
    weights["decoder.net.0.weight"][0] = float("nan")
    save_file(weights, bad / "model.safetensors")
    (bad / CONFIG).write_text(json.dumps(raw))
    one_line_error(capsys, ["sample", "--checkpoint", str(bad), "--out",
                            str(tmp_path / "g.png")], "NaN", "model.safetensors")
    assert not (tmp_path / "g.png").exists()


def test_a_hostile_training_state_is_refused_in_one_clean_line(capsys, run_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    import io

    from genae_studio.runs._format import digest
    buffer = io.BytesIO()
    torch.save({"optimizers": {}, "e": Exploit()}, buffer)
    raw = json.loads((bad / CONFIG).read_text())
    checkpoint_file(bad, "training_state.pt").write_bytes(buffer.getvalue())
    raw["checkpoint"]["files"]["training_state.pt"] = digest(buffer.getvalue())
    (bad / CONFIG).write_text(json.dumps(raw))
    err = one_line_error(capsys, ["train", "--resume", str(bad), "--epochs", "2", "--device",
                                  "cpu"], "refused to load", "posix.system")
    assert "weights_only" not in err and "\x1b" not in err
    assert not (tmp_path / "pwned").exists()


def test_sample_in_batches_matches_one_batch_in_eval_mode(run_dir, tmp_path):
    """Batches change nothing but batch-norm statistics, absent in --bn-mode eval."""
    for name, batch in (("one", "64"), ("many", "3")):
        assert main(["sample", "--checkpoint", str(run_dir), "--n", "10", "--bn-mode", "eval",
                     "--batch-size", batch, "--out", str(tmp_path / f"{name}.png"),
                     "--npz", str(tmp_path / f"{name}.npz")]) == 0
    one, many = np.load(tmp_path / "one.npz"), np.load(tmp_path / "many.npz")
    assert one["x"].shape == many["x"].shape == (4, 10, 1, 32, 32)
    # The same random stream, drawn in another order: same shapes, valid images.
    assert 0 <= many["x"].min() and many["x"].max() <= 1
    from genae_studio.imaging import grid
    labels = [f"t = {t}" for t in (0, 1, 5, 10)]  # each row is labelled with its step
    assert np.array_equal(np.asarray(Image.open(tmp_path / "many.png")),
                          grid(many["x"], row_labels=labels)[..., 0])


FULL_DISK = """
import resource, signal, sys
from genae_studio.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def test_a_full_disk_during_sample_keeps_the_previous_outputs(run_dir, tmp_path):
    out, npz = tmp_path / "grid.png", tmp_path / "chain.npz"
    assert main(["sample", "--checkpoint", str(run_dir), "--n", "4", "--out", str(out),
                 "--npz", str(npz)]) == 0
    old_png, old_npz = out.read_bytes(), npz.read_bytes()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    for limit in (2000, 70_000):  # fails on the grid's scratch file; on the npz's
        done = subprocess.run([sys.executable, "-c", FULL_DISK, str(limit), "sample",
                               "--checkpoint", str(run_dir), "--n", "64", "--out", str(out),
                               "--npz", str(npz)], capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "cannot write" in done.stderr, done.stderr
        assert npz.read_bytes() == old_npz and out.read_bytes() == old_png
        assert sorted(os.listdir(tmp_path)) == ["chain.npz", "grid.png"]  # no temporaries
