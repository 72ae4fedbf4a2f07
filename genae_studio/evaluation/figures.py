"""Eval's figures: sample grids of the chains and the attribute interpolations, as PNG."""
from __future__ import annotations

from pathlib import Path


def save_figures(result: dict, folder: Path) -> list[Path]:
    """``<data>-<run>-chains.png`` (a row per step, the first 12 chains) and, with an attribute,
    ``<data>-<run>-<attribute>.png`` (for each of 4 pairs a row per step)."""
    import numpy as np

    from ..data import safe_name
    from ..imaging import grid, save_png

    stem = safe_name(f"{result['data']}-{Path(result['run']).name}")
    paths = [save_png(grid(np.stack(result["_samples"])), Path(folder) / f"{stem}-chains.png")]
    if "_interp" in result:
        images = result["_interp"]  # (pairs, S, points, C, H, W)
        rows = images.reshape(-1, *images.shape[2:])
        paths.append(save_png(grid(rows), Path(folder) / f"{stem}-{result['attribute']}.png"))
    return paths
