"""The core never imports Qt: the import-linter contract covers every core module, and
importing all of them leaves PyQt6 and pyqtgraph unloaded."""
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import genae_studio

ROOT = Path(__file__).resolve().parents[1]


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(genae_studio.__path__):
        if info.name not in ("gui", "__main__"):
            names.append(f"genae_studio.{info.name}")
    return names


def test_the_contract_lists_every_core_module():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = config["tool"]["importlinter"]["contracts"][0]
    listed = set(contract["source_modules"])
    missing = [m for m in core_modules() if m not in listed and m != "genae_studio.__init__"]
    assert not missing, f"add to the import-linter contract in pyproject.toml: {missing}"
    assert {"PyQt6", "pyqtgraph", "genae_studio.gui"} <= set(contract["forbidden_modules"])


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
