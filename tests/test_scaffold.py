"""``genae-studio plugins new KIND NAME`` writes an installable plugin package that keeps the
contract with no edits (issue 22)."""
import os
import subprocess
import sys
import tomllib

import pytest

from genae_studio.cli import main
from genae_studio.plugins import PROJECT, load_plugins

KINDS = {"model": "models", "dataset": "datasets", "sampler": "samplers"}


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_new_writes_a_package_whose_plugin_registers_its_name(kind, tmp_path, capsys):
    name = f"my_{kind}"
    assert main(["plugins", "new", kind, name, "--dir", str(tmp_path)]) == 0
    folder = tmp_path / f"genae-{name}"
    assert f"wrote {folder}" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", f"genae_{name}.py", "pyproject.toml", f"test_genae_{name}.py"]
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"genae-{name}"
    assert project["entry-points"][PROJECT] == {name: f"genae_{name}"}
    host = load_plugins([str(folder / f"genae_{name}.py")], autoload=False)
    assert not host.failures
    assert name in getattr(host, KINDS[kind])
    assert "genae_studio.testing" in (folder / f"test_genae_{name}.py").read_text()
    assert not [p for p in tmp_path.iterdir() if p != folder]  # no temporary folder left


def test_new_refuses_an_existing_folder_and_a_bad_name(tmp_path, capsys):
    (tmp_path / "genae-foo").mkdir()
    (tmp_path / "genae-foo" / "mine.py").write_text("# the user's work\n")
    assert main(["plugins", "new", "model", "foo", "--dir", str(tmp_path)]) == 2
    assert "genae-foo already exists" in _error(capsys)
    assert [p.name for p in (tmp_path / "genae-foo").iterdir()] == ["mine.py"]
    for bad in ("1foo", "foo-bar", "class", "a.b"):
        assert main(["plugins", "new", "dataset", bad, "--dir", str(tmp_path)]) == 2
        assert "is not a valid NAME (a Python identifier" in _error(capsys)
    assert main(["plugins", "new", "model", "ok", "--dir", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genae-foo"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_the_package_installs_passes_plugins_check_and_its_own_test(kind, tmp_path):
    """pip install (no downloads) into a fresh target, run from elsewhere: the entry point
    finds it, plugins --check NAME passes, and the generated test passes unedited."""
    name = f"new{kind}"
    assert main(["plugins", "new", kind, name, "--dir", str(tmp_path)]) == 0
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "GENAE_STUDIO_DEVICE": "cpu",
           "PYTHONPATH": os.pathsep.join([str(target), *sys.path[1:]])}

    def run(*argv, cwd=elsewhere):
        result = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    run("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        "--target", str(target), str(tmp_path / f"genae-{name}"))
    listed = run("-m", "genae_studio", "plugins").split("\n\n")[0].splitlines()[1:]
    assert any(line.split()[0] == name and "entry point" in line for line in listed), listed
    out = run("-m", "genae_studio", "plugins", "--check", name)
    assert f"checking {kind} {name} (plugin {name})" in out and "all checks passed" in out
    out = run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / f"genae-{name}"),
              cwd=tmp_path / f"genae-{name}")
    assert "1 passed" in out
