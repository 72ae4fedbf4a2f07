"""Installs that work outside the checkout: a wheel, installed like a user would."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_a_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    # Build from a copy of what the wheel is made of, so the checkout stays untouched.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "training_state.pt")
    for name in ("genae_studio", "plugins", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    wheels = tmp_path / "wheels"
    # The installed setuptools builds it when there is one (no download).
    offline = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *offline,
          "-w", str(wheels), str(src)], env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    (wheel,) = wheels.glob("genae_studio-*.whl")

    # Into a fresh target, reusing the installed torch; run from outside the checkout.
    target = tmp_path / "installed"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
          str(wheel)], env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GENAE_STUDIO_RESOURCES")}
    env.update(PYTHONPATH=str(target), GENAE_STUDIO_CACHE=str(tmp_path / "cache"),
               GENAE_STUDIO_DEVICE="cpu")

    where = _run([sys.executable, "-c", "import genae_studio, genae_builtins; "
                  "print(genae_studio.__file__); print(genae_builtins.__file__)"],
                 cwd=elsewhere, env=env)
    assert all(Path(line).is_relative_to(target) for line in where.split()), where
    shipped = sorted(p.suffix for p in (target / "genae_studio/resources/features").iterdir())
    assert shipped == [".json", ".json", ".safetensors", ".safetensors"]  # the feature networks

    script = target / "bin" / "genae-studio"
    out = _run([str(script), "plugins"], cwd=elsewhere, env=env)
    assert "vae" in out and "toyfaces" in out and "failed" not in out
    out = _run([str(script), "sample", "--model", "vae", "--n", "4", "--steps", "0,1"],
               cwd=elsewhere, env=env)
    assert "wrote grid.png" in out and (elsewhere / "grid.png").is_file()


def test_bundled_runs_are_package_data():
    from genae_studio.api import bundled_models, bundled_run_dir, resources_dir

    assert resources_dir() == ROOT / "resources"  # the checkout's top-level folder
    assert bundled_models() == ["aae", "daae", "dvae", "vae"]
    assert (bundled_run_dir("vae") / "model.safetensors").is_file()


def test_the_wheel_lists_every_package_and_maps_the_resources_folder():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "genae_studio").rglob("*")
               if (p / "__init__.py").is_file()} | {"genae_studio"}
    builtins = {"genae_builtins"} | {f"genae_builtins.{p.name}"
                                     for p in (ROOT / "plugins" / "genae_builtins").iterdir()
                                     if (p / "__init__.py").is_file()}
    assert set(config["packages"]) == folders | builtins | {"genae_studio.resources"}
    assert config["package-dir"]["genae_studio.resources"] == "resources"
    assert (ROOT / "resources" / "runs" / "vae" / "config.json").is_file()


def test_the_resources_folder_can_be_overridden(tmp_path, monkeypatch):
    from genae_studio.api import bundled_models, resources_dir

    monkeypatch.setenv("GENAE_STUDIO_RESOURCES", str(tmp_path))
    assert resources_dir() == tmp_path and bundled_models() == []


def test_gitignore_covers_what_the_readme_commands_write():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["grid.png", "interp.png", "chain.npz", "runs/vae/model.safetensors",
             "resources/runs/vae/training_state.pt"]
    result = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.stdout.split() == paths
