"""The studio talks to the core's API: no module of genae_studio.gui imports torch itself
(an import-linter contract in pyproject.toml), and importing the studio loads no torch."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACT = "genae_studio.gui imports no torch"


def lint_with_new_gui_module(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the project with one new studio module holding ``source``."""
    for part in ("genae_studio", "plugins/genae_builtins"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "genae_studio" / "gui" / "brand_new.py").write_text(source)
    env = {"PYTHONPATH": f"{tmp_path}:{tmp_path / 'plugins'}", "PATH": ""}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
@pytest.mark.parametrize("source,broken", [
    ("from ..tasks.chains import chain_task\n", False),  # torch through the core: allowed
    ("import torch\n", True),
    ("from torch import nn\n", True),
    ("def later():\n    import torch.nn.functional\n", True),
])
def test_a_studio_module_that_imports_torch_breaks_the_contract(tmp_path, source, broken):
    out = lint_with_new_gui_module(tmp_path, source)
    text = out.stdout.replace("\n", " ")
    if not broken:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    else:
        assert out.returncode != 0 and CONTRACT in text and "BROKEN" in text
        assert "genae_studio.gui.brand_new -> torch" in text


def test_importing_the_studio_loads_no_torch():
    code = ("import sys\nimport genae_studio.gui.app\nimport genae_studio.gui.main_window\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
