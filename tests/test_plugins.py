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
