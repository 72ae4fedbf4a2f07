"""The layers: the studio (genae_studio.gui) above the core, the built-in plugins above the
core. The import-linter contracts in pyproject.toml name no list of core modules, so a new
module is covered as it is added; importing the whole core leaves PyQt6 and pyqtgraph unloaded."""
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import genae_studio

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(genae_studio.__path__):
        if info.name not in ("gui", "__main__"):
            names.append(f"genae_studio.{info.name}")
    return names


def lint_with_new_module(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the project with one new core module holding ``source``."""
    for part in ("genae_studio", "plugins/genae_builtins"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "genae_studio" / "brand_new.py").write_text(source)
    env = {"PYTHONPATH": f"{tmp_path}:{tmp_path / 'plugins'}", "PATH": ""}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
@pytest.mark.parametrize("source,broken", [
    ("import numpy\n", None),
    ("from PyQt6.QtCore import QObject\n", "only genae_studio.gui imports Qt"),
    ("import pyqtgraph\n", "only genae_studio.gui imports Qt"),
    ("from .gui import mosaic\n", "no core module imports genae_studio.gui"),
    ("import genae_builtins.vae\n", "the core loads genae_builtins by name"),
])
def test_a_new_core_module_is_covered_by_the_contracts_without_a_list(tmp_path, source,
                                                                      broken):
    out = lint_with_new_module(tmp_path, source)
    if broken is None:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    else:
        assert out.returncode != 0
        assert "genae_studio.brand_new" in out.stdout and broken in out.stdout.replace("\n", " ")


def test_importing_the_whole_core_loads_no_qt():
    code = ("import sys\n"
            + "".join(f"import {m}\n" for m in [*core_modules(), "genae_builtins.vae",
                                                 "genae_builtins.vae_model",
                                                 "genae_builtins.aae_model",
                                                 "genae_builtins.datasets"])
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('PyQt6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
