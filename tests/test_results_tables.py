"""scripts/results_tables.py reads eval's JSON: the attribute-share column by its name
(version 3, e.g. ``sunglasses``) and by its old name ``glasses`` (versions 1-2)."""
import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "results_tables.py"


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("results_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def eval_doc(version: int, share: float) -> dict:
    key = "glasses" if version < 3 else "sunglasses"
    run = {"model": "vae", "n": 40, "attribute": "sunglasses", "pairs": 3,
           "rows": [{"kind": "chain", "step": 0, "n": 40, "mmd_data": 0.5, "fd": 9.0},
                    {"kind": "interp", "step": 0, "n": 24, "ambiguous": 0.25, key: share,
                     "max_jump": 0.4, "kept": 1.0, "end_dist": 0.1}]}
    if version >= 3:
        run["attribute_column"] = key
    return {"version": version, "settings": {"bn_mode": "batch", "points": 10}, "runs": [run]}


@pytest.mark.parametrize("version", [2, 3])
def test_the_attribute_share_column_is_read_and_labelled_by_the_attribute(tables, tmp_path,
                                                                         version):
    (tmp_path / "faces-train0-chain0.json").write_text(json.dumps(eval_doc(version, 0.375)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tables.readme_tables(tables.load(tmp_path))
    text = out.getvalue()
    assert "**faces, sunglasses interpolations** (3 pairs x 10 points)" in text
    header = next(line for line in text.splitlines() if "ambiguous" in line)
    assert header.split(" | ")[3] == "sunglasses"
    row = next(line for line in text.splitlines() if line.startswith("| VAE | 0 | 0.250"))
    assert row.split(" | ")[3] == "0.375"


def test_the_committed_tables_are_what_the_committed_raw_output_gives(tables, monkeypatch):
    """docs/results-tables.md is generated from docs/results/, never edited by hand."""
    monkeypatch.chdir(SCRIPT.parents[1])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tables.main_for(Path("docs/results"))
    assert out.getvalue() == Path("docs/results-tables.md").read_text()
