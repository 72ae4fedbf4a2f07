"""Control rows: what each measure says about images that are not samples of the model.

Every eval scores, exactly as it scores a chain step (same n, same reference, same feature
spaces), four sets of n images made from the n *other* held-out images (the floors'
images, never the reference's own):

* ``noise``: uniform noise, each pixel value drawn from 0..255;
* ``grey``: flat grey images (every pixel 128/255, about 0.5);
* ``shuffled``: held-out images with each image's pixel positions permuted (every pixel keeps
  its colour; the image's colour histogram stays, its structure goes);
* ``blurred``: held-out images blurred with a Gaussian of :data:`BLUR_SIGMA` pixels.

Image measures (FD, KID, precision ...) score the control images; latent measures (MMD² to
P^(Z), to clean codes and to the prior, the data score) score their codes, encoded as the
chain encodes a decoded image (denoising models corrupt first; batch norm as ``bn_mode``).

The first three are *junk*. A measure is **junk-blind** (:func:`junk_blind`) when some junk
control scores at least as data-like on it as the chain at t = 1 (the first sampler's) or as
the held-out data row. Such a measure cannot tell samples from junk, so it is not evidence
that the chain's samples look like data. Blurred images are a graded control: reported, not
used in the rule.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..api import Run
    from .reference import Reference

CONTROLS = ("noise", "grey", "shuffled", "blurred")
JUNK = ("noise", "grey", "shuffled")
BLUR_SIGMA = 1.5  # pixels, at the model's image size
#: +1: higher is more data-like; -1: lower is. Measures not listed (mmd_prior, the attribute
#: shares) say nothing about looking like data and are never flagged.
DIRECTION = {"mmd_data": -1, "mmd_data_clean": -1, "data_score": +1, "fd": -1, "kid": -1,
             "precision": +1, "recall": +1, "density": +1, "coverage": +1}
RULE = ("junk-blind: some junk control (uniform noise, flat grey or pixel-shuffled held-out "
        "images) scores at least as data-like as the chain at t = 1 or as the held-out data")


def direction(col: str) -> int | None:
    """+1/-1 for a measure (any feature space's suffix: ``fd_pca`` -> -1), else None."""
    if col in DIRECTION:
        return DIRECTION[col]
    base = col.split("_")[0]
    return DIRECTION.get(base) if base in ("fd", "kid", "precision", "recall", "density",
                                           "coverage") else None


def control_images(kind: str, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 (n, C, H, W) control images of ``kind`` made from held-out ``images``."""
    import numpy as np

    rng = np.random.default_rng([int(seed), 0xC0])
    images = np.asarray(images)
    if kind == "noise":
        return rng.integers(0, 256, images.shape, dtype=np.uint8)
    if kind == "grey":
        return np.full(images.shape, 128, np.uint8)
    if kind == "shuffled":
        n, c, h, w = images.shape
        flat = images.reshape(n, c, h * w)
        order = np.argsort(rng.random((n, h * w)), axis=1)  # one permutation per image
        return np.take_along_axis(flat, order[:, None, :], axis=2).reshape(images.shape)
    if kind == "blurred":
        from scipy.ndimage import gaussian_filter

        blurred = gaussian_filter(images.astype(np.float32), (0, 0, BLUR_SIGMA, BLUR_SIGMA),
                                  mode="reflect")
        return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown control {kind!r} (controls: {', '.join(CONTROLS)})")


def control_rows(run: Run, reference: Reference, *, bn_mode: str = "batch", seed: int = 0,
                 controls=CONTROLS) -> list[dict]:
    """One ``control`` row per control: its images and their codes scored as a chain step
    (:func:`~.quality.step_metrics`), at the chain rows' n."""
    import numpy as np

    from .quality import step_metrics
    from .reference import encode_heldout

    other = reference.other.batch(np.arange(len(reference.other)))
    rows = []
    for kind in controls:
        x = control_images(kind, other, seed)
        z = encode_heldout(run, x, bn_mode=bn_mode, seed=seed + 2)
        rows.append({"kind": "control", "control": kind, "step": None, "n": len(x),
                     **step_metrics(reference, z, x)})
    return rows


def junk_blind(rows: list[dict], sampler: str | None = None) -> dict[str, list[str]]:
    """{measure: [why]} for every junk-blind measure of one run's rows (see the module's
    rule). ``sampler``: whose chain at t = 1 to compare with (default: the first chain row's
    sampler). A measure with no t = 1 row and no data row cannot be judged and is left out."""
    chains = [r for r in rows if r.get("kind") == "chain"]
    sampler = sampler or (chains[0].get("sampler") if chains else None)
    marks = [(f"the chain at t = 1 ({sampler})", r) for r in chains
             if r.get("step") == 1 and r.get("sampler") == sampler][:1]
    marks += [("the held-out data", r) for r in rows if r.get("kind") == "data"][:1]
    junk = [r for r in rows if r.get("kind") == "control" and r.get("control") in JUNK]
    flagged: dict[str, list[str]] = {}
    for col in sorted({c for r in junk for c in r}):
        sign = direction(col)
        if sign is None:
            continue
        for ctl in junk:
            for name, mark in marks:
                a, b = ctl.get(col), mark.get(col)
                if a is None or b is None or a != a or b != b:
                    continue
                if sign * a >= sign * b:
                    flagged.setdefault(col, []).append(
                        f"{ctl['control']} {a:.4g} vs {name} {b:.4g}")
    return flagged
