"""Interpolation between held-out images' codes, before and after k chain steps (Figure 2)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .latent_cloud import encode_images
from .progress import Progress


@dataclass
class InterpResult:
    picks: list[int]
    four: bool
    before: np.ndarray  # uint8 (rows, points, C, H, W) or (points, points, C, H, W)
    after: np.ndarray
    z: np.ndarray  # (..., K)
    z_after: np.ndarray
    steps: int
    method: str
    run_name: str = ""  # the run it was made with (the panel labels it)


def interpolation_task(*, run, lock, images: np.ndarray, picks: list[int], points: int,
                       steps: int, method: str, bn_mode: str, four: bool, seed: int = 0):
    """Encode ``images`` (one batch, for batch norm), interpolate between the ``picks`` (two,
    or four corners with ``four``), apply ``steps`` chain steps; returns an InterpResult."""
    from ..imaging import to_uint8

    z = yield from encode_images(run, lock, images, bn_mode)
    ends = z[picks]
    endpoints = ends if four else ends.reshape(1, 2, -1)
    yield Progress(0, 0, f"interpolating, then {steps} chain steps")
    with lock:
        res = run.interpolate(endpoints, points=points, steps=steps, four=four, method=method,
                              bn_mode=bn_mode, seed=seed)
    return InterpResult(list(picks), four, to_uint8(res.before), to_uint8(res.after),
                        np.asarray(res.z), np.asarray(res.z_after), steps, method)
