"""2-D views of the latent space and the per-sample "looks like encoded data" score.

The chain moves codes from the prior P(Z) = N(0, I) towards P^(Z), the distribution of encoded
data. To show that in two dimensions, a view is fitted on encoded held-out data and prior
samples (:func:`encode_data`), with one of these methods:

* ``means``: PCA of the encoded data's posterior means. A VAE uses only a few of its latent units
  (the *active units*, whose posterior mean varies across the data); the others carry posterior
  noise that no 2-D view can show. Their means hold the data's structure.
* ``joint``: PCA of prior samples together with sampled codes, P(Z) ∪ P^(Z).
* ``discriminant``: the direction that best tells prior samples from sampled codes (Fisher's
  linear discriminant, shrunk), paired with the first principal component of the posterior
  means orthogonal to it.
* ``auto``: of these, the one whose two axes hold the largest share of the encoded data's
  variance.

Every view reports the share of the encoded data's variance (of the posterior means; for a
deterministic encoder the codes themselves) that each axis holds, how well its two axes separate
prior samples from sampled codes (cross-validated AUC), and the number of active units.

:class:`DataScore` is a probabilistic classifier of prior samples against sampled codes on the
active units and their squares (a linear model misses that a VAE's codes differ from the prior
mostly in spread). ``score(z)`` is P(data) per code: a chain starts at the prior's level and
should rise towards the encoded data's level.

    from genae_studio.latent import encode_data, fit_view, DataScore
    encoded = encode_data(run, images)           # posterior means, sampled codes, prior draws
    view = fit_view(encoded, "auto")             # view.method, view.explained, view.auc
    xy = view.project(z)                         # (n, 2)
    score = DataScore.fit(encoded)               # score.cv_accuracy
    p = score(z)                                 # (n,) P(looks like encoded data)

Only numpy and scikit-learn at import time; torch is used inside :func:`encode_data`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ACTIVE_VARIANCE = 0.01  # a unit is active when its posterior mean varies more than this
METHODS = ("means", "joint", "discriminant")
CHOICES = ("auto", *METHODS)
LOW_SHARE = 0.05  # a view whose two axes hold less than this shows little: warn
SCORE_UNITS = 64  # the data score uses at most this many of the most active units
CV_FOLDS = 3
ENCODE_BATCH = 250  # images per encoder call in the studio and the latent command
DESCRIPTIONS = {
    "auto": "the method whose axes hold the most encoded-data variance",
    "means": "PCA of the encoded data's posterior means (active units)",
    "joint": "PCA of prior samples and sampled codes together, P(Z) ∪ P^(Z)",
    "discriminant": "prior-vs-data discriminant axis, with the data's first PC orthogonal to it",
}


# ---------------------------------------------------------------- encoded data

@dataclass
class EncodedData:
    """Held-out data in the latent space, and prior draws to compare them with."""

    means: np.ndarray  # (N, K) posterior means (the code itself for deterministic encoders)
    codes: np.ndarray  # (N, K) sampled codes: samples of P^(Z), as the chain produces them
    prior: np.ndarray  # (M, K) draws of P(Z) = N(0, I)

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    @property
    def unit_variance(self) -> np.ndarray:
        """Variance of each unit's posterior mean across the data."""
        return self.means.var(axis=0)

    @property
    def active(self) -> np.ndarray:
        """Indices of the active units, most active first."""
        var = self.unit_variance
        order = np.argsort(var)[::-1]
        return order[var[order] > ACTIVE_VARIANCE]


def encoding_seed(seed: int) -> int:
    """The seed of the held-out encodings' random draws, independent of ``seed``'s stream:
    with the chain's seed, a VAE's eps here would equal the chain's z0 draw for draw, and for
    posteriors close to the prior the two samples would be paired."""
    return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1)[0])


def encode_images(run, images, *, bn_mode: str = "batch", seed: int = 0, batch: int = 1000,
                  means: bool = True, progress: Callable[[int, int], None] | None = None,
                  lock=None, corrupt: bool | None = None
                  ) -> tuple[np.ndarray | None, np.ndarray]:
    """Posterior means (None unless ``means``) and codes of uint8 images as the chain would
    produce them: samples of P^(Z), float32. The one encoder of held-out images.

    A code is a draw of Q(Z|x) (for a VAE z = mu + sigma * eps, for an AAE the deterministic
    code); denoising models encode the corrupted image, as their chain does (Eq. 2 of the
    paper), unless ``corrupt`` is False (codes of clean images, eval's second reference).
    The draws come from the stream of :func:`encoding_seed`, so ``eval``, ``latent`` and the
    studio see the same samples. Batches of up to ``batch`` images, so batch-norm
    statistics are meaningful. ``progress(done, total)`` is called after each batch (a worker
    may raise from it to cancel); ``lock`` is held while the model runs.
    """
    from contextlib import nullcontext

    import torch

    from .imaging import to_float_tensor
    from .sampling import sampling_mode

    model = run.model
    images = np.asarray(images)
    gen = torch.Generator(run.device).manual_seed(encoding_seed(seed))
    starts = list(range(0, len(images), batch))
    mus, codes = [], []
    for k, start in enumerate(starts):
        with lock or nullcontext(), torch.inference_mode(), sampling_mode(model, bn_mode):
            x = to_float_tensor(images[start:start + batch], run.device)
            if model.denoising and corrupt is not False:
                x = model.corrupt(x, None, gen)
            x = x.contiguous(memory_format=torch.channels_last)
            if means:
                mus.append(model.encode(x, sample=False).float().cpu().numpy())
            codes.append(model.encode(x, sample=True, generator=gen).float().cpu().numpy())
        if progress is not None:
            progress(k + 1, len(starts))
    return (np.concatenate(mus) if means else None), np.concatenate(codes)


