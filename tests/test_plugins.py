import subprocess
import sys
from pathlib import Path

import pytest

from genae_studio import DatasetSpec, ModelSpec, hookimpl, hookspecs
from genae_studio.plugins import AUTOLOAD_ENV, load_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "myencoder"


@pytest.fixture
def fake_install(tmp_path, monkeypatch):
    """Make the example plugin discoverable through the entry-point group, as pip would."""
    dist = tmp_path / "genae_myencoder-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: genae-myencoder\n"
                                   "Version: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[genae_studio]\nmyencoder = genae_myencoder\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.delitem(sys.modules, "genae_myencoder", raising=False)
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    return tmp_path


def test_builtin_models_and_datasets_come_through_the_plugin_hooks():
    host = load_plugins(autoload=False)
    assert {"vae", "dvae", "aae", "daae"} <= set(host.models)
    assert host.models["dvae"].denoising and not host.models["vae"].denoising
    assert host.models["vae"].plugin == "vae" and host.models["daae"].plugin == "aae"
    assert {"toyfaces", "digits"} <= set(host.datasets)
    assert not host.failures


def test_register_models_hook(host):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            vae = host.models["vae"]
            register(ModelSpec("tiny", "a test model", vae.factory, defaults={"width": 8}))

    h = load_plugins(autoload=False)
    h.manager.register(Plugin(), name="tiny-plugin")
    h.collect()
    spec = h.model("tiny")
    assert spec.plugin == "tiny-plugin" and spec.config.width == 8
    model = spec.factory(image_size=32, channels=1, latent_dim=4, width=8)
    assert model.latent_dim == 4


def test_register_datasets_hook():
    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register(DatasetSpec("noise", "random images", load=lambda *a, **k: "loaded",
                                 channels=1, image_size=32))

    h = load_plugins(autoload=False)
    h.manager.register(Plugin(), name="noise-plugin")
    h.collect()
    assert h.datasets["noise"].plugin == "noise-plugin"
    assert h.datasets["noise"].load() == "loaded"


def test_register_samplers_hook():
    from genae_studio import SamplerSpec

    class Plugin:
        @hookimpl
        def register_samplers(self, register):
            register(SamplerSpec("fixed", "one code", build=lambda context, scale=1.0: scale,
                                 options={"scale": 1.0}))

    h = load_plugins(autoload=False)
    h.manager.register(Plugin(), name="fixed-plugin")
    h.collect()
    assert h.samplers["fixed"].plugin == "fixed-plugin"
    assert h.samplers["fixed"].build(None, scale=2.0) == 2.0
    assert list(h.samplers)[:3] == ["prior", "gmm", "reweighted"]  # the built-ins, alike


def test_every_hook_has_its_own_test():
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks
    tests = {name for name in globals() if name.startswith("test_")}
    for hook in hooks:
        assert f"test_{hook}_hook" in tests, f"hook {hook} has no test"


def test_a_plugin_that_fails_to_import_is_reported_by_name_and_skipped(tmp_path):
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    host = load_plugins([str(broken)], autoload=False)
    assert [f.name for f in host.failures] == ["broken_plugin"]
    assert "RuntimeError: boom at import" in str(host.failures[0])
    assert "vae" in host.models  # everything else keeps working


def test_a_plugin_whose_hook_raises_is_reported_and_the_others_keep_working(tmp_path):
    bad = tmp_path / "raising_plugin.py"
    bad.write_text("from genae_studio import hookimpl\n"
                   "@hookimpl\n"
                   "def register_models(register):\n"
                   "    raise ValueError('no models today')\n")
    host = load_plugins([str(bad)], autoload=False)
    assert "raising_plugin" in str(host.failures[0]) and "no models today" in str(host.failures[0])
    assert {"vae", "aae"} <= set(host.models)


def test_bad_registrations_and_duplicates_are_refused(tmp_path):
    plugin = tmp_path / "clumsy.py"
    plugin.write_text("from genae_studio import hookimpl, ModelSpec\n"
                      "from genae_builtins.vae import make_vae\n"
                      "@hookimpl\n"
                      "def register_models(register):\n"
                      "    register(ModelSpec('vae', 'a second vae', make_vae))\n")
    host = load_plugins([str(plugin)], autoload=False)
    assert host.models["vae"].plugin == "vae"  # the first registration is kept
    assert "already registered" in str(host.failures[0])

    wrong = tmp_path / "wrong.py"
    wrong.write_text("from genae_studio import hookimpl\n"
                     "@hookimpl\n"
                     "def register_models(register):\n"
                     "    register('not a spec')\n")
    host = load_plugins([str(wrong)], autoload=False)
    assert "takes a ModelSpec" in str(host.failures[0])


def test_missing_plugin_names_and_files_are_reported():
    host = load_plugins(["no_such_plugin_module", "missing/file.py"], autoload=False)
    reasons = {f.name: f.reason for f in host.failures}
    assert "ModuleNotFoundError" in reasons["no_such_plugin_module"]
    assert reasons["missing/file.py"] == "no such plugin file"


