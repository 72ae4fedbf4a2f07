import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genae_studio.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--model", "dvae", "--data", "digits", "--epochs", "1",
                 "--batch-size", "32", "--width", "8", "--latent-dim", "8", "--limit", "96",
                 "--device", "cpu", "--noise-std", "0.3", "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_a_complete_run_folder(run_dir, capsys):
    import json

    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "dvae" and config["plugin"] == "vae"
    assert config["hparams"]["noise_std"] == 0.3 and config["hparams"]["latent_dim"] == 8
    assert config["data"]["data"] == "digits" and config["data"]["image_size"] == 32
    assert "torch" in config["versions"] and config["progress"]["epoch"] == 1
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "checkpoints", ".lock"}
    assert {p.name for p in (run_dir / config["checkpoint"]["folder"]).iterdir()} == \
        {"model.safetensors", "training_state.pt"}


def test_sample_writes_one_grid_row_per_step_and_the_arrays(run_dir, tmp_path, capsys):
    out, npz = tmp_path / "grid.png", tmp_path / "chain.npz"
    assert main(["sample", "--checkpoint", str(run_dir), "--n", "6", "--steps", "0,1,5",
                 "--out", str(out), "--npz", str(npz)]) == 0
    arrays = np.load(npz)
    assert arrays["x"].shape == (3, 6, 1, 32, 32) and arrays["x"].dtype == np.float32
    assert arrays["z"].shape == (3, 6, 8) and list(arrays["steps"]) == [0, 1, 5]
    assert 0 <= arrays["x"].min() and arrays["x"].max() <= 1
    width, height = Image.open(out).size  # a margin on the left holds the t labels
    assert height == 3 * 34 + 2 and 6 * 34 + 2 + 20 < width < 6 * 34 + 2 + 80


def test_interpolate_pairs_and_four_corner_grid(run_dir, tmp_path):
    npz = tmp_path / "i.npz"
    assert main(["interpolate", "--checkpoint", str(run_dir), "--points", "5", "--pairs", "2",
                 "--steps", "3", "--out", str(tmp_path / "i.png"), "--npz", str(npz)]) == 0
    arrays = np.load(npz)
    assert arrays["before"].shape == (2, 5, 1, 32, 32) == arrays["after"].shape
    assert not np.allclose(arrays["before"], arrays["after"])
    assert Image.open(tmp_path / "i.png").size == (5 * 34 + 2, 4 * 34 + 2)
    assert main(["interpolate", "--checkpoint", str(run_dir), "--points", "4", "--four",
                 "--out", str(tmp_path / "g.png"), "--npz", str(npz)]) == 0
    assert np.load(npz)["before"].shape == (4, 4, 1, 32, 32)


def test_plugins_lists_models_datasets_and_failures(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module\n")
    assert main(["plugins", "--plugin", str(broken)]) == 0
    out = capsys.readouterr().out
    for name in ("vae", "dvae", "aae", "daae", "toyfaces", "digits", "celeba", "mnist"):
        assert name in out
    assert "failed plugins" in out and "broken" in out and "not_a_module" in out


@pytest.mark.parametrize("argv, message", [
    (["sample", "--checkpoint", "/no/such/run"], "/no/such/run: no such run folder"),
    (["train", "--data", "/no/such/data", "--epochs", "1"], "/no/such/data: no such"),
    (["train", "--model", "nope", "--data", "digits"], "unknown model 'nope'"),
    (["sample", "--device", "cuda:7"], "device 'cuda:7'"),
])
def test_bad_input_is_one_line_with_exit_code_2(argv, message, capsys, tmp_path):
    assert main(argv + ([] if argv[0] != "train" else ["--out", str(tmp_path)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genae-studio: error:") and message in err[0]


def test_debug_shows_the_traceback():
    with pytest.raises(Exception, match="no such run folder"):
        main(["sample", "--checkpoint", "/no/such/run", "--debug"])


def test_every_command_accepts_plugin(run_dir, tmp_path):
    for argv in (["plugins"], ["sample", "--checkpoint", str(run_dir), "--n", "2",
                               "--steps", "0", "--out", str(tmp_path / "a.png")]):
        assert main([*argv, "--plugin", "no:aae"]) == 0


def test_help_and_plugins_import_neither_torch_nor_qt():
    code = ("import sys, contextlib, io\n"
            "from genae_studio.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['plugins'])\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "bad = [m for m in ('torch', 'PyQt6', 'pyqtgraph') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "genae_studio", "--help"],
                            capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "interpolate" in result.stdout


def test_usage_errors_are_one_line_with_exit_code_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", "--steps", "1,x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "steps must be comma-separated integers" in err[0]


def test_the_studio_without_a_display_says_so(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([]) == 2
    assert "no display found" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--lr", "nan"], "--lr: must be a finite number > 0, got nan"),
    (["--lr", "0"], "--lr: must be a finite number > 0, got 0"),
    (["--noise-std", "-1"], "--noise-std: must be a finite number >= 0, got -1"),
    (["--noise-std", "x"], "--noise-std: not a number: 'x'"),
])
def test_bad_numbers_are_refused_while_parsing(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_zero_noise_std_is_allowed():
    from genae_studio.cli import build_parser

    assert build_parser().parse_args(["train", "--noise-std", "0"]).noise_std == 0.0


def test_sample_defaults_to_16_chains_in_labelled_rows(run_dir, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", "--checkpoint", str(run_dir), "--out", str(out),
                 "--npz", str(tmp_path / "data.npz")]) == 0
    assert np.load(tmp_path / "data.npz")["x"].shape[:2] == (4, 16)
    width, height = Image.open(out).size
    assert height == 4 * 34 + 2 and 16 * 34 + 2 < width < 16 * 34 + 2 + 80
    assert "4 rows labelled with t: steps 0,1,5,10" in capsys.readouterr().out


def test_sample_wraps_after_columns_and_matches_imaging_grid(run_dir, tmp_path, capsys):
    from genae_studio.imaging import grid

    out, npz = tmp_path / "grid.png", tmp_path / "x.npz"
    # 11 chains in lines of 4, computed in batches of 3 that straddle the lines
    assert main(["sample", "--checkpoint", str(run_dir), "--n", "11", "--columns", "4",
                 "--batch-size", "3", "--steps", "0,2", "--out", str(out),
                 "--npz", str(npz)]) == 0
    assert "2 blocks of 3 lines labelled with t" in capsys.readouterr().out
    x = np.load(npz)["x"]
    expected = grid(x, columns=4, row_labels=["t = 0", "t = 2"])
    written = np.asarray(Image.open(out))
    assert np.array_equal(written, expected[..., 0])


def test_every_module_of_genae_studio_commands_is_a_subcommand():
    """A subcommand is one module of genae_studio.commands (add_arguments and main)."""
    import pkgutil

    import genae_studio.commands as commands
    from genae_studio.cli import COMMANDS, build_parser

    modules = {info.name for info in pkgutil.iter_modules(commands.__path__)} - {"common"}
    assert {module.__name__.rsplit(".", 1)[1] for module, _ in COMMANDS.values()} == modules
    assert all(callable(m.add_arguments) and callable(m.main) for m, _ in COMMANDS.values())
    assert build_parser().parse_args(["latent", "--n", "5"]).n == 5



def test_a_reader_that_goes_away_is_not_an_error(monkeypatch, capsys):
    """`genae-studio plugins | head -1`: the closed pipe ends the command quietly."""
    import io

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["plugins"]) == 0
    assert capsys.readouterr().err == ""