def encode_data(run, images, *, bn_mode: str = "batch", seed: int = 0,
                n_prior: int | None = None, batch: int = 1000,
                progress: Callable[[int, int], None] | None = None,
                lock=None) -> EncodedData:
    """Posterior means and sampled codes of uint8 images (:func:`encode_images`), and
    ``n_prior`` prior draws."""
    if len(images) < 2:
        raise ValueError("encode_data needs at least 2 images")
    means, codes = encode_images(run, images, bn_mode=bn_mode, seed=seed, batch=batch,
                                 progress=progress, lock=lock)
    prior = np.random.default_rng([seed, 1]).standard_normal(
        (n_prior or len(codes), codes.shape[1])).astype(np.float32)
    return EncodedData(means.astype(np.float32), codes.astype(np.float32), prior)


# ---------------------------------------------------------------- 2-D views

@dataclass
class LatentProjection:
    """A fitted 2-D view: orthonormal axes through a centre, and what they show."""

    method: str
    center: np.ndarray  # (K,)
    axes: np.ndarray  # (2, K), orthonormal rows
    explained: np.ndarray  # (2,) share of the encoded data's variance along each axis
    explained_codes: np.ndarray  # (2,) the same for sampled codes (posterior noise included)
    auc: float  # prior vs sampled codes on both axes (cross-validated, 0.5 = no separation)
    axis_auc: np.ndarray  # (2,) the same on each axis alone
    active_units: int
    latent_dim: int
    axis_names: tuple[str, str] = ("PC1", "PC2")

    @property
    def held(self) -> float:
        """Share of the encoded data's variance that the two axes hold together."""
        return float(self.explained.sum())

    @property
    def low(self) -> bool:
        return self.held < LOW_SHARE

    def project(self, z) -> np.ndarray:
        """(..., K) codes -> (..., 2) coordinates on the view's axes."""
        z = np.asarray(z, np.float32)
        return ((z - self.center) @ self.axes.T).astype(np.float32)

    def axis_label(self, k: int) -> str:
        return f"{self.axis_names[k]} ({100 * self.explained[k]:.1f}% of encoded-data variance)"

    def summary(self) -> dict:
        """The numbers as plain JSON-ready values."""
        return {"method": self.method, "axes": list(self.axis_names),
                "explained": [round(float(v), 5) for v in self.explained],
                "held": round(self.held, 5),
                "explained_codes": [round(float(v), 5) for v in self.explained_codes],
                "separation_auc": round(self.auc, 4),
                "axis_auc": [round(float(v), 4) for v in self.axis_auc],
                "active_units": self.active_units, "latent_dim": self.latent_dim}


def fit_views(encoded: EncodedData, methods=METHODS, seed: int = 0) -> dict[str, LatentProjection]:
    """Fit each of ``methods`` (default: all) on the same encoded data."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown latent view method {unknown[0]!r}; choose from "
                         f"{', '.join(CHOICES)}")
    return {m: _fit(encoded, m, seed) for m in methods}


def fit_view(encoded: EncodedData, method: str = "auto", seed: int = 0) -> LatentProjection:
    """One fitted view; ``auto`` fits them all and keeps the one whose axes hold the most."""
    if method == "auto":
        return best_view(fit_views(encoded, seed=seed))
    return fit_views(encoded, [method], seed)[method]


def best_view(views: dict[str, LatentProjection]) -> LatentProjection:
    """The view whose two axes hold the largest share of the encoded data's variance."""
    return max(views.values(), key=lambda v: v.held)


