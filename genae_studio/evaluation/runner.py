"""Every row of one run: the chain steps, the interpolations (with an attribute), the floors."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .chains import run_chains
from .interpolations import decisiveness
from .quality import attribute_column, reference_rows, step_metrics

if TYPE_CHECKING:
    from ..api import Run
    from .reference import Reference


def evaluate_run(run: Run, reference: Reference, steps: list[int], *, seed: int = 0,
                 points: int = 10, bn_mode: str = "batch", label: str | None = None,
                 data: str | None = None, chain_batch: int | None = None) -> dict:
    """All rows for one run: chain steps, interpolations (if an attribute), the floors.

    ``chain_batch`` runs the chains in independent batches of that size (default: one batch
    of all n); the metrics still see all n chains. Keys starting with ``_`` hold images for
    the figures, not the JSON.
    """
    count = len(reference.codes)
    rows, samples = [], {}
    for t, z, x in run_chains(run, count, max(steps), bn_mode=bn_mode, seed=seed,
                              batch=chain_batch):
        if t in steps:
            x = x.float().cpu().numpy()
            rows.append({"kind": "chain", "step": t, "n": count,
                         **step_metrics(reference, z, x)})
            samples[t] = x[:12]
    result = {"run": label or run.name, "model": run.name,
              "path": str(run.path) if run.path else None,
              "data": data or reference.info.get("data"), "n": count,
              "chain_batch": chain_batch or count, "bn_mode": bn_mode,
              "features": {k: v for k, v in reference.extractor.info.items() if k != "heads"},
              "feature_mode": reference.extractor.mode, "attribute": reference.attribute,
              "attribute_column": attribute_column(reference.attribute),
              "spaces": list(reference.spaces),
              "pca": None if reference.pca is None else
              {"dim": int(reference.pca.components.shape[1]),
               "explained": reference.pca.explained},
              "data_score": reference.info.get("data_score"),
              "rows": rows}
    result["_samples"] = [samples[t] for t in steps]
    if reference.attribute is not None:
        interp = decisiveness(run, reference, steps, points=points, seed=seed, bn_mode=bn_mode,
                              chain_batch=chain_batch)
        rows.extend(interp["rows"])
        result["pairs"] = int(len(interp["pairs"]))
        result["_interp"] = interp["images"]
    rows.extend(reference_rows(run, reference, bn_mode=bn_mode, seed=seed))
    result["_steps"] = list(steps)
    return result
