"""docs/plugins.md is the plugin API's contract: every signature it shows is the code's, and
every ``genae_studio...`` path it names imports (issue 22).

Signatures are read from the Markdown itself: each call at the start of a line of a
```python block that is not an example file (``ModelSpec(...)``, ``VAE(...)``, the loader),
each inline ``genae_studio.path.name(...)``, and the member column of GenerativeAutoencoder's
table.
A documented parameter list is compared with ``inspect.signature``: names, order, kind
(keyword-only or not, ``*args``/``**kwargs``) and defaults. Text with ``...`` or values in
place of parameters (``load_plugins(["NAME", ...])``) is a call, and must bind.
"""
import ast
import dataclasses
import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

import genae_studio
from genae_studio import GenerativeAutoencoder

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs/plugins.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
CALL_START = re.compile(r"^(\w+)\(", re.M)
SPAN = re.compile(r"`([^`\n]+)`")
DOTTED_CALL = re.compile(r"^(genae_studio(?:\.\w+)+)\((.*)\)$")
MEMBER_CALL = re.compile(r"^(\w+)\((.*)\)$")
DOTTED = re.compile(r"^genae_studio(?:\.\w+)+$")
# What the guide's blocks show by a bare name: the package root's, and the loader protocol.
BARE = {"load": genae_studio.DatasetLoader.__call__}
# Signatures the guide must show (so that the test cannot pass by finding none).
REQUIRED = {"ModelSpec", "DatasetSpec", "SamplerSpec", "ArrayDataset", "VAE", "AAE", "load",
            "genae_studio.data.disk.check_split", "genae_studio.data.disk.tail_split",
            "genae_studio.data.disk.nonempty", "genae_studio.data.disk.array_dataset",
            "genae_studio.data.disk.existing_source", "genae_studio.data.base.apply_limit",
            "GenerativeAutoencoder.__init__", "GenerativeAutoencoder.encode"}


def _balanced(text: str, start: int) -> tuple[str, int]:
    """The text inside the parentheses opening at ``text[start]``, and the index after them."""
    depth = 0
    for k in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            return text[start + 1:k], k + 1
    raise AssertionError(f"unbalanced parentheses in {text[start:start + 80]!r}")


def documented_signatures() -> list[tuple[str, object, str]]:
    """(the name as shown, the object it names, the parameter text) for every signature."""
    guide = GUIDE.read_text()
    found = []
    for block in BLOCK.findall(guide):
        if block.startswith("# file:"):
            continue  # an example plugin: tests/test_docs_examples.py runs it
        for match in CALL_START.finditer(block):
            name = match.group(1)
            params, _ = _balanced(block, match.end() - 1)
            target = BARE.get(name) or getattr(genae_studio, name)
            found.append((name, target, params))
    for span in SPAN.findall(guide):
        match = DOTTED_CALL.match(span)
        if match:
            found.append((match.group(1), _resolve(match.group(1)), match.group(2)))
    section = guide.split("### `GenerativeAutoencoder`", 1)[1].split("\n### ", 1)[0]
    for row in re.findall(r"^\| `([^`]+)` \|", section, re.M):  # the member column
        match = MEMBER_CALL.match(row)
        if match and hasattr(GenerativeAutoencoder, match.group(1)):
            found.append((f"GenerativeAutoencoder.{match.group(1)}",
                          getattr(GenerativeAutoencoder, match.group(1)), match.group(2)))
    return found


def _resolve(dotted: str):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # old paths still import
                obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


def _code_parameters(target) -> list[tuple[str, str, object]]:
    """(name, kind, default) of the code's parameters; a dataclass field's default factory
    counts as its value; ``self`` is left out."""
    factories = {}
    if dataclasses.is_dataclass(target):
        factories = {f.name: f.default_factory() for f in dataclasses.fields(target)
                     if f.default_factory is not dataclasses.MISSING}
    params = []
    for p in inspect.signature(target).parameters.values():
        if p.name == "self":
            continue
        default = factories.get(p.name, p.default)
        params.append((p.name, _kind(p.kind), default))
    return params


def _kind(kind) -> str:
    return {inspect.Parameter.KEYWORD_ONLY: "keyword-only",
            inspect.Parameter.VAR_POSITIONAL: "*args",
            inspect.Parameter.VAR_KEYWORD: "**kwargs"}.get(kind, "positional")


def _documented_parameters(text: str):
    """(name, kind, default) of a documented parameter list, or None when it is a call."""
    try:
        args = ast.parse(f"def f({text}): pass").body[0].args
    except SyntaxError:
        return None
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults]
    params = [(a.arg, "positional", d) for a, d in zip(positional, defaults, strict=True)]
    if args.vararg:
        params.append((args.vararg.arg, "*args", inspect.Parameter.empty))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append((a.arg, "keyword-only",
                       inspect.Parameter.empty if d is None else ast.literal_eval(d)))
    if args.kwarg:
        params.append((args.kwarg.arg, "**kwargs", inspect.Parameter.empty))
    if any(d is Ellipsis for _, _, d in params):
        return None  # "image_size=..." shows a call
    return params


SIGNATURES = documented_signatures()


def test_the_guide_shows_the_signatures_it_must():
    assert REQUIRED <= {name for name, _, _ in SIGNATURES}


@pytest.mark.parametrize(("name", "target", "text"), SIGNATURES,
                         ids=[f"{name}({text[:30]})" for name, _, text in SIGNATURES])
def test_every_documented_signature_is_the_codes(name, target, text):
    documented = _documented_parameters(" ".join(text.split()))
    if documented is None:  # a call: it must bind to the signature
        call = ast.parse(f"f({text})", mode="eval").body
        if isinstance(target, type) and issubclass(target, Exception):
            return  # an exception takes any arguments
        inspect.signature(target).bind(*[object()] * len(call.args),
                                       **{k.arg: object() for k in call.keywords})
        return
    code = _code_parameters(target)
    assert documented == code, (f"docs/plugins.md shows {name}({' '.join(text.split())}); "
                                f"the code has {inspect.signature(target)}")


def test_every_path_the_guide_names_imports():
    names = set()
    for span in SPAN.findall(GUIDE.read_text()):
        head = span.split("(", 1)[0]
        if DOTTED.match(head):
            names.add(head)
    assert len(names) > 15
    for name in sorted(names):
        _resolve(name)  # raises ImportError / AttributeError for a path that does not work


def test_a_wrong_signature_is_caught():
    """The comparison itself: each kind of disagreement fails."""
    from genae_studio import ModelSpec

    right = ('name, description, factory, defaults=None, denoising=False, plugin="", '
             'config=None, image_sizes=(32, 64)')
    assert _documented_parameters(right) == _code_parameters(ModelSpec)
    for wrong in (right.replace("defaults=None, ", ""),  # the report: config 4th
                  right.replace("image_sizes=(32, 64)", "image_sizes=(32,)"),
                  right.replace("name, description", "description, name"),
                  right.replace("factory, ", "factory, *, ")):
        assert _documented_parameters(wrong) != _code_parameters(ModelSpec)
