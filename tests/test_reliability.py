"""The last cases of the reliability battery (issue 19): hostile paths, hostile plugins and
signals. Each is one line on stderr, exit 2 (or 128 + signal), found before any work, and
nothing left behind."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genae_studio.cli import main
from genae_studio.runs import CONFIG, checkpoint_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "vae", "--data", "digits", "--batch-size", "8", "--width", "8",
        "--latent-dim", "8", "--limit", "16", "--device", "cpu"]
TRAIN = ["train", *TINY, "--epochs", "1"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"),
                                                     os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("reliability") / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def one_line(capsys, argv, *expected, code=2):
    """Runs the command; asserts the exit code and one stderr line holding ``expected``."""
    capsys.readouterr()
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for text in expected:
        assert text in err, err
    return err


def argparse_refusal(capsys, argv, *expected):
    capsys.readouterr()
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(t in err for t in expected), err


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def read_only(tmp_path):
    """A folder that cannot be written in, holding ``run``'s copy if asked: a read-only
    tmpfs where we may mount one (root), else a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("root without permission to mount a read-only file system")

    def seal(run: Path | None = None) -> Path:
        if run is not None:
            shutil.copytree(run, folder / "run")
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o555)
        return folder

    yield seal
    if mounted:
        subprocess.run(["umount", str(folder)], check=False)
    else:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)


# --- paths -------------------------------------------------------------------------------

def test_case_sample_out_with_an_over_long_name_is_one_line(capsys, run_dir, tmp_path):
    one_line(capsys, ["sample", "--checkpoint", str(run_dir), "--n", "2", "--device", "cpu",
                      "--out", str(tmp_path / ("a" * 300 + ".png"))],
             "--out", "file name too long")
    long_path = tmp_path.joinpath(*["b" * 200] * 25, "grid.png")
    one_line(capsys, ["sample", "--checkpoint", str(run_dir), "--n", "2", "--device", "cpu",
                      "--out", str(long_path)], "--out", "path too long")
    assert not any(tmp_path.iterdir())


def test_case_train_out_with_an_over_long_name_is_one_line(capsys, tmp_path):
    one_line(capsys, [*TRAIN, "--out", str(tmp_path / ("a" * 300))], "file name too long")
    assert not any(tmp_path.iterdir())


def test_case_train_out_in_a_symlink_loop_is_one_line(capsys, tmp_path):
    (tmp_path / "loopA").symlink_to(tmp_path / "loopB")
    (tmp_path / "loopB").symlink_to(tmp_path / "loopA")
    one_line(capsys, [*TRAIN, "--out", str(tmp_path / "loopA")], "--out", "symbolic link loop")
    one_line(capsys, [*TRAIN, "--out", str(tmp_path / "loopA" / "run")], "--out",
             "symbolic link loop")


def test_case_train_out_and_resume_on_a_read_only_place_are_one_line(capsys, run_dir,
                                                                     read_only):
    folder = read_only(run_dir)
    one_line(capsys, [*TRAIN, "--out", str(folder / "new")], "--out", "cannot write in")
    one_line(capsys, ["train", "--resume", str(folder / "run"), "--epochs", "2", "--device",
                      "cpu"], "--resume", "cannot write in")


def test_case_eval_json_and_figures_on_a_read_only_place_are_refused_before_the_work(
        capsys, run_dir, read_only, monkeypatch):
    folder = read_only()

    def no_work(*args, **kwargs):
        raise AssertionError("the evaluation started")

    monkeypatch.setattr("genae_studio.commands.eval._load_runs", no_work)
    base = ["eval", "--checkpoint", str(run_dir), "--n", "10", "--feature-steps", "2",
            "--device", "cpu"]
    one_line(capsys, [*base, "--json", str(folder / "x.json")], "--json", "cannot write in")
    one_line(capsys, [*base, "--figures", str(folder / "figs")], "--figures",
             "cannot write in")


# --- caches --------------------------------------------------------------------------------

def _tiny_images(n=48, size=32):
    from genae_studio.data import ArrayDataset

    rng = np.random.default_rng(0)
    return ArrayDataset((rng.random((n, 1, size, size)) * 255).astype(np.uint8), name="noise")


