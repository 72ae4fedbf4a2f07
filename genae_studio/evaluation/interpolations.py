"""Interpolations between held-out images without and with a binary attribute, run through
the chain: the paper's Figure 2 claim that a few steps make them decisive.

Decisiveness alone (``ambiguous`` falls) rewards jumps and lost endpoints, so the ``interp``
rows also report

* ``max_jump`` (smoothness): per pair, the largest CNN-feature distance between consecutive
  points divided by the distance between the pair's two ends at the same step, averaged over
  pairs; 1/(points-1) for evenly spaced points on a line, 1 for a single jump.
* ``kept`` (endpoint faithfulness): the share of endpoints (the chained codes of the two
  original images) whose attribute, as predicted, still equals the original image's label.
* ``end_dist``: the endpoints' mean CNN-feature distance to the original images, divided by
  the mean distance between two random held-out images (0: the same, 1: as far as a stranger).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DataError, UsageError
from .chains import run_chains
from .quality import attribute_shares, reference_columns

if TYPE_CHECKING:
    from ..api import Run
    from ..data import ImageDataset
    from .reference import Reference


def pick_pairs(dataset: ImageDataset, attribute: str, pairs: int, seed: int = 0):
    """Indices (pairs, 2) into ``dataset``: column 0 without the attribute, column 1 with it."""
    import numpy as np

    values = np.asarray((dataset.attributes or {})[attribute])
    without, with_ = np.flatnonzero(values == 0), np.flatnonzero(values == 1)
    pairs = min(pairs, len(without), len(with_))
    if pairs < 1:
        raise DataError(f"{dataset.name}: no held-out images both with and without "
                        f"{attribute}")
    rng = np.random.default_rng([seed, 2])
    return np.stack([rng.choice(without, pairs, replace=False),
                     rng.choice(with_, pairs, replace=False)], axis=1)


def decisiveness(run: Run, reference: Reference, steps: list[int], *, points: int = 10,
                 pairs: int | None = None, seed: int = 0, bn_mode: str = "batch",
                 keep: int = 4, chain_batch: int | None = None) -> dict:
    """Interpolate between images without and with the attribute; run the chain from each
    point.

    Returns {"pairs": (P, 2) indices, "rows": [{"step", "ambiguous", <attribute column>,
    "max_jump", "kept", "end_dist", ...}], "images": (keep, S, points, C, H, W) of the first
    ``keep`` pairs}. ``ambiguous`` and the attribute column are over the interior points (the
    endpoints are reconstructions, not interpolations); ``max_jump`` over whole paths;
    ``kept`` and ``end_dist`` over the endpoints, against the original images.
    """
    import numpy as np

    attribute = reference.attribute
    if attribute is None:
        raise UsageError("the reference has no binary attribute for a decisiveness test")
    idx = pick_pairs(reference.heldout, attribute,
                     pairs or max(1, len(reference.codes) // points), seed)
    z0 = _interpolated_codes(run, reference, idx, points, bn_mode)
    shape = z0.shape[:2]
    rows, kept = [], {}
    for t, _, x in run_chains(run, z0.reshape(-1, z0.shape[-1]), max(steps), bn_mode=bn_mode,
                              seed=seed, batch=chain_batch):
        if t not in steps:
            continue
        x = x.float().cpu().numpy().reshape(*shape, *x.shape[1:])
        rows.append(_interp_row(reference, idx, t, x))
        kept[t] = x[:keep]
    return {"pairs": idx, "rows": rows,
            "images": np.stack([kept[t] for t in steps], axis=1)}


def _interpolated_codes(run: Run, reference: Reference, idx, points: int, bn_mode: str):
    """(P, points, K): slerp between the codes of each pair's two images."""
    import numpy as np
    import torch

    from ..sampling import interpolate

    # Encode the endpoints in one batch (with filler images up to 64, for batch norm).
    flat = idx.reshape(-1)
    filler = np.setdiff1d(np.arange(len(reference.codes)), flat)[:max(0, 64 - len(flat))]
    images = reference.heldout.batch(np.concatenate([flat, filler]))
    codes = run.encode(images, bn_mode=bn_mode)[:len(flat)].reshape(len(idx), 2, -1)
    return torch.stack([interpolate(a, b, points, "slerp") for a, b in codes])


def _interp_row(reference: Reference, idx, t: int, x) -> dict:
    """The ``interp`` row of step t; x (P, points, C, H, W) are the chained images."""
    import numpy as np

    from .. import metrics

    attribute, shape = reference.attribute, x.shape[:2]
    labels = np.asarray(reference.heldout.attributes[attribute])[idx]  # (P, 2): 0 and 1
    original = reference.feats[idx]  # (P, 2, D): features of the original images
    scale = reference.info.get("typical_distance") or 1.0
    flat_x = x.reshape(-1, *x.shape[2:])
    p = reference.extractor.probability(flat_x, attribute).reshape(shape)
    feats = reference.extractor.features(flat_x).reshape(*shape, -1)
    ends = feats[:, [0, -1]]
    jumps = metrics.largest_jump(feats)
    return {"kind": "interp", "step": t, "n": int(p[:, 1:-1].size),
            **dict.fromkeys(reference_columns(reference)),
            **attribute_shares(reference, p[:, 1:-1]),
            "max_jump": float(np.nanmean(jumps)) if np.isfinite(jumps).any() else None,
            "kept": float(np.mean((p[:, [0, -1]] > 0.5) == (labels == 1))),
            "end_dist": metrics.mean_distance(ends.reshape(-1, ends.shape[-1]),
                                              original.reshape(-1, ends.shape[-1])) / scale}
