"""Issue 22, part B: runs remember where their data and their plugin came from (§4), an
explicit ``--plugin file.py`` beats the installed copy of the same module (§5), and the small
things of §9 (``sample --model`` of a model without a bundled run)."""
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from genae_studio.cli import main

PLUGIN = '''
from genae_studio import VAE, ModelConfig, ModelSpec, hookimpl


def make(**hparams):
    return VAE(**hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("{model}", "{description}", make,
                       config=ModelConfig(latent_dim=8, width=8)))
'''

TRAIN = ["--limit", "32", "--batch-size", "16", "--epochs", "1", "--image-size", "32"]


def image_folder(folder, n=120):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """A run trained from tmp_path/work with a relative --data and a --plugin file."""
    work = tmp_path / "work"
    image_folder(work / "pics")
    plugin = work / "genae_tinyvae.py"
    plugin.write_text(PLUGIN.format(model="tinyvae", description="a tiny VAE"))
    monkeypatch.chdir(work)
    assert main(["--plugin", "genae_tinyvae.py", "train", "--model", "tinyvae", "--data",
                 "pics", *TRAIN, "--out", "run"]) == 0
    return work


def config_of(run):
    return json.loads((run / "config.json").read_text())


def test_the_config_records_the_data_path_as_given_and_absolute(trained):
    config = config_of(trained / "run")
    assert config["data"]["data"] == "pics"
    assert config["data"]["path"] == str((trained / "pics").resolve())


def test_a_relative_data_path_is_found_from_another_folder(trained, tmp_path, monkeypatch,
                                                          capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["--plugin", str(trained / "genae_tinyvae.py"), "latent", "--checkpoint",
                 str(trained / "run"), "--n", "8", "--heldout", "12", "--out", "l.png"]) == 0


def test_a_data_path_that_is_gone_says_it_came_from_the_run(trained, tmp_path, monkeypatch,
                                                            capsys):
    shutil.move(trained / "pics", tmp_path / "moved")
    plugin = str(trained / "genae_tinyvae.py")
    run = str(trained / "run")
    assert main(["--plugin", plugin, "latent", "--checkpoint", run, "--n", "8",
                 "--heldout", "12", "--out", "l.png"]) == 2
    err = capsys.readouterr().err
    assert "the run's training data 'pics'" in err and "recorded in its config.json" in err
    assert "pass --data PATH" in err
    # --data overrides it: here, and for the precise batch norm of sample, which had none
    assert main(["--plugin", plugin, "latent", "--checkpoint", run, "--n", "8", "--heldout",
                 "12", "--data", str(tmp_path / "moved"), "--out", "l.png"]) == 0
    assert main(["--plugin", plugin, "sample", "--checkpoint", run, "--bn-mode", "precise",
                 "--n", "2", "--steps", "0,1", "--out", "s.png"]) == 2
    assert "pass --data PATH" in capsys.readouterr().err
    assert main(["--plugin", plugin, "sample", "--checkpoint", run, "--bn-mode", "precise",
                 "--n", "2", "--steps", "0,1", "--data", str(tmp_path / "moved"),
                 "--out", "s.png"]) == 0


def test_another_copy_of_the_data_is_used_only_where_the_runs_is_gone(trained, tmp_path):
    """The studio's and the commands' --data feed the precise batch norm only as a stand-in
    for a training path that is gone (the held-out --data of latent may be other data)."""
    from genae_studio.api import load_run
    from genae_studio.errors import DataError
    from genae_studio.plugins import load_plugins

    other = tmp_path / "other"
    other.mkdir()
    for i in range(60):  # flat grey: told apart from the run's noise
        Image.new("L", (32, 32), 7).save(other / f"{i}.png")
    host = load_plugins([str(trained / "genae_tinyvae.py")], autoload=False)
    run = load_run(trained / "run", host=host)

    def grey(data) -> bool:
        return bool((data.batch(np.arange(4)) == 7).all())

    assert not grey(run.training_data(host, data=str(other)))  # the run's own
    shutil.move(trained / "pics", tmp_path / "moved")
    with pytest.raises(DataError, match="pass --data PATH"):
        run.training_data(host)
    assert grey(run.training_data(host, data=str(other)))


def test_a_file_plugin_is_recorded_and_named_when_missing(trained, capsys):
    config = config_of(trained / "run")
    assert config["plugin"] == "genae_tinyvae"
    path = str((trained / "genae_tinyvae.py").resolve())
    assert config["plugin_source"] == {"kind": "file", "path": path}
    assert main(["sample", "--checkpoint", str(trained / "run"), "--n", "2", "--steps", "0",
                 "--out", "s.png"]) == 2
    assert f"load it with --plugin {path}" in capsys.readouterr().err


# --- an installed plugin: a distribution on sys.path with an entry point ---------------------