def _fill_caches():
    """Compute the three cached results for a tiny dataset (feature network, pixel PCA,
    precise batch-norm statistics)."""
    from helpers import tiny_model

    from genae_studio import precise_bn
    from genae_studio.features import FeatureSettings, feature_extractor
    from genae_studio.pixel_pca import pixel_pca
    from genae_studio.plugins import load_plugins

    data = _tiny_images()
    feature_extractor(data, FeatureSettings(steps=2, batch_size=8), log=print)
    pixel_pca(data, dim=2, log=print)
    model, _ = tiny_model(load_plugins([], autoload=False))
    precise_bn.prepare(model, data, precise_bn.PreciseSettings(batches=2, batch_size=8),
                       log=print)


def test_case_caches_are_written_atomically_with_plain_permissions(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(cache))
    old = os.umask(0o022)
    try:
        _fill_caches()
    finally:
        os.umask(old)
    files = [p for p in cache.rglob("*") if p.is_file()]
    kinds = {p.parent.name for p in files}
    assert {"features", "pixel-pca", "precise-bn"} <= kinds, files
    for path in files:
        if path.parent.name in ("features", "pixel-pca", "precise-bn"):
            assert path.stat().st_mode & 0o777 == 0o644, path
    assert not [p for p in cache.rglob(".*")], "temporary files left"


def test_case_a_file_size_limit_on_the_cache_is_one_log_line(tmp_path):
    """prlimit --fsize: the cache cannot be written; the result is still computed."""
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path[:0] = [{str(ROOT / 'tests')!r}]
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        from test_reliability import _fill_caches
        _fill_caches()
        print("computed")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**ENV, "GENAE_STUDIO_CACHE": str(tmp_path / "cache")},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "computed" in done.stdout
    assert "could not cache the feature network" in done.stdout
    assert "File too large" in done.stdout
    assert "Traceback" not in done.stderr
    assert not [p for p in (tmp_path / "cache").rglob(".*")], "temporary files left"


def test_case_cache_variable_naming_a_file_is_one_line(capsys, run_dir, tmp_path,
                                                        monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(blocker))
    one_line(capsys, ["sample", "--checkpoint", str(run_dir), "--n", "2", "--device", "cpu",
                      "--bn-mode", "precise", "--out", str(tmp_path / "g.png")],
             "GENAE_STUDIO_CACHE", "not a folder")
    assert not (tmp_path / "g.png").exists()


# --- values --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_case_sample_refuses_a_bad_noise_std(capsys, run_dir, tmp_path, value):
    argparse_refusal(capsys, ["sample", "--checkpoint", str(run_dir), "--noise-std", value,
                              "--out", str(tmp_path / "g.png")], "--noise-std")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("steps", ["0,,1", "0,1,", ",5"])
def test_case_steps_with_an_empty_item_are_refused(capsys, run_dir, tmp_path, steps):
    argparse_refusal(capsys, ["sample", "--checkpoint", str(run_dir), "--steps", steps,
                              "--out", str(tmp_path / "g.png")], "--steps", repr(steps))


# --- a config that eats the machine ----------------------------------------------------------

def _huge_config(run_dir: Path, tmp_path: Path) -> Path:
    big = tmp_path / "big"
    shutil.copytree(run_dir, big)
    raw = json.loads((big / CONFIG).read_text())
    raw["hparams"]["width"] = 4096  # inside the bound, tens of GiB once built
    (big / CONFIG).write_text(json.dumps(raw))
    return big


@pytest.fixture
def no_huge_build(monkeypatch):
    """Fails a test that builds a model wider than 64 anywhere but on the meta device."""
    from genae_studio.registry import ModelSpec

    build = ModelSpec.build

    def guarded(self, hparams):
        if hparams.get("width", 0) > 64 and torch.empty(0).device.type != "meta":
            raise AssertionError(f"built a model of width {hparams['width']}")
        return build(self, hparams)

    monkeypatch.setattr(ModelSpec, "build", guarded)


def test_case_a_config_describing_a_huge_model_is_refused_before_building_it(
        capsys, run_dir, tmp_path, no_huge_build):
    big = _huge_config(run_dir, tmp_path)
    one_line(capsys, ["sample", "--checkpoint", str(big), "--n", "2", "--device", "cpu",
                      "--out", str(tmp_path / "g.png")],
             "weights do not fit the model", "width 4096", "before building it")
    one_line(capsys, ["train", "--resume", str(big), "--epochs", "2", "--device", "cpu"],
             "weights do not fit the model", "width 4096")


