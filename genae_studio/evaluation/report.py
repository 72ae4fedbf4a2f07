"""The eval results as a text table and as a JSON document."""
from __future__ import annotations

import json

from .controls import RULE
from .quality import columns

# 2: PCA columns, interpolation smoothness/faithfulness, environment;
# 3: the attribute-share column is named after the attribute (was ``glasses``), and each run
#    says which column it is (``attribute_column``); datasets without one have no such column.
# 4: samplers (each chain row names its ``sampler``; each run lists ``samplers`` with their
#    info and MCMC diagnostics), kid/density/coverage columns, extra feature spaces, and the
#    floors (recon, data rows) at the chain rows' n.
# 5: control rows (kind ``control``, named by ``control``: noise, grey, shuffled, blurred) and
#    each run's ``controls`` (the junk-blind measures and the rule); ``mmd_data_clean`` (MMD²
#    to codes of clean held-out images; equals mmd_data for models without corruption).
#    Everything of version 4 is unchanged.
JSON_VERSION = 5


def _cell(value, col: str) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:.4f}" if col.startswith("mmd") else f"{value:.3f}"


def format_table(results: list[dict]) -> str:
    """One aligned table: a row per run, kind and step; blank lines between runs."""
    blocks = []
    for result in results:
        every = columns(result.get("attribute"), tuple(result.get("extra_spaces") or ()))
        cols = [c for c in every if any(r.get(c) is not None for r in result["rows"])]
        blind = (result.get("controls") or {}).get("junk_blind") or {}
        lines = [[result["run"], result["data"] or "", r.get("control") or r["kind"],
                  r.get("sampler") or "-", "-" if r["step"] is None else str(r["step"]),
                  str(r["n"]), *[_cell(r.get(c), c) for c in cols]] for r in result["rows"]]
        head = ["run", "data", "kind", "sampler", "step", "n",
                *[f"{c}!" if c in blind else c for c in cols]]
        blocks.append((head, lines, blind))
    width: dict[int, int] = {}
    for head, lines, _ in blocks:
        for row in [head, *lines]:
            for i, cell in enumerate(row):
                width[i] = max(width.get(i, 0), len(cell))
    out = []
    for head, lines, blind in blocks:
        if out:
            out.append("")
        for row in [head, *lines]:
            out.append("  ".join(c.ljust(width[i]) if i < 4 else c.rjust(width[i])
                                 for i, c in enumerate(row)).rstrip())
        if blind:
            out.append(f"! {RULE}: " + "; ".join(f"{c} ({why[0]})" for c, why in blind.items()))
    return "\n".join(out)


def environment() -> dict:
    """Library versions, thread count and machine: what a rerun must match to agree."""
    import platform

    import numpy
    import scipy
    import torch

    from .. import __version__

    return {"genae_studio": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def json_document(results: list[dict], settings: dict) -> str:
    """The JSON file's text: version, the command's ``settings``, the environment and every
    run (without the figures' images)."""
    doc = {"version": JSON_VERSION, "settings": settings,
           "environment": environment(),
           "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]}
    return json.dumps(doc, indent=2, default=_json_default) + "\n"


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
