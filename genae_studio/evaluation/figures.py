"""Eval's figures: sample grids of the chains and the attribute interpolations, and every
sampler and step on one precision-recall plane and one FD-against-t chart, as PNG."""
from __future__ import annotations

from pathlib import Path


def save_figures(result: dict, folder: Path) -> list[Path]:
    """``<data>-<run>-chains.png`` (a row per step, the first 12 chains of the first sampler;
    ``-chains-<sampler>.png`` for each further sampler), ``<data>-<run>-samplers.png`` (the
    precision-recall plane and FD against t, :func:`sampler_figure_data`) and, with an
    attribute, ``<data>-<run>-<attribute>.png`` (for each of 4 pairs a row per step)."""
    import numpy as np

    from ..data import safe_name
    from ..imaging import grid, save_png

    stem = safe_name(f"{result['data']}-{Path(result['run']).name}")
    folder = Path(folder)
    paths = [save_png(grid(np.stack(result["_samples"])), folder / f"{stem}-chains.png")]
    for label, shown in result.get("_sampler_samples", {}).items():
        paths.append(save_png(grid(np.stack(shown)),
                              folder / f"{stem}-chains-{safe_name(label)}.png"))
    if result.get("samplers"):
        paths.append(save_sampler_figure(result, folder / f"{stem}-samplers.png"))
    if "_interp" in result:
        images = result["_interp"]  # (pairs, S, points, C, H, W)
        rows = images.reshape(-1, *images.shape[2:])
        paths.append(save_png(grid(rows), folder / f"{stem}-{result['attribute']}.png"))
    return paths


def sampler_figure_data(result: dict, space: str = "") -> dict:
    """What the samplers figure draws, from one run's result (``evaluate_run``):

    * ``samplers``: {label: {"steps", "precision", "recall", "fd"}} for each sampler followed
      by the chain (lists in step order);
    * ``temperature``: the prior's temperature curve at step 0, sorted by temperature:
      {"temperature", "precision", "recall", "fd"} (the sweep, the prior itself and any
      ``prior:temperature=...`` sampler);
    * ``floors``: {"recon": {...}, "data": {...}} with precision, recall and fd.

    ``space`` picks the feature space's columns: "" (the CNN's), "_pca" or "_NAME".
    """
    cols = {"precision": f"precision{space}", "recall": f"recall{space}", "fd": f"fd{space}"}
    chains: dict[str, dict] = {}
    temps: dict[float, dict] = {}
    floors = {}
    info = {s["label"]: s for s in result.get("samplers", [])}
    for row in result["rows"]:
        values = {k: row.get(c) for k, c in cols.items()}
        if row["kind"] in ("recon", "data"):
            floors[row["kind"]] = values
        if row["kind"] != "chain":
            continue
        label = row.get("sampler") or "prior"
        meta = info.get(label, {"name": label, "options": {}, "sweep": False})
        if meta["name"] == "prior" and row["step"] == 0:
            temps[float(meta["options"].get("temperature", 1.0))] = values
        if meta.get("sweep"):
            continue
        entry = chains.setdefault(label, {"steps": [], **{k: [] for k in cols}})
        entry["steps"].append(row["step"])
        for k in cols:
            entry[k].append(values[k])
    order = sorted(temps)
    temperature = {"temperature": order, **{k: [temps[t][k] for t in order] for k in cols}}
    return {"samplers": chains, "temperature": temperature, "floors": floors}


def save_sampler_figure(result: dict, path: Path, space: str = "") -> Path:
    """Draw :func:`sampler_figure_data` as a PNG: precision against recall (each sampler a
    path through its steps, the temperature curve dashed, the floors as stars) beside FD
    against t (one line per sampler)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from ..fileio import atomic_write

    data = sampler_figure_data(result, space)
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    pr, fd = fig.subplots(1, 2)
    curve = data["temperature"]
    if len(curve["temperature"]) > 1:
        pr.plot(curve["recall"], curve["precision"], "--", color="0.55", marker=".",
                label="prior, temperature sweep (t = 0)")
        for tau, r, p in zip(curve["temperature"], curve["recall"], curve["precision"],
                             strict=True):
            pr.annotate(f"τ={tau:g}", (r, p), fontsize=7, color="0.4",
                        xytext=(3, -8), textcoords="offset points")
    for label, s in data["samplers"].items():
        (line,) = pr.plot(s["recall"], s["precision"], marker="o", label=label)
        for t, r, p in zip(s["steps"], s["recall"], s["precision"], strict=True):
            pr.annotate(f"t={t}", (r, p), fontsize=7, color=line.get_color(),
                        xytext=(3, 3), textcoords="offset points")
        fd.plot(s["steps"], s["fd"], marker="o", label=label, color=line.get_color())
    for kind, marker in (("data", "*"), ("recon", "P")):
        if kind in data["floors"]:
            f = data["floors"][kind]
            pr.plot([f["recall"]], [f["precision"]], marker, color="k", markersize=10,
                    linestyle="none", label=f"floor: {kind}")
            fd.axhline(f["fd"], color="k", linestyle=":" if kind == "data" else "-.",
                       linewidth=1, label=f"floor: {kind}")
    pr.set(xlabel=f"recall{space}", ylabel=f"precision{space}",
           title=f"{result['run']}: precision-recall, every sampler and step")
    fd.set(xlabel="chain step t", ylabel=f"FD{space}", title="FD against t")
    pr.legend(fontsize=7)
    fd.legend(fontsize=7)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
