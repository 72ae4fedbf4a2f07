"""The eval table's columns, and the measures of one chain step against a Reference.

* ``mmd_data``/``mmd_prior``: unbiased MMD^2 between z_t and codes of held-out data (samples
  of P^(Z)), or draws of the prior.
* ``data_score``: the mean P(looks like encoded data) of z_t.
* ``fd``: Frechet distance between the decoded x_t and held-out images in CNN features.
* ``precision``/``recall``: improved precision and recall (Kynkaanniemi et al. 2019,
  k = :data:`KNN_K`) in the same features; a sample-quality metric, unrelated to the number
  type that ``--precision`` picks for training.
* ``fd_pca``/``precision_pca``/``recall_pca``: the same in the pixel-PCA feature space.
* ``ambiguous`` and the attribute column (datasets with a binary attribute): the share of
  images whose predicted P(attribute) lies in :data:`AMBIGUOUS`, and the share predicted to
  have it (P > 0.5). The second column is named after the attribute (:func:`attribute_column`:
  ``sunglasses`` on a dataset whose binary attribute is sunglasses).
* ``max_jump``/``kept``/``end_dist``: the interpolation rows' smoothness and endpoint
  faithfulness (:mod:`genae_studio.evaluation.interpolations`).

``recon`` and ``data`` rows (:func:`reference_rows`) are the floors.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..api import Run
    from .reference import Reference

#: Every column but the attribute's own (see :func:`columns`), in table order.
COLUMNS = ("mmd_data", "mmd_prior", "data_score", "fd", "precision", "recall", "fd_pca",
           "precision_pca", "recall_pca", "ambiguous", "max_jump", "kept", "end_dist")
ROW_KEYS = ("kind", "step", "n")
AMBIGUOUS = (0.2, 0.8)
KNN_K = 3  # neighbours of improved precision/recall


def attribute_column(attribute: str | None) -> str | None:
    """The column of the share predicted to have ``attribute``: the attribute's own name, or
    ``<name>_share`` when that name is already a column."""
    if attribute is None:
        return None
    return f"{attribute}_share" if attribute in (*COLUMNS, *ROW_KEYS) else attribute


def columns(attribute: str | None) -> tuple[str, ...]:
    """The table's columns for a reference with this binary attribute (or none)."""
    if attribute is None:
        return COLUMNS
    at = COLUMNS.index("ambiguous") + 1
    return (*COLUMNS[:at], attribute_column(attribute), *COLUMNS[at:])


def step_metrics(reference: Reference, z, x) -> dict[str, float | None]:
    """All metrics of one chain step: codes z (n, K) and decoded images x (n, C, H, W).

    MMD uses every reference code; precision/recall use as many reference images as there are
    samples (both sides the same size, as k-NN radii depend on it); FD uses the reference's
    feature statistics. Columns that do not apply are None.
    """
    from .. import metrics

    z = _numpy(z)
    feats = reference.extractor.features(_numpy(x))
    row: dict[str, float | None] = dict.fromkeys(columns(reference.attribute))
    if z is not None:
        row["mmd_data"] = metrics.mmd2_unbiased(z, reference.codes, reference.kernel)
        row["mmd_prior"] = metrics.mmd2_unbiased(z, reference.prior, reference.kernel)
        if reference.score is not None:
            row["data_score"] = float(reference.score(z).mean())
    x = _numpy(x)
    row.update(image_metrics(reference, feats, reference.feats[:len(feats)], x,
                             stats=(reference.mu, reference.sigma)))
    return row


def _space_metrics(feats, real_feats, stats=None) -> dict:
    """fd (against ``stats`` when given, else real_feats) and improved precision/recall in
    one feature space."""
    import numpy as np

    from .. import metrics

    out = {}
    if stats is not None:
        out["fd"] = metrics.frechet_distance_from_stats(
            feats.mean(axis=0), np.cov(feats, rowvar=False), *stats)
    else:
        out["fd"] = metrics.frechet_distance(feats, real_feats)
    if min(len(feats), len(real_feats)) > KNN_K:
        out["precision"], out["recall"] = metrics.improved_precision_recall(real_feats, feats,
                                                                            KNN_K)
    return out


