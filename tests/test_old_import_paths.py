"""Every old import path keeps working, driven by the one table of them:
``genae_studio.deprecated.MOVED``. Each old path gives the very object of its new path, with
one DeprecationWarning format; the new code never goes through the table."""
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from genae_studio import deprecated

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(old for old in deprecated.MOVED if ":" not in old)
NAMES = sorted(old for old in deprecated.MOVED if ":" in old)


def _resolve(path: str):
    module, _, name = path.partition(":")
    value = importlib.import_module(module)
    return getattr(value, name) if name else value


def _fresh_import(code: str) -> str:
    """Run ``code`` in a new interpreter (old module paths are imported only once per process)."""
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                         capture_output=True, text=True, timeout=120)
    return out.stderr


@pytest.mark.parametrize("old", MODULES)
def test_an_old_module_path_is_the_new_module(old):
    new = deprecated.MOVED[old]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    assert module is _resolve(new)
    assert module.__spec__.name == new  # the import system's view of it is unchanged


@pytest.mark.parametrize("old", NAMES)
def test_an_old_name_is_the_new_object_with_a_warning(old):
    module, _, name = old.partition(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old_module = importlib.import_module(module)
    text = deprecated.message(old, deprecated.MOVED[old])
    with pytest.warns(DeprecationWarning, match=re.escape(text)):
        value = getattr(old_module, name)
    assert value is _resolve(deprecated.MOVED[old])
    assert name in dir(old_module)


def test_one_warning_format_names_the_public_new_home():
    assert deprecated.message("genae_studio.chain", "genae_studio.sampling._chain") == \
        "genae_studio.chain moved to genae_studio.sampling"
    assert deprecated.message("genae_studio.evaluate:parse_steps",
                              "genae_studio.sampling:sorted_steps") == \
        "genae_studio.evaluate.parse_steps moved to genae_studio.sampling.sorted_steps"


def test_importing_an_old_module_warns_once_with_the_format():
    err = _fresh_import("import genae_studio.chain")
    assert "DeprecationWarning: genae_studio.chain moved to genae_studio.sampling" in err


@pytest.mark.parametrize("statement", [
    "from genae_studio.data.disk import load_celeba, load_folder, load_mnist, load_svhn",
    "from genae_studio.data.toyfaces import load_toyfaces",
    "from genae_studio.evaluate import build_reference, parse_steps",
    "from genae_studio.trainer import Trainer",
    "from genae_builtins.vae_model import VAE",
    "from genae_builtins.aae_model import AAE",
    "from genae_studio import fast; fast.cached_plan",
    "from genae_studio.runs import atomic_write",
])
def test_old_from_imports_work_and_warn(statement):
    err = _fresh_import(statement)
    assert "DeprecationWarning" in err and " moved to " in err, err[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        exec(statement, {})


def test_names_the_docs_show_are_public_and_need_no_table():
    from genae_builtins.aae import AAEConfig
    from genae_builtins.vae import VAEConfig

    import genae_studio

    assert AAEConfig is genae_studio.AAEConfig and VAEConfig is genae_studio.VAEConfig
    assert genae_studio.VAE.__module__ == "genae_studio.models._vae"


def test_unknown_names_of_an_old_module_are_attribute_errors():
    from genae_studio.data import disk

    with pytest.raises(AttributeError, match="genae_studio.data.disk.*no_such_name"):
        disk.no_such_name  # noqa: B018
    assert callable(disk.walk_images)  # its generic helpers stay in the core


def test_the_core_loads_no_plugin_until_a_moved_name_is_used():
    code = ("import sys, warnings\n"
            "import genae_studio.data, genae_studio.data.disk\n"
            "assert 'genae_builtins' not in sys.modules, 'loaded on import'\n"
            "warnings.simplefilter('ignore')\n"
            "from genae_studio.data.disk import load_svhn\n"
            "assert 'genae_builtins.svhn' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_new_code_uses_no_old_path():
    """No module of the package, plugin, tests or tools imports a path of the table."""
    old = {path.partition(":")[0] for path in MODULES}
    pattern = re.compile(r"^\s*(?:from|import) (" + "|".join(map(re.escape, old)) + r")\b",
                         re.M)
    here = Path(__file__).resolve()
    files = [p for folder in ("genae_studio", "plugins", "tests", "benchmarks", "scripts",
                              "examples")
             for p in (ROOT / folder).rglob("*.py") if p != here]
    offenders = [str(p.relative_to(ROOT)) for p in files if pattern.search(p.read_text())]
    assert offenders == []
