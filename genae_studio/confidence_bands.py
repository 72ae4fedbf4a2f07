"""Confidence bands (bootstrap) for the per-step chain metrics: how much would a value move
with other chains?

The chains of one step are resampled with replacement ``n_boot`` times; the reference (codes
and features of held-out images, prior draws) stays fixed, so a band shows the spread that
comes from having a finite batch of chains. Each resample is a vector of counts c (how often
each chain was drawn), which makes every resampled statistic a cheap matrix product:

* MMD²: with kernel matrices K_zz, K_zr, sum_{i,j} c_i c_j K_zz[i, j] and c @ K_zr @ 1;
* Frechet distance: weighted mean and covariance of the features, then
  Tr sqrt(S1 S2) = sum sqrt(eig(A S1 A)) with A = S2^(1/2) computed once.
"""
from __future__ import annotations

import numpy as np

from .metrics import DEFAULT_SCALES, as_array

LEVEL = 0.95
N_BOOT = 200


def kernel_matrix(a, b, kernel: str = "imq", scales=DEFAULT_SCALES) -> np.ndarray:
    """k(a_i, b_j) summed over ``scales``, as metrics.mmd2_unbiased defines it: (n, m)."""
    a, b = as_array(a), as_array(b)
    d = a.shape[1]
    scales = np.asarray(scales, np.float64)
    params = 2.0 * d * scales if kernel == "imq" else d * scales
    d2 = np.maximum(np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None] - 2.0 * a @ b.T, 0.0)
    out = np.zeros_like(d2)
    for p in params:
        out += p / (p + d2) if kernel == "imq" else np.exp(-d2 / (2.0 * p))
    return out


def resample_counts(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n_boot, n) counts of a bootstrap resample of n items each."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n))
    return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)


def mmd2_resampled(z, reference, counts: np.ndarray, kernel: str = "imq") -> np.ndarray:
    """Unbiased MMD² between each resample of ``z`` (counts) and the fixed ``reference``."""
    z, r = as_array(z), as_array(reference)
    n, m = len(z), len(r)
    kzz = kernel_matrix(z, z, kernel)
    diag = kzz[0, 0]  # k(a, a): the number of scales
    krr = (kernel_matrix(r, r, kernel).sum() - m * diag) / (m * (m - 1))
    kzr_rows = kernel_matrix(z, r, kernel).sum(1)
    within = np.einsum("bi,ij,bj->b", counts, kzz, counts)
    # A chain drawn c times contributes c (c - 1) pairs of itself: off-diagonal, as if distinct.
    kxx = (within - n * diag) / (n * (n - 1))
    kxy = counts @ kzr_rows / (n * m)
    return kxx + krr - 2.0 * kxy


def frechet_resampled(feats, mu_ref, sigma_ref, counts: np.ndarray) -> np.ndarray:
    """Frechet distance of each resample of ``feats`` to N(mu_ref, sigma_ref)."""
    feats = as_array(feats)
    n = len(feats)
    vals, vecs = np.linalg.eigh(as_array(sigma_ref))
    root = (vecs * np.sqrt(np.maximum(vals, 0))) @ vecs.T  # sigma_ref^(1/2)
    out = np.empty(len(counts))
    for k, c in enumerate(counts):
        w = c / n
        mu = w @ feats
        centred = feats - mu
        sigma = (centred * c[:, None]).T @ centred / (n - 1)
        inner = np.linalg.eigvalsh(root @ sigma @ root)
        diff = mu - mu_ref
        out[k] = diff @ diff + np.trace(sigma) + np.trace(sigma_ref) \
            - 2.0 * np.sqrt(np.maximum(inner, 0)).sum()
    return out


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval holding ``level`` of the values."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def step_bands(reference, z, feats, *, n_boot: int = N_BOOT, seed: int = 0,
               level: float = LEVEL) -> dict[str, tuple[float, float]]:
    """Bootstrap ``level`` bands of mmd_data, mmd_prior and fd for one chain step.

    ``reference`` is an evaluate.Reference; ``z`` (n, K) the step's codes; ``feats`` (n, D)
    the features of its decoded images in the reference's feature network.
    """
    counts = resample_counts(len(z), n_boot, seed)
    return {"mmd_data": interval(mmd2_resampled(z, reference.codes, counts, reference.kernel),
                                 level),
            "mmd_prior": interval(mmd2_resampled(z, reference.prior, counts, reference.kernel),
                                  level),
            "fd": interval(frechet_resampled(feats, reference.mu, reference.sigma, counts),
                           level)}