def test_case_a_model_that_cannot_fit_in_memory_is_refused_before_building_it(
        capsys, run_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("genae_studio.preflight.available_memory", lambda: 1 << 10)
    one_line(capsys, ["sample", "--checkpoint", str(run_dir), "--n", "2", "--device", "cpu",
                      "--out", str(tmp_path / "g.png")], "of memory to load", "more than",
             "before building it")
    assert not (tmp_path / "g.png").exists()


# --- plugins ---------------------------------------------------------------------------------

def write_plugin(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def genae(*argv, timeout=300):
    """The command in a child process (a plugin that ends its process must not end pytest)."""
    return subprocess.run([sys.executable, "-m", "genae_studio", *argv], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def test_case_a_plugin_calling_os_exit_at_import_is_named(tmp_path):
    plugin = write_plugin(tmp_path, "exits_at_import", "import os\nos._exit(7)\n")
    done = genae("-p", str(plugin), "plugins", "--check", "gone")
    assert done.returncode == 1, done
    assert "FAIL" in done.stdout and "exits_at_import" in done.stdout
    assert "os._exit(7)" in done.stdout
    done = genae("-p", str(plugin), "train", "--model", "gone", "--out", str(tmp_path / "r"))
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and "exits_at_import" in done.stderr, done.stderr
    assert not (tmp_path / "r").exists()


def test_case_a_plugin_calling_os_exit_in_register_models_is_named(tmp_path):
    plugin = write_plugin(tmp_path, "exits_in_hook", """
        import os
        from genae_studio import hookimpl

        @hookimpl
        def register_models(register):
            os._exit(9)
    """)
    done = genae("-p", str(plugin), "plugins", "--check", "gone")
    assert done.returncode == 1, done
    assert "exits_in_hook" in done.stdout and "os._exit(9)" in done.stdout
    done = genae("-p", str(plugin), "train", "--model", "gone", "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "exits_in_hook" in done.stderr, done
    assert done.stderr.count("\n") == 1, done.stderr


def test_case_plugins_check_fails_a_plugin_that_hangs_at_import(tmp_path):
    plugin = write_plugin(tmp_path, "sleeps_at_import", "import time\ntime.sleep(600)\n")
    done = genae("-p", str(plugin), "plugins", "--check", "vae", "--timeout", "20")
    assert done.returncode == 1, done
    fails = [line for line in done.stdout.splitlines() if "FAIL " in line]
    assert len(fails) == 1 and "sleeps_at_import" in fails[0], done.stdout
    assert "--timeout 20" in fails[0]


def _tiny_model_plugin(folder: Path, name: str, in_factory: str) -> Path:
    return write_plugin(folder, name, f"""
        import os, signal, time
        from genae_studio import hookimpl
        from genae_studio.registry import ModelSpec

        def factory(**hparams):
            {in_factory}

        @hookimpl
        def register_models(register):
            register(ModelSpec("{name}", "a plugin that misbehaves", factory))
    """)


# A timeout long enough for a loaded machine to import torch in one step, short enough for
# a test; the processes that die do so at once whatever the timeout.
@pytest.mark.parametrize("name,in_factory,timeout,expected", [
    ("sleeps_in_factory", "time.sleep(600)", "20", "--timeout 20"),
    ("killed_in_factory", "os.kill(os.getpid(), signal.SIGKILL)", "300", "killed by SIGKILL"),
    ("exits_in_factory", "import posix; posix._exit(3)", "300", "exited with code 3"),
])
def test_case_plugins_check_fails_a_check_that_dies_or_hangs(tmp_path, name, in_factory,
                                                             timeout, expected):
    plugin = _tiny_model_plugin(tmp_path, name, in_factory)
    done = genae("-p", str(plugin), "plugins", "--check", name, "--timeout", timeout)
    assert done.returncode == 1, done
    fails = [line for line in done.stdout.splitlines() if "FAIL " in line]
    assert len(fails) == 1, done.stdout
    assert "build" in fails[0] and name in fails[0] and expected in fails[0], fails


def test_case_the_folder_dataset_passes_its_own_check_with_an_unreadable_file(capsys,
                                                                               tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            folder / f"{i:03d}.png")
    (folder / "000.png").write_bytes(b"not an image")  # the first file of the train split
    capsys.readouterr()
    assert main(["plugins", "--check", "folder", "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "all checks passed" in out


def test_case_an_unknown_model_after_a_failed_plugin_is_one_line(capsys, tmp_path):
    plugin = write_plugin(tmp_path, "hook_raises", """
        from genae_studio import hookimpl

        @hookimpl
        def register_models(register):
            raise RuntimeError("boom")
    """)
    one_line(capsys, ["-p", str(plugin), "train", "--model", "whatever", "--out",
                      str(tmp_path / "r")], "unknown model 'whatever'",
             "plugin hook_raises failed", "likely cause")
    assert not (tmp_path / "r").exists()


# --- signals ---------------------------------------------------------------------------------

class SignalArrived(Exception):
    """What the test's own handler raises: the command did not handle the signal itself."""


@pytest.fixture
def own_handlers():
    """Handlers for SIGTERM/SIGHUP that keep pytest alive if the command installs none."""
    def handler(signum, frame):
        raise SignalArrived(signum)

    before = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in before.items():
        signal.signal(s, h)


def _signal_on_call(monkeypatch, target: str, signum: int, call: int = 2):
    """Send ``signum`` to this process at the ``call``-th call of ``target``."""
    import importlib

    where, attribute = target.rsplit(".", 1)
    module_path, cls_name = where.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_path), cls_name)
    original = getattr(cls, attribute)
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, attribute, wrapped)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("command", ["sample", "interpolate"])
def test_case_sigterm_and_sighup_clean_up_like_ctrl_c(capsys, run_dir, tmp_path, monkeypatch,
                                                      own_handlers, signum, command):
    _signal_on_call(monkeypatch, "genae_studio.outputs.GridWriter.put", signum)
    out = tmp_path / "out"
    out.mkdir()
    argv = [command, "--checkpoint", str(run_dir), "--device", "cpu", "--out",
            str(out / "g.png"), "--npz", str(out / "g.npz")]
    argv += ["--n", "64", "--batch-size", "8"] if command == "sample" else \
        ["--data", "digits", "--pairs", "4"]
    one_line(capsys, argv, "interrupted", code=128 + signum)
    assert list(out.iterdir()) == [], "scratch or outputs left behind"


def test_case_sigterm_from_outside_leaves_no_scratch(run_dir, tmp_path):
    """The battery's case: SIGTERM to a long sample while its scratch folders fill."""
    out = tmp_path / "out"
    out.mkdir()
    argv = ["sample", "--checkpoint", str(run_dir), "--device", "cpu", "--n", "200000",
            "--columns", "2000", "--batch-size", "64", "--out", str(out / "term.png"),
            "--npz", str(out / "term.npz")]
    child = subprocess.Popen([sys.executable, "-m", "genae_studio", *argv], env=ENV,
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    _wait_for(lambda: len(hidden(out)) >= 2, child)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].endswith("interrupted"), err
    assert list(out.iterdir()) == []


def _wait_for(condition, child, limit_s: float = 240) -> None:
    start = time.monotonic()
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"ended early: {child.stderr.read()}")
        if time.monotonic() - start > limit_s:
            child.kill()
            raise AssertionError("condition never met")
        time.sleep(0.05)


def test_case_scratch_left_by_a_killed_run_is_removed_by_the_next(run_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    argv = [sys.executable, "-m", "genae_studio", "sample", "--checkpoint", str(run_dir),
            "--device", "cpu", "--batch-size", "64", "--npz", str(out / "g.npz"),
            "--columns", "2000"]
    child = subprocess.Popen([*argv, "--n", "200000", "--out", str(out / "g.png")], env=ENV,
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    # both scratch folders made and owned (a folder killed before it has an owner is
    # removed only once it is a minute old: it could be another process's, being made)
    _wait_for(lambda: len(hidden(out)) >= 2 and all(
        (out / name / ".owner").exists() for name in hidden(out) if name.endswith(".scratch")),
        child)
    child.kill()  # kill -9: nothing can clean up
    child.communicate(timeout=60)
    assert len(hidden(out)) >= 2
    done = subprocess.run([*argv, "--n", "4", "--out", str(out / "g.png")], env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert hidden(out) == [], "stale scratch was not removed"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_case_sigterm_and_sighup_end_training_naming_the_kept_checkpoint(
        capsys, tmp_path, monkeypatch, own_handlers, signum):
    from genae_studio.commands import train as train_command

    report = train_command._report

    def signalling(bar):
        inner = report(bar)

        def on_progress(p):
            inner(p)
            if p.epoch == 1 and p.step == 1:  # after the checkpoint of epoch 1
                os.kill(os.getpid(), signum)

        return on_progress

    monkeypatch.setattr(train_command, "_report", signalling)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", *TINY, "--epochs", "3", "--out", str(out)]) == 128 + signum
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.endswith(f"interrupted; the checkpoint of epoch 1 in {out} is kept"), err
    assert json.loads((out / CONFIG).read_text())["progress"]["epoch"] == 1


# --- smaller -----------------------------------------------------------------------------------

def test_case_a_training_state_calling_eval_is_refused_without_torchs_advice(capsys, run_dir,
                                                                            tmp_path):
    import builtins
    import io

    from genae_studio.runs import digest

    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)

    class Exploit:
        def __reduce__(self):
            return (builtins.eval, ("1 + 1",))

    buffer = io.BytesIO()
    torch.save({"optimizers": {}, "e": Exploit()}, buffer)
    raw = json.loads((bad / CONFIG).read_text())
    checkpoint_file(bad, "training_state.pt").write_bytes(buffer.getvalue())
    raw["checkpoint"]["files"]["training_state.pt"] = digest(buffer.getvalue())
    (bad / CONFIG).write_text(json.dumps(raw))
    err = one_line(capsys, ["train", "--resume", str(bad), "--epochs", "2", "--device", "cpu"],
                   "refused to load", "eval")
    assert "add_safe_globals" not in err and "Please" not in err


def test_case_resume_of_a_run_without_a_checkpoint_yet_names_the_lock_holder(capsys,
                                                                            tmp_path):
    from genae_studio.runs import run_lock

    out = tmp_path / "run"
    with run_lock(out):  # a first training that has not written its first checkpoint
        (out / "checkpoints").mkdir()
        one_line(capsys, ["train", "--resume", str(out), "--epochs", "2", "--device", "cpu"],
                 f"pid {os.getpid()}", "first checkpoint")


def test_case_resume_with_epochs_already_done_says_nothing_was_trained(capsys, run_dir,
                                                                       tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = (copy / CONFIG).read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(copy), "--epochs", "1", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "nothing was trained" in captured.out and "wrote" not in captured.out
    assert (copy / CONFIG).read_bytes() == before


def test_case_a_failed_fresh_training_leaves_nothing(capsys, tmp_path):
    out = tmp_path / "run"
    # 4 images are fewer than one batch of 8: found once the run folder is locked
    one_line(capsys, ["train", *TINY[:-4], "--limit", "4", "--device", "cpu", "--epochs", "1",
                      "--out", str(out)], "fewer than one batch")
    assert not out.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("kept")
    one_line(capsys, ["train", *TINY[:-4], "--limit", "4", "--device", "cpu", "--epochs", "1",
                      "--out", str(existing)], "fewer than one batch")
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]


def test_the_check_process_ends_with_its_parent(tmp_path):
    """A hung plugin's check process must not outlive a killed ``plugins --check``."""
    marker = tmp_path / "sleeping"
    plugin = write_plugin(tmp_path, "sleeps_forever",
                          f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-m", "genae_studio", "-p", str(plugin),
                               "plugins", "--check", "vae", "--timeout", "600"], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    if not children.exists():
        parent.kill()
        pytest.skip("no /proc children list here")
    _wait_for(marker.exists, parent)
    child = int(children.read_text().split()[0])
    parent.kill()
    parent.communicate(timeout=60)
    _wait_for(lambda: _gone(child), _Alive(), limit_s=60)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


class _Alive:
    """A stand-in for a process that never ends (for ``_wait_for``)."""

    stderr = None

    def poll(self):
        return None

    def kill(self):
        pass
