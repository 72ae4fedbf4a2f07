"""The built-in plugin reads like a third party's: every genae_studio name it imports is a
documented public one (genae_studio's ``__all__``, or a module path docs/plugins.md shows)."""
import ast
import importlib
import importlib.util
import re
from pathlib import Path

import genae_studio

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "plugins.md").read_text()


def documented() -> set[tuple[str, str]]:
    """(module, name) pairs docs/plugins.md names: ``genae_studio.mod.name`` paths, and the
    bare names in the first cell of a table row under such a path ("same module")."""
    pairs = {("genae_studio", name) for name in genae_studio.__all__}
    module = None
    for line in DOCS.splitlines():
        if not line.startswith("|"):
            module = None
            text = line
        else:
            text = line.split("|")[1]  # a helper table's first column: the names
        for code in re.findall(r"`([^`]+)`", text):
            path = re.match(r"[\w.]*", code).group(0)
            if path.startswith("genae_studio.") and "." in path[len("genae_studio."):]:
                module, _, name = path.rpartition(".")
                pairs.add((module, name))
            elif line.startswith("|") and module and path.isidentifier():
                pairs.add((module, path))
    return pairs


def imports_of_the_builtins() -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / "plugins" / "genae_builtins").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("genae_studio"):
                found |= {(node.module, alias.name) for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {(alias.name, "") for alias in node.names
                          if alias.name.startswith("genae_studio")}
    return found


def test_the_builtins_import_only_documented_names():
    undocumented = sorted(pair for pair in imports_of_the_builtins()
                          if pair[1] and pair not in documented())
    assert undocumented == []


def test_every_documented_name_exists():
    missing = []
    for module, name in sorted(documented()):
        try:
            value = importlib.import_module(module)
        except ImportError:  # genae_studio.data.cache_dir: a name, not a module
            continue
        if hasattr(value, name) or importlib.util.find_spec(f"{module}.{name}"):
            continue  # a name, or a module (old paths included)
        if name not in {"py", "md", "toml"}:
            missing.append(f"{module}.{name}")
    assert missing == []
