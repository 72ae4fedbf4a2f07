"""One module owns every GENAE_STUDIO_* variable and the folders they choose: genae_studio.env."""
import re
from pathlib import Path

import pytest

from genae_studio import env

CORE = Path(env.__file__).parent


def test_no_other_core_module_reads_a_genae_studio_variable():
    quoted = re.compile(r"""["']GENAE_STUDIO_\w+["']""")
    readers = [str(p.relative_to(CORE)) for p in CORE.rglob("*.py")
               if p.name != "env.py" and quoted.search(p.read_text())]
    assert readers == []


def test_every_variable_is_in_the_modules_table():
    names = {value for key, value in vars(env).items() if key.endswith("_ENV")}
    assert len(names) == 8
    assert all(f"``{name}``" in env.__doc__ for name in names)


def test_the_folders_follow_their_variables(monkeypatch, tmp_path):
    monkeypatch.setenv(env.RESOURCES_ENV, str(tmp_path / "res"))
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(env.RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(env.SETTINGS_ENV, str(tmp_path / "s.ini"))
    monkeypatch.setenv(env.DEVICE_ENV, "cpu")
    monkeypatch.setenv(env.AUTOLOAD_ENV, "1")
    assert env.resources_dir() == tmp_path / "res"
    assert env.cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()
    assert env.runs_dir() == tmp_path / "runs" and env.settings_file() == tmp_path / "s.ini"
    assert env.default_device() == "cpu" and not env.plugin_autoload()


@pytest.mark.parametrize("name", ["GENAE_STUDIO_RESOURCES", "GENAE_STUDIO_RUNS",
                                  "GENAE_STUDIO_SETTINGS", "GENAE_STUDIO_DEVICE",
                                  "GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD"])
def test_unset_variables_give_the_defaults(monkeypatch, name):
    monkeypatch.delenv(name, raising=False)
    defaults = {"GENAE_STUDIO_RESOURCES": lambda: env.resources_dir().name == "resources",
                "GENAE_STUDIO_RUNS": lambda: env.runs_dir() is None,
                "GENAE_STUDIO_SETTINGS": lambda: env.settings_file() is None,
                "GENAE_STUDIO_DEVICE": lambda: env.default_device() == "auto",
                "GENAE_STUDIO_DISABLE_PLUGIN_AUTOLOAD": env.plugin_autoload}
    assert defaults[name]()