def attribute_shares(reference: Reference, p) -> dict:
    """``ambiguous`` and the attribute column of predicted probabilities ``p``."""
    import numpy as np

    from .. import metrics

    return {"ambiguous": metrics.ambiguous_share(p, *AMBIGUOUS),
            attribute_column(reference.attribute): float(np.mean(p > 0.5))}


def image_metrics(reference: Reference, feats, real_feats, x=None, stats=None,
                  real_images=None) -> dict:
    """FD and improved precision/recall in each feature space (against ``stats`` when given,
    else the real features/images), and the attribute shares."""
    out = {}
    if "cnn" in reference.spaces:
        out.update(_space_metrics(feats, real_feats, stats))
    if reference.pca is not None and x is not None:
        pca_feats = reference.pca.features(x)
        if stats is not None:
            pca_real, pca_stats = reference.pca_feats[:len(pca_feats)], \
                (reference.pca_mu, reference.pca_sigma)
        else:  # the floors: the held-out images of half B, as ``real_feats`` are
            pca_real, pca_stats = reference.pca.features(real_images), None
        out.update({f"{k}_pca": v
                    for k, v in _space_metrics(pca_feats, pca_real, pca_stats).items()})
    if reference.attribute is not None and x is not None:
        out.update(attribute_shares(reference,
                                    reference.extractor.probability(x, reference.attribute)))
    return out


def chain_metrics(run: Run, reference: Reference, z_steps, x_steps) -> dict[str, list]:
    """Metrics of several chain steps: z_steps (S, n, K), x_steps (S, n, C, H, W).

    Returns {column: [value per step]}: the curves against t, for scripts (README's
    Python API); checks that the reference was built for this model's sizes.
    """
    shape = (run.model.channels, run.model.image_size, run.model.image_size)
    if run.model.latent_dim != reference.latent_dim or shape != tuple(reference.image_shape):
        raise UsageError("the reference was built for a model with other latent or image sizes")
    rows = [step_metrics(reference, z, x) for z, x in zip(z_steps, x_steps, strict=True)]
    return {col: [r[col] for r in rows] for col in columns(reference.attribute)}


def _numpy(a):
    import numpy as np

    if a is None:
        return None
    if hasattr(a, "detach"):
        a = a.detach().float().cpu().numpy()
    return np.asarray(a)


def reference_rows(run: Run, reference: Reference, *, bn_mode: str = "batch",
                   seed: int = 0) -> list[dict]:
    """The floors: ``recon`` (decoded codes of half A vs images of half B) and ``data``."""
    import numpy as np

    from .. import metrics
    from .reference import decode

    count = len(reference.codes)
    a, b = metrics.split_half(np.arange(count), seed=seed)
    real_b = reference.feats[b]
    images = reference.heldout.batch(np.arange(count))
    recon = decode(run, reference.codes[a], bn_mode=bn_mode)
    rows = []
    for kind, x in (("recon", recon), ("data", images[a])):
        row = dict.fromkeys(columns(reference.attribute))
        if kind == "data":
            row["mmd_data"] = metrics.mmd2_unbiased(reference.codes[a], reference.codes[b],
                                                    reference.kernel)
            row["mmd_prior"] = metrics.mmd2_unbiased(reference.codes[a],
                                                     reference.prior[:len(a)],
                                                     reference.kernel)
            if reference.score is not None:  # out-of-fold: not scored by a fit that saw them
                row["data_score"] = reference.score.data_level
        feats = reference.extractor.features(x)
        row.update(image_metrics(reference, feats, real_b, x, real_images=images[b]))
        rows.append({"kind": kind, "step": None, "n": len(a), **row})
    return rows