def install(site, module, model, description, version="1.2.3"):
    """A distribution named genae-<module> holding ``module`` and its entry point, as pip
    would leave it (the module and its .dist-info folder on a path of sys.path)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(PLUGIN.format(model=model, description=description))
    info = site / f"genae_{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: genae-{module}\n"
                                   f"Version: {version}\n")
    (info / "entry_points.txt").write_text(f"[genae_studio]\n{model} = {module}\n")


@pytest.fixture
def installed(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install(site, "genae_shadowy", "shadowy", "the installed copy")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield site
    for name in [m for m in sys.modules if "genae_shadowy" in m]:
        del sys.modules[name]


def test_plugins_shows_where_each_plugin_came_from(installed, tmp_path, capsys):
    plugin = tmp_path / "genae_other.py"
    plugin.write_text(PLUGIN.format(model="other", description="from a file"))
    assert main(["--plugin", str(plugin), "plugins"]) == 0
    out = capsys.readouterr().out
    assert "shadowy      entry point shadowy of genae-genae_shadowy 1.2.3 (module " \
           "genae_shadowy)" in out
    assert f"genae_other  file {plugin.resolve()}" in out
    assert "vae          built-in genae_builtins.vae" in out


def test_an_installed_plugin_is_recorded_with_its_distribution(installed, tmp_path, capsys,
                                                               monkeypatch):
    run = tmp_path / "run"
    assert main(["train", "--model", "shadowy", "--data", "digits", *TRAIN,
                 "--out", str(run)]) == 0
    assert config_of(run)["plugin_source"] == {
        "kind": "entry point", "module": "genae_shadowy", "entry_point": "shadowy",
        "distribution": "genae-genae_shadowy", "version": "1.2.3"}
    monkeypatch.setenv("GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD", "1")  # as if uninstalled
    assert main(["sample", "--checkpoint", str(run), "--n", "2", "--steps", "0",
                 "--out", str(tmp_path / "s.png")]) == 2
    assert "install it (pip install genae-genae_shadowy==1.2.3)" in capsys.readouterr().err


def test_an_explicit_file_beats_the_installed_copy_of_its_module(installed, tmp_path, capsys):
    source = tmp_path / "src" / "genae_shadowy.py"
    source.parent.mkdir()
    source.write_text(PLUGIN.format(model="shadowy", description="the edited copy"))
    assert main(["--plugin", str(source), "plugins"]) == 0
    out = capsys.readouterr().out
    assert "the edited copy" in out and "the installed copy" not in out
    assert "already registered" not in out
    assert f"plugin shadowy: loading {source} (--plugin) instead of the installed entry " \
           "point shadowy of genae-genae_shadowy 1.2.3" in out
    assert f"shadowy      file {source.resolve()}" in out


def test_a_blocked_installed_plugin_leaves_its_file_to_load(installed, tmp_path, capsys):
    source = tmp_path / "src" / "genae_shadowy.py"
    source.parent.mkdir()
    source.write_text(PLUGIN.format(model="shadowy", description="the edited copy"))
    assert main(["--plugin", "no:shadowy", "--plugin", str(source), "plugins"]) == 0
    out = capsys.readouterr().out
    assert "the edited copy" in out and "instead of the installed" not in out


def test_an_explicit_file_is_said_in_one_line_on_other_commands(installed, tmp_path, capsys):
    source = tmp_path / "src" / "genae_shadowy.py"
    source.parent.mkdir()
    source.write_text(PLUGIN.format(model="shadowy", description="the edited copy"))
    run = tmp_path / "run"
    assert main(["--plugin", str(source), "train", "--model", "shadowy", "--data", "digits",
                 *TRAIN, "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert err.count("instead of the installed") == 1 and "already registered" not in err
    assert config_of(run)["plugin_source"] == {"kind": "file", "path": str(source.resolve())}


def test_an_explicit_plugin_takes_a_name_from_an_installed_one(installed, tmp_path, capsys):
    source = tmp_path / "shadowy_dev.py"  # another module registering the same model
    source.write_text(PLUGIN.format(model="shadowy", description="the development copy"))
    assert main(["--plugin", str(source), "plugins"]) == 0
    out = capsys.readouterr().out
    assert "the development copy" in out and "the installed copy" not in out
    assert "already registered" not in out
    assert f"'shadowy' of plugin shadowy_dev (file {source.resolve()}) replaces the one of " \
           "the installed plugin shadowy" in out


# --- small things ----------------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    from importlib.metadata import version

    import genae_studio
    assert out.startswith(f"genae-studio {genae_studio.__version__} (torch {version('torch')}")


def test_a_model_without_a_bundled_run_suggests_checkpoint(capsys, tmp_path):
    plugin = tmp_path / "genae_betavae.py"
    plugin.write_text(PLUGIN.format(model="betavae", description="no bundled run"))
    assert main(["--plugin", str(plugin), "sample", "--model", "betavae",
                 "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "no bundled run for model 'betavae'" in err and "pass --checkpoint RUN" in err
