"""The core names no dataset: the built-in datasets are a plugin like a third party's.

Every registered built-in dataset name (the fallback image folder aside: "folder" is a plain
word) and attribute name the built-ins register (sunglasses) is searched for in the code of
every core module: identifiers and string literals. Docstrings, comments and help texts
(``help=`` and tool tips, which may give examples) are prose, not code, and are skipped, as
is the compat module that keeps the old import paths (``genae_studio.deprecated``).
"""
import ast
import re
from pathlib import Path

import pytest

import genae_studio

CORE = Path(genae_studio.__file__).parent
COMPAT = {CORE / "deprecated.py"}
TIP_SETTERS = {"setToolTip", "setStatusTip", "setWhatsThis"}


def builtin_dataset_words() -> list[str]:
    from genae_builtins.datasets import register_datasets

    specs = []
    register_datasets(register=specs.append)
    words = {s.name for s in specs if not s.fallback}
    words |= {s.binary_attribute for s in specs if s.binary_attribute}
    return sorted(words)


def prose_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes that are docstrings or help texts."""
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) \
                and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        texts = []
        if isinstance(node, ast.keyword) and node.arg == "help":
            texts.append(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in TIP_SETTERS:
            texts.extend(node.args)
        skip.update(id(sub) for text in texts for sub in ast.walk(text))
    return skip


def code_words(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every identifier and string literal that is code, not prose."""
    skip = prose_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.append((node.lineno, node.name))
        elif isinstance(node, ast.arg):
            found.append((node.lineno, node.arg))
        elif isinstance(node, ast.alias):
            found.append((node.lineno, node.asname or node.name))
    return found


def test_the_words_searched_for_are_the_builtin_plugins():
    assert builtin_dataset_words() == ["celeba", "digits", "mnist", "sunglasses", "svhn",
                                       "toyfaces"]


@pytest.mark.parametrize("path", sorted(p for p in CORE.rglob("*.py") if p not in COMPAT),
                         ids=lambda p: str(p.relative_to(CORE)))
def test_no_core_module_names_a_dataset_in_its_code(path):
    pattern = re.compile("|".join(builtin_dataset_words()), re.IGNORECASE)
    hits = [f"{path.name}:{line}: {text!r}" for line, text in code_words(ast.parse(
        path.read_text())) if pattern.search(text)]
    assert not hits, "dataset names in core code:\n" + "\n".join(hits)


def test_the_check_finds_a_dataset_name_in_code_but_not_in_prose():
    source = ('"""toyfaces in a docstring is prose."""\n'
              'def f(args):\n'
              '    """So is sunglasses here."""\n'
              '    p.add_argument("--data", help="e.g. toyfaces")\n'
              '    box.setToolTip("e.g. " + "sunglasses = 1")\n'
              '    return args.data or "toyfaces"\n')
    pattern = re.compile("|".join(builtin_dataset_words()), re.IGNORECASE)
    hits = [(line, text) for line, text in code_words(ast.parse(source))
            if pattern.search(text)]
    assert hits == [(6, "toyfaces")]


def test_every_builtin_dataset_is_defined_in_the_plugin():
    from genae_builtins.datasets import register_datasets

    specs = []
    register_datasets(register=specs.append)
    for spec in specs:
        for function in (spec.load, spec.detect):
            if function is not None:
                assert function.__module__.startswith("genae_builtins."), spec.name
