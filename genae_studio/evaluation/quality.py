"""The eval table's columns, and the measures of one chain step against a Reference.

* ``mmd_data``/``mmd_prior``: unbiased MMD^2 between z_t and codes of held-out data (samples
  of P^(Z)), or draws of the prior.
* ``mmd_data_clean``: MMD^2 between z_t and codes of the same held-out images encoded without
  corruption. For denoising models P^(Z) (Eq. 2) is the codes of *corrupted* images, so
  ``mmd_data`` of a DAAE and of an AAE are measured against different kinds of reference;
  ``mmd_data_clean`` is the same kind for every model (for models without corruption it
  equals ``mmd_data``), and is the one to compare models with.
* ``data_score``: the mean P(looks like encoded data) of z_t.
* ``fd``: Frechet distance between the decoded x_t and held-out images in CNN features.
* ``kid``: kernel inception distance (unbiased at any n; Binkowski et al. 2018) in the same
  features.
* ``precision``/``recall``: improved precision and recall (Kynkaanniemi et al. 2019,
  k = :data:`KNN_K`) in the same features; a sample-quality metric, unrelated to the number
  type that ``--precision`` picks for training.
* ``density``/``coverage``: Naeem et al. (2020), k = :data:`DC_K`: fidelity that does not
  saturate with outliers, and the share of real points whose neighbourhood holds a sample.
* ``fd_pca`` ... ``coverage_pca``: the same in the pixel-PCA feature space, and ``fd_NAME``
  ... in an extra feature space NAME read from a weights file (``--features NAME:PATH@SHA``).
* ``ambiguous`` and the attribute column (datasets with a binary attribute): the share of
  images whose predicted P(attribute) lies in :data:`AMBIGUOUS`, and the share predicted to
  have it (P > 0.5). The second column is named after the attribute (:func:`attribute_column`:
  ``sunglasses`` on a dataset whose binary attribute is sunglasses).
* ``max_jump``/``kept``/``end_dist``: the interpolation rows' smoothness and endpoint
  faithfulness (:mod:`genae_studio.evaluation.interpolations`).

``recon`` and ``data`` rows (:func:`reference_rows`) are the floors, at the chain rows' n.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..api import Run
    from .reference import Reference

#: The measures of one feature space, in table order; a space other than the CNN's adds its
#: name as a suffix (``fd_pca``, ``kid_inception``).
SPACE_MEASURES = ("fd", "kid", "precision", "recall", "density", "coverage")
#: Every column but the attribute's own and extra feature spaces' (see :func:`columns`).
COLUMNS = ("mmd_data", "mmd_data_clean", "mmd_prior", "data_score", *SPACE_MEASURES,
           *(f"{m}_pca" for m in SPACE_MEASURES), "ambiguous", "max_jump", "kept", "end_dist")
ROW_KEYS = ("kind", "step", "n", "sampler")
AMBIGUOUS = (0.2, 0.8)
KNN_K = 3  # neighbours of improved precision/recall (Kynkaanniemi et al.)
DC_K = 5  # neighbours of density/coverage (Naeem et al. recommend 5)


def space_columns(space: str) -> tuple[str, ...]:
    """The columns of one feature space: ``fd, kid, ...`` for cnn, ``fd_NAME, ...`` else."""
    return SPACE_MEASURES if space == "cnn" else tuple(f"{m}_{space}" for m in SPACE_MEASURES)


def attribute_column(attribute: str | None) -> str | None:
    """The column of the share predicted to have ``attribute``: the attribute's own name, or
    ``<name>_share`` when that name is already a column."""
    if attribute is None:
        return None
    return f"{attribute}_share" if attribute in (*COLUMNS, *ROW_KEYS) else attribute


def columns(attribute: str | None, extra_spaces=()) -> tuple[str, ...]:
    """The table's columns for a reference with this binary attribute (or none) and these
    extra feature spaces (weights files, :mod:`.file_features`)."""
    at = COLUMNS.index("ambiguous")
    extra = tuple(c for space in extra_spaces for c in space_columns(space))
    attr = () if attribute is None else (attribute_column(attribute),)
    return (*COLUMNS[:at], *extra, "ambiguous", *attr, *COLUMNS[at + 1:])


def reference_columns(reference: Reference) -> tuple[str, ...]:
    return columns(reference.attribute, tuple(reference.extra_spaces))


def step_metrics(reference: Reference, z, x) -> dict[str, float | None]:
    """All metrics of one set of samples: codes z (n, K) (or None) and decoded images x
    (n, C, H, W): a chain step, or a floor (:func:`reference_rows`).

    MMD uses every reference code; FD the reference's feature statistics; KID every reference
    feature; precision/recall and density/coverage as many reference images as there are
    samples (both sides the same size, as k-NN radii depend on it). Columns that do not apply
    are None.
    """
    row: dict[str, float | None] = dict.fromkeys(reference_columns(reference))
    z = _numpy(z)
    if z is not None:
        row.update(latent_metrics(reference, z))
    row.update(image_metrics(reference, _numpy(x)))
    return row


def latent_metrics(reference: Reference, z) -> dict:
    """MMD^2 of codes z to P^(Z) (held-out codes), to codes of clean held-out images and to
    the prior, and the data score."""
    from .. import metrics

    out = {"mmd_data": metrics.mmd2_unbiased(z, reference.codes, reference.kernel),
           "mmd_prior": metrics.mmd2_unbiased(z, reference.prior, reference.kernel)}
    clean = reference.clean_codes
    out["mmd_data_clean"] = out["mmd_data"] if clean is None or clean is reference.codes \
        else metrics.mmd2_unbiased(z, clean, reference.kernel)
    if reference.score is not None:
        out["data_score"] = float(reference.score(z).mean())
    return out


def space_metrics(feats, real_feats, stats, suffix: str = "") -> dict:
    """FD (against the reference's ``stats`` = mean and covariance of ``real_feats``), KID,
    improved precision/recall and density/coverage of sample features against reference
    features, in one feature space."""
    import numpy as np

    from .. import metrics

    if feats.shape[1] < min(len(feats), len(real_feats)):
        out = {"fd": metrics.frechet_distance_from_stats(
            feats.mean(axis=0), np.cov(feats, rowvar=False), *stats)}
    else:  # more dimensions than points: exact, through the samples (no singular sqrtm)
        out = {"fd": metrics.frechet_distance(feats, real_feats)}
    out["kid"] = metrics.kid(feats, real_feats)
    real = real_feats[:len(feats)]
    if min(len(feats), len(real)) > KNN_K:
        out["precision"], out["recall"] = metrics.improved_precision_recall(real, feats, KNN_K)
    if len(real) > DC_K:
        out["density"], out["coverage"] = metrics.density_coverage(real, feats, DC_K)
    return {f"{k}{suffix}": v for k, v in out.items()}


def attribute_shares(reference: Reference, p) -> dict:
    """``ambiguous`` and the attribute column of predicted probabilities ``p``."""
    import numpy as np

    from .. import metrics

    return {"ambiguous": metrics.ambiguous_share(p, *AMBIGUOUS),
            attribute_column(reference.attribute): float(np.mean(p > 0.5))}


def image_metrics(reference: Reference, x) -> dict:
    """The measures of each feature space, and the attribute shares, of images x."""
    out = {}
    if "cnn" in reference.spaces:
        out.update(space_metrics(reference.extractor.features(x), reference.feats,
                                 (reference.mu, reference.sigma)))
    if reference.pca is not None:
        out.update(space_metrics(reference.pca.features(x), reference.pca_feats,
                                 (reference.pca_mu, reference.pca_sigma), "_pca"))
    for name, space in reference.extra_spaces.items():
        out.update(space_metrics(space.features(x), space.feats, (space.mu, space.sigma),
                                 f"_{name}"))
    if reference.attribute is not None:
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
    return {col: [r[col] for r in rows] for col in reference_columns(reference)}


def _numpy(a):
    import numpy as np

    if a is None:
        return None
    if hasattr(a, "detach"):
        a = a.detach().float().cpu().numpy()
    return np.asarray(a)


def reference_rows(run: Run, reference: Reference, *, bn_mode: str = "batch",
                   seed: int = 0) -> list[dict]:
    """The floors, measured exactly as chain samples are, at the same n: ``recon`` (decoded
    codes of n other held-out images) and ``data`` (those n other images themselves, and
    their codes), both against the reference's n held-out images. The data row's
    ``mmd_data_clean`` compares clean codes with clean codes."""
    from .. import metrics
    from .reference import decode

    recon = decode(run, reference.other_codes, bn_mode=bn_mode)
    other = reference.other.batch(range(len(reference.other)))
    rows = []
    for kind, z, x in (("recon", None, recon), ("data", reference.other_codes, other)):
        rows.append({"kind": kind, "step": None, "n": len(x), **step_metrics(reference, z, x)})
    clean = reference.clean_codes
    if clean is not None and clean is not reference.codes:
        rows[1]["mmd_data_clean"] = metrics.mmd2_unbiased(reference.other_clean_codes, clean,
                                                          reference.kernel)
    return rows