def _fit(encoded: EncodedData, method: str, seed: int) -> LatentProjection:
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    means, codes, prior = (encoded.means.astype(np.float64), encoded.codes.astype(np.float64),
                           encoded.prior.astype(np.float64))
    names = ("PC1", "PC2")
    if method == "means":
        pca = PCA(n_components=2, random_state=seed).fit(means)
        center, axes = pca.mean_, pca.components_
    elif method == "joint":
        pca = PCA(n_components=2, random_state=seed).fit(np.concatenate([codes, prior]))
        center, axes = pca.mean_, pca.components_
    else:  # discriminant
        X, y = _labelled(prior, codes)
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X, y)
        w = lda.coef_[0] / np.linalg.norm(lda.coef_[0])
        if w @ (codes.mean(0) - prior.mean(0)) < 0:
            w = -w  # data to the right
        rest = means - np.outer(means @ w, w)  # the means with the discriminant direction removed
        second = PCA(n_components=1, random_state=seed).fit(rest).components_[0]
        second -= (second @ w) * w
        axes = np.stack([w, second / np.linalg.norm(second)])
        center = np.concatenate([codes, prior]).mean(0)
        names = ("discriminant", "data PC⊥")
    total = means.var(axis=0).sum()
    explained = ((means - means.mean(0)) @ axes.T).var(axis=0) / total if total > 0 \
        else np.zeros(2)
    explained_codes = ((codes - codes.mean(0)) @ axes.T).var(axis=0) / codes.var(axis=0).sum()
    view = LatentProjection(method, center.astype(np.float32), axes.astype(np.float32),
                            explained, explained_codes, 0.5, np.full(2, 0.5),
                            int(len(encoded.active)), encoded.latent_dim, names)
    view.auc, view.axis_auc = separation_auc(view.project(prior), view.project(codes), seed)
    return view


def separation_auc(prior_xy: np.ndarray, data_xy: np.ndarray,
                   seed: int = 0) -> tuple[float, np.ndarray]:
    """How well 2-D points tell prior from data: the cross-validated ROC AUC of a quadratic
    discriminant (it sees shifts and differences in spread), on both axes and on each alone."""
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y = _labelled(prior_xy, data_xy)
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)

    def auc(cols):
        p = cross_val_predict(QuadraticDiscriminantAnalysis(reg_param=1e-3), X[:, cols], y,
                              cv=folds, method="predict_proba")[:, 1]
        return float(roc_auc_score(y, p))

    return auc([0, 1]), np.array([auc([0]), auc([1])])


def _labelled(prior, data):
    """Stack prior (label 0) and data (label 1)."""
    return np.concatenate([prior, data]), np.r_[np.zeros(len(prior)), np.ones(len(data))]


# ---------------------------------------------------------------- the data score

def _square_features(z, units):
    z = np.asarray(z, np.float64)[..., units]
    return np.concatenate([z, z * z], axis=-1)


@dataclass
class DataScore:
    """P(looks like encoded data) of a code: a logistic classifier of prior samples against
    sampled codes, on the most active units and their squares.

    ``cv_accuracy`` is its 3-fold cross-validated accuracy; ``prior_level`` and ``data_level``
    are the mean out-of-fold P(data) of prior samples and of encoded data: where a chain should
    start and where it should end up.
    """

    units: np.ndarray
    classifier: object  # a fitted sklearn pipeline
    cv_accuracy: float
    prior_level: float
    data_level: float
    info: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, encoded: EncodedData, seed: int = 0) -> DataScore:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        units = encoded.active[:SCORE_UNITS]
        if not len(units):  # no active unit: the most varied ones, so the score is defined
            units = np.argsort(encoded.unit_variance)[::-1][:8]
        X, y = _labelled(_square_features(encoded.prior, units),
                         _square_features(encoded.codes, units))
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
        folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
        p = cross_val_predict(model, X, y, cv=folds, method="predict_proba")[:, 1]
        accuracy = float(np.mean((p > 0.5) == y))
        model.fit(X, y)
        return cls(np.asarray(units), model, accuracy, float(p[y == 0].mean()),
                   float(p[y == 1].mean()),
                   {"features": f"{len(units)} most active units and their squares",
                    "n_prior": int((y == 0).sum()), "n_data": int((y == 1).sum())})

    def __call__(self, z) -> np.ndarray:
        """P(data) for codes (..., K), with the leading shape kept."""
        z = np.asarray(z)
        flat = _square_features(z.reshape(-1, z.shape[-1]), self.units)
        return self.classifier.predict_proba(flat)[:, 1].reshape(z.shape[:-1])

    def summary(self) -> dict:
        return {"cv_accuracy": round(self.cv_accuracy, 4),
                "prior_level": round(self.prior_level, 4),
                "data_level": round(self.data_level, 4), "units": len(self.units),
                "features": self.info.get("features", "")}


def score_band(scores: np.ndarray) -> dict[str, np.ndarray]:
    """Mean P(data) over chains per step, with the 10th-90th percentile band: scores (S, n)."""
    scores = np.asarray(scores, np.float64)
    return {"mean": scores.mean(axis=1), "low": np.percentile(scores, 10, axis=1),
            "high": np.percentile(scores, 90, axis=1)}


def ellipse(points: np.ndarray, nstd: float = 2.0, num: int = 73) -> tuple[np.ndarray, ...]:
    """The ``nstd``-sigma covariance ellipse of 2-D points, as x, y (empty for < 3 points)."""
    if len(points) < 3:
        return np.empty(0), np.empty(0)
    mean = points.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(points.T))
    angle = np.linspace(0, 2 * np.pi, num)
    circle = np.stack([np.cos(angle), np.sin(angle)], 1)
    curve = mean + nstd * (circle * np.sqrt(np.maximum(vals, 0))) @ vecs.T
    return curve[:, 0], curve[:, 1]