def test_example_plugin_loads_by_entry_point_name(fake_install):
    host = load_plugins(autoload=True)
    assert host.models["myencoder"].plugin == "myencoder"
    host = load_plugins(["myencoder"], autoload=False)  # --plugin with the entry-point name
    assert host.models["myencoder"].plugin == "myencoder"


def test_example_plugin_loads_by_module_name(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    host = load_plugins(["genae_myencoder"], autoload=False)
    assert "myencoder" in host.models and not host.failures


def test_example_plugin_loads_by_file_path_and_trains_like_a_builtin():
    import torch

    host = load_plugins([str(EXAMPLE / "genae_myencoder.py")], autoload=False)
    spec = host.model("myencoder")
    model = spec.factory(image_size=32, channels=1, latent_dim=6, width=8)
    opt = torch.optim.Adam(model.parameters())

    def step(name, loss):
        opt.zero_grad()
        loss.backward()
        opt.step()

    losses = model.training_step(torch.rand(4, 1, 32, 32), step)
    assert set(losses) == {"loss", "rec", "kl"}
    assert model.encode(torch.rand(4, 1, 32, 32)).shape == (4, 6)


def test_autoload_can_be_turned_off_by_environment(fake_install, monkeypatch):
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    assert "myencoder" not in load_plugins().models
    monkeypatch.delenv(AUTOLOAD_ENV)
    assert "myencoder" in load_plugins().models


def test_no_name_blocks_a_plugin(fake_install):
    host = load_plugins(["no:aae", "no:myencoder"])
    assert "aae" not in host.models and "daae" not in host.models
    assert "myencoder" not in host.models and "vae" in host.models


def test_loading_plugins_imports_neither_torch_nor_qt():
    code = ("import sys; from genae_studio.plugins import load_plugins; h = load_plugins(); "
            "assert h.models and h.datasets, h.failures; "
            "bad = [m for m in ('torch', 'PyQt6', 'pyqtgraph') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- loading defects (issue 9, section 4) ---------------------------------------------------

def test_a_plugin_reached_by_entry_point_and_module_name_is_one_plugin(fake_install, capsys):
    from genae_studio.cli import main

    for arg in ("genae_myencoder", str(EXAMPLE / "genae_myencoder.py"), "myencoder"):
        host = load_plugins([arg])  # autoload finds it as "myencoder" first
        assert not host.failures, host.failures
        assert host.models["myencoder"].plugin == "myencoder"
        assert host.plugin_names() == ["vae", "aae", "datasets", "samplers", "myencoder"]
        assert main(["plugins", "--plugin", arg]) == 0
        out = capsys.readouterr().out
        assert "failed" not in out and "ValueError" not in out


def test_a_file_plugin_loaded_after_its_module_is_one_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.delitem(sys.modules, "genae_myencoder", raising=False)
    host = load_plugins(["genae_myencoder", str(EXAMPLE / "genae_myencoder.py")],
                        autoload=False)
    assert not host.failures and host.models["myencoder"].plugin == "genae_myencoder"


def test_no_name_takes_the_entry_point_or_the_module_name(fake_install):
    host = load_plugins(["no:genae_myencoder"])
    assert "myencoder" not in host.models and not host.failures
    host = load_plugins(["no:genae_builtins.aae"])
    assert "aae" not in host.models and "vae" in host.models


@pytest.mark.parametrize("stem", ["vae", "aae", "datasets"])
def test_a_file_plugin_named_like_a_builtin_module_is_loaded(tmp_path, stem):
    plugin = tmp_path / f"{stem}.py"
    plugin.write_text("from genae_studio import hookimpl, ModelSpec\n"
                      "from genae_builtins.vae import make_vae\n"
                      "@hookimpl\n"
                      "def register_models(register):\n"
                      f"    register(ModelSpec('my{stem}', 'mine', make_vae))\n")
    host = load_plugins([str(plugin)], autoload=False)
    assert not host.failures
    assert host.models[f"my{stem}"].plugin == str(plugin)  # named by its path
    assert {"vae", "aae", "toyfaces"} <= set(host.models) | set(host.datasets)


def test_a_file_plugin_replaces_a_blocked_builtin(tmp_path):
    plugin = tmp_path / "vae.py"
    plugin.write_text("from genae_studio import hookimpl, ModelSpec\n"
                      "from genae_builtins.aae import make_aae\n"
                      "@hookimpl\n"
                      "def register_models(register):\n"
                      "    register(ModelSpec('vae', 'an AAE in disguise', make_aae))\n")
    host = load_plugins(["no:vae", str(plugin)], autoload=False)
    assert not host.failures and host.models["vae"].description == "an AAE in disguise"


@pytest.mark.parametrize("body, where", [
    ("import sys\nsys.exit('bye')\n", "error importing plugin: SystemExit: bye"),
    ("import sys\nfrom genae_studio import hookimpl\n@hookimpl\n"
     "def register_models(register):\n    sys.exit(3)\n", "register_models raised SystemExit: 3"),
])
def test_sys_exit_in_a_plugin_is_reported_and_skipped(tmp_path, capsys, body, where):
    from genae_studio.cli import main

    plugin = tmp_path / "quitter.py"
    plugin.write_text(body)
    host = load_plugins([str(plugin)], autoload=False)
    (failure,) = [str(f) for f in host.failures]
    assert failure.startswith(f"plugin quitter: {where}")  # a hook's: " (at quitter.py:N)"
    assert "vae" in host.models
    assert main(["plugins", "--plugin", str(plugin)]) == 0  # the command line survives
    assert where in capsys.readouterr().out


BAD_FACTORIES = """
from genae_studio import hookimpl, ModelSpec

def returns_a_string(**hparams):
    return "not a model"

def raises(**hparams):
    raise RuntimeError("cannot build")

@hookimpl
def register_models(register):
    register(ModelSpec("stringy", "returns a string", returns_a_string))
    register(ModelSpec("raisy", "raises", raises))
"""


@pytest.mark.parametrize("model, message", [
    ("stringy", "plugin badfactory, model 'stringy': the factory returned str, not a "
                "genae_studio.GenerativeAutoencoder"),
    ("raisy", "plugin badfactory, model 'raisy': the factory raised RuntimeError: cannot build"),
])
def test_a_bad_factory_is_one_line_naming_plugin_and_model(tmp_path, capsys, model, message):
    from genae_studio.cli import main

    plugin = tmp_path / "badfactory.py"
    plugin.write_text(BAD_FACTORIES)
    code = main(["train", "--plugin", str(plugin), "--model", model, "--data", "digits",
                 "--epochs", "1", "--batch-size", "16", "--limit", "32", "--device", "cpu",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"genae-studio: error: {message}")
    if model == "raisy":  # the plugin's failure: how to check it
        assert err[0].endswith(f"; run `genae-studio --plugin {plugin} plugins --check raisy`")
    assert not (tmp_path / "run" / "config.json").exists()  # no run written


def test_failures_are_one_line_each_and_unknown_hooks_are_reported(tmp_path, capsys):
    from genae_studio.cli import main

    wrong_args = tmp_path / "wrongargs.py"
    wrong_args.write_text("from genae_studio import hookimpl\n"
                          "@hookimpl\n"
                          "def register_models(reg, extra):\n"
                          "    pass\n")
    typo = tmp_path / "typo.py"
    typo.write_text("from genae_studio import hookimpl\n"
                    "@hookimpl\n"
                    "def register_modles(register):\n"
                    "    pass\n")
    host = load_plugins([str(wrong_args), str(typo)], autoload=False)
    lines = [str(f) for f in host.failures]
    assert len(lines) == 2 and all("\n" not in line and "<module" not in line for line in lines)
    assert lines[0] == ("plugin wrongargs: invalid plugin: hookimpl register_models(reg, extra) "
                        "takes arguments the hook does not pass: extra, reg "
                        "(register_models passes: register)")
    assert lines[1] == ("plugin typo: hookimpl 'register_modles' matches no hook "
                        "(hooks: register_models, register_datasets, register_samplers)")
    assert main(["sample", "--plugin", str(typo), "--plugin", str(wrong_args), "--n", "2",
                 "--steps", "0", "--out", str(tmp_path / "g.png")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.endswith("(skipped)") for line in err)


# --- the plugin API in one place (issue 13, section 7) ---------------------------------------

def test_every_public_name_imports_from_the_package_root():
    import genae_studio
    from genae_studio import plugins
    from genae_studio.data import ArrayDataset, ImageDataset
    from genae_studio.models import AAE, VAE, GenerativeAutoencoder

    for name in genae_studio.__all__:
        assert getattr(genae_studio, name) is not None, name
    assert genae_studio.hookimpl is hookspecs.hookimpl is plugins.hookimpl  # old path kept
    assert genae_studio.hookspec is hookspecs.hookspec
    assert genae_studio.VAE is VAE and genae_studio.AAE is AAE
    assert genae_studio.GenerativeAutoencoder is GenerativeAutoencoder
    assert genae_studio.ArrayDataset is ArrayDataset and genae_studio.ImageDataset is ImageDataset
    assert set(genae_studio.__all__) <= set(dir(genae_studio))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        genae_studio.nope  # noqa: B018


def test_importing_the_package_and_its_markers_stays_light():
    code = ("import sys; from genae_studio import hookimpl, hookspec, ModelSpec, DatasetSpec; "
            "bad = [m for m in ('torch', 'numpy', 'PyQt6') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_spec_callables_have_real_types():
    from typing import get_type_hints

    from genae_studio import DatasetLoader, ModelFactory

    assert get_type_hints(ModelSpec)["factory"] is ModelFactory
    assert get_type_hints(DatasetSpec)["load"] is DatasetLoader


def test_the_hook_docstrings_state_the_contract():
    doc = hookspecs.__doc__
    for phrase in ("``register``", "TypeError", "keeps the first registration", "sys.exit()",
                   "whose name is not one of these hooks is reported"):
        assert phrase in " ".join(doc.split()), phrase
    assert "logits" in hookspecs.register_models.__doc__
    assert '"train" or "test"' in hookspecs.register_datasets.__doc__
