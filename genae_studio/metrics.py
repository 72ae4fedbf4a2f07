"""Sample-quality measures: MMD, Frechet distance, KID, improved precision/recall, density and
coverage, decisiveness.

"Precision" here is always Kynkaanniemi et al.'s sample-quality measure
(:func:`improved_precision_recall`), never a number type (training's ``--precision``).

Pure numpy/scipy functions. Inputs may be numpy arrays or torch tensors (torch is never
imported here); everything is computed in float64. Pairwise work is done in row chunks so that
n = m = 5000 points in d = 200 dimensions stay within a few hundred MB.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

#: Scales of Tolstikhin et al. (2018), "Wasserstein Auto-Encoders", for the multi-scale kernel.
DEFAULT_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

#: Rows per chunk of a pairwise-distance block (chunk x m float64 values at a time).
CHUNK = 1024


def as_array(x, ndim: int | None = 2, name: str = "x") -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or sequence) as a float64 numpy array."""
    if hasattr(x, "detach"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return arr


def _points(x, name: str, min_rows: int = 1) -> np.ndarray:
    arr = as_array(x, 2, name)
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _same_dim(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} have different dimensions: {a.shape[1]} and {b.shape[1]}")


def _sq_dists(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows of a and b: |a|^2 + |b|^2 - 2 a.b, clipped at 0."""
    d2 = np.sum(a * a, axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0, out=d2)


def _kernel_sum(a: np.ndarray, b: np.ndarray, kernel: str, params: np.ndarray) -> float:
    """Sum over all pairs (i, j) and all scales of k(a_i, b_j), in chunks of rows of a."""
    b_sq = np.sum(b * b, axis=1)
    total = 0.0
    for start in range(0, a.shape[0], CHUNK):
        d2 = _sq_dists(a[start:start + CHUNK], b, b_sq)
        for p in params:
            if kernel == "imq":
                total += float(np.sum(p / (p + d2)))
            else:
                total += float(np.sum(np.exp(-d2 / (2.0 * p))))
    return total


def mmd2_unbiased(x, y, kernel: str = "imq", scales=DEFAULT_SCALES) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy MMD^2(P, Q).

    Gretton et al. (2012), "A Kernel Two-Sample Test", eq. (3)::

        MMD^2_u = sum_{i!=j} k(x_i,x_j) / (n(n-1)) + sum_{i!=j} k(y_i,y_j) / (m(m-1))
                  - 2 sum_{i,j} k(x_i,y_j) / (nm)

    with k the sum over ``scales`` s of either

    * ``"imq"`` (default, Tolstikhin et al. 2018, WAE): k(a,b) = C / (C + ||a-b||^2), C = 2 d s;
    * ``"rbf"``: k(a,b) = exp(-||a-b||^2 / (2 sigma^2)), sigma^2 = d s.

    ``x`` is (n, d) and ``y`` is (m, d), n, m >= 2. Because the diagonal terms are left out the
    estimate is unbiased but can be slightly negative when P and Q are (nearly) equal.
    """
    x = _points(x, "x", min_rows=2)
    y = _points(y, "y", min_rows=2)
    _same_dim(x, y, "x and y")
    if kernel not in ("imq", "rbf"):
        raise ValueError(f"unknown kernel {kernel!r}; expected 'imq' or 'rbf'")
    scales = np.asarray(scales, dtype=np.float64).ravel()
    if scales.size == 0 or not (scales > 0).all():
        raise ValueError("scales must be a non-empty list of positive numbers")

    d = x.shape[1]
    params = 2.0 * d * scales if kernel == "imq" else d * scales
    n, m = x.shape[0], y.shape[0]
    diag = float(len(params))  # k(a, a) = 1 for every scale of both kernels
    kxx = (_kernel_sum(x, x, kernel, params) - n * diag) / (n * (n - 1))
    kyy = (_kernel_sum(y, y, kernel, params) - m * diag) / (m * (m - 1))
    kxy = _kernel_sum(x, y, kernel, params) / (n * m)
    return float(kxx + kyy - 2.0 * kxy)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Dowson and Landau (1982); used as FID by Heusel et al. (2017)::

        d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))

    Follows the pytorch-fid reference: if S1 S2 is singular (sqrtm warns or is not finite), eps
    is added to both diagonals; tiny imaginary parts from numerical error are dropped, and a
    ValueError is raised when the imaginary component is large.
    """
    mu1 = np.atleast_1d(as_array(mu1, None, "mu1"))
    mu2 = np.atleast_1d(as_array(mu2, None, "mu2"))
    sigma1 = np.atleast_2d(as_array(sigma1, None, "sigma1"))
    sigma2 = np.atleast_2d(as_array(sigma2, None, "sigma2"))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mean vectors have different shapes: {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"covariances must be ({d}, {d}), got {sigma1.shape} and {sigma2.shape}"
        )

    diff = mu1 - mu2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", linalg.LinAlgWarning)  # scipy warns when singular
            covmean = linalg.sqrtm(sigma1 @ sigma2)
    except linalg.LinAlgWarning:
        covmean = None
    if covmean is None or not np.isfinite(covmean).all():
        offset = np.eye(d) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            largest = np.max(np.abs(covmean.imag))
            raise ValueError(f"sqrtm(S1 S2) has a large imaginary component {largest:.3g}")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(value)


def frechet_distance(feat_a, feat_b) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (n, d) and (m, d).

    Means and sample covariances (``np.cov``, rows are observations). When the dimension is
    below both set sizes they go to :func:`frechet_distance_from_stats`; otherwise (e.g. 2048
    Inception features of a few hundred images, where the covariances are singular) the trace
    term is computed exactly from the centred samples A (n, d), B (m, d)::

        Tr sqrtm(S1 S2) = sum of the singular values of A B^T / sqrt((n - 1)(m - 1))

    since the non-zero eigenvalues of S1 S2 are those of (A B^T)(A B^T)^T / ((n-1)(m-1)).
    That costs an (n, m) SVD instead of a (d, d) matrix square root. Each set needs at least
    2 rows.
    """
    a = _points(feat_a, "feat_a", min_rows=2)
    b = _points(feat_b, "feat_b", min_rows=2)
    _same_dim(a, b, "feat_a and feat_b")
    if a.shape[1] < min(len(a), len(b)):
        return frechet_distance_from_stats(
            a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False))
    return _frechet_low_rank(a, b)


def _frechet_low_rank(a: np.ndarray, b: np.ndarray) -> float:
    """The Frechet distance from samples through the (n, m) cross product (see above)."""
    n, m = len(a), len(b)
    ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
    trace_a = float(np.sum(ca * ca)) / (n - 1)
    trace_b = float(np.sum(cb * cb)) / (m - 1)
    cross = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1))
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(diff @ diff + trace_a + trace_b - 2.0 * cross)


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest neighbour in x, excluding itself."""
    x_sq = np.sum(x * x, axis=1)
    radii = np.empty(x.shape[0])
    for start in range(0, x.shape[0], CHUNK):
        d2 = _sq_dists(x[start:start + CHUNK], x, x_sq)
        # Index 0 of the sorted row is the point itself (distance 0), so index k is the k-th NN.
        radii[start:start + CHUNK] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(radii)


def _share_covered(centres: np.ndarray, radii: np.ndarray, queries: np.ndarray) -> float:
    """Share of query rows within distance radii[i] of at least one centre i."""
    c_sq = np.sum(centres * centres, axis=1)
    r_sq = radii * radii
    covered = 0
    for start in range(0, queries.shape[0], CHUNK):
        d2 = _sq_dists(queries[start:start + CHUNK], centres, c_sq)
        covered += int(np.count_nonzero((d2 <= r_sq[None, :]).any(axis=1)))
    return covered / queries.shape[0]


def _knn_sets(real_feats, fake_feats, k, *, fake_needs_k: bool):
    """The two feature sets as float arrays of one width, and k as an int; a ValueError for
    a bad k or a set with no more than k rows (the fake set only when ``fake_needs_k``)."""
    real = _points(real_feats, "real_feats")
    fake = _points(fake_feats, "fake_feats")
    _same_dim(real, fake, "real_feats and fake_feats")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    for name, arr in (("real_feats", real), ("fake_feats", fake))[:2 if fake_needs_k else 1]:
        if arr.shape[0] <= k:
            raise ValueError(f"{name} needs more than k={k} rows, got {arr.shape[0]}")
    return real, fake, k


def improved_precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, NeurIPS).

    Each real point gets a ball whose radius is the distance to its k-th nearest real neighbour
    (itself excluded); the union of balls approximates the real manifold. Then::

        precision = share of fake points inside at least one real ball
        recall    = share of real points inside at least one fake ball (fake radii among fakes)

    Both sets are (n, d) with more than k rows. Distances are computed in chunks.
    """
    real, fake, k = _knn_sets(real_feats, fake_feats, k, fake_needs_k=True)
    fakes_covered = _share_covered(real, _knn_radii(real, k), fake)
    reals_covered = _share_covered(fake, _knn_radii(fake, k), real)
    return fakes_covered, reals_covered


def kid(feat_a, feat_b, *, subset_size: int = 1000, subsets: int = 100, seed: int = 0) -> float:
    """Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs"), in any
    feature space: the unbiased MMD^2 estimate with the cubic polynomial kernel
    k(a, b) = (a.b / d + 1)^3.

    Unbiased at any n (unlike FD), so rows at n = 64-500 can be compared with each other and
    with larger n. When both sets have at most ``subset_size`` rows the estimate uses all of
    them; otherwise it is the mean over ``subsets`` random subsets of ``subset_size`` rows of
    each (as torch-fidelity and clean-fid do). Each set needs at least 2 rows. Like every
    unbiased MMD^2 estimate it can be slightly negative when the distributions agree.
    """
    a = _points(feat_a, "feat_a", min_rows=2)
    b = _points(feat_b, "feat_b", min_rows=2)
    _same_dim(a, b, "feat_a and feat_b")
    if max(len(a), len(b)) <= subset_size:
        return _kid_once(a, b)
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    return float(np.mean([_kid_once(a[rng.choice(len(a), size, replace=False)],
                                    b[rng.choice(len(b), size, replace=False)])
                          for _ in range(subsets)]))


def _kid_once(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    n, m = len(a), len(b)
    kaa = (a @ a.T / d + 1.0) ** 3
    kbb = (b @ b.T / d + 1.0) ** 3
    kab = (a @ b.T / d + 1.0) ** 3
    return float((kaa.sum() - np.trace(kaa)) / (n * (n - 1))
                 + (kbb.sum() - np.trace(kbb)) / (m * (m - 1)) - 2.0 * kab.mean())


def density_coverage(real_feats, fake_feats, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
    Generative Models"), with k-NN balls around the real points only::

        density  = 1 / (k M) * sum_j #{i : fake_j in B(real_i, r_i)}
        coverage = share of real points i whose ball holds at least one fake point

    r_i is the distance from real_i to its k-th nearest real neighbour (itself excluded);
    "in the ball" is a distance strictly below r_i, as in the authors' ``prdc`` package.
    Density is not capped at 1 (about 1 when both sets come from one distribution);
    coverage lies in [0, 1]. Both sets are (n, d); the real set needs more than k rows.
    The paper recommends k = 5.
    """
    real, fake, k = _knn_sets(real_feats, fake_feats, k, fake_needs_k=False)
    r_sq = _knn_radii(real, k) ** 2
    r_sq_row = r_sq[None, :]
    real_sq = np.sum(real * real, axis=1)
    inside_total = 0
    covered = np.zeros(real.shape[0], dtype=bool)
    for start in range(0, fake.shape[0], CHUNK):
        inside = _sq_dists(fake[start:start + CHUNK], real, real_sq) < r_sq_row
        inside_total += int(np.count_nonzero(inside))
        covered |= inside.any(axis=0)
    return inside_total / (k * fake.shape[0]), float(covered.mean())


def ambiguous_share(probabilities, low: float = 0.2, high: float = 0.8) -> float:
    """Share of predicted probabilities strictly inside (low, high): attribute decisiveness.

    Used for interpolated faces: the share whose attribute prediction (e.g. "sunglasses") is
    ambiguous. Values equal to ``low`` or ``high`` count as decisive. Lower is more decisive.
    """
    p = as_array(probabilities, None, "probabilities").ravel()
    if p.size == 0:
        raise ValueError("probabilities is empty")
    if not np.isfinite(p).all():
        raise ValueError("probabilities contains NaN or infinite values")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(
            f"probabilities must lie in [0, 1], got values in [{p.min():.3g}, {p.max():.3g}]"
        )
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    return float(np.mean((p > low) & (p < high)))


def largest_jump(paths) -> np.ndarray:
    """Interpolation smoothness: for each path of points (P, L, D), the largest distance
    between consecutive points divided by the distance between the path's two ends.

    1 / (L - 1) for evenly spaced points on a straight line (the smoothest path), 1 when all
    the change happens in one jump, more when the path wanders or its ends coincide while the
    middle moves. NaN for a path whose ends coincide and which does not move at all.
    """
    x = as_array(paths, 3, "paths")
    if x.shape[1] < 2:
        raise ValueError(f"paths need at least 2 points each, got shape {x.shape}")
    jumps = np.linalg.norm(np.diff(x, axis=1), axis=2).max(axis=1)
    ends = np.linalg.norm(x[:, -1] - x[:, 0], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = jumps / ends
    ratio[(ends == 0) & (jumps == 0)] = np.nan
    return ratio


def mean_distance(a, b) -> float:
    """Mean Euclidean distance between rows a[i] and b[i]."""
    a, b = as_array(a, 2, "a"), as_array(b, 2, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b, axis=1).mean())


def typical_distance(x, pairs: int = 2000, seed: int = 0) -> float:
    """Mean distance between two different random rows of x: the scale of "far apart"."""
    x = _points(x, "x", min_rows=2)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(x), pairs)
    j = (i + rng.integers(1, len(x), pairs)) % len(x)  # never the same row
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def split_half(x, seed: int = 0):
    """Randomly split the rows of x into two disjoint halves of equal size (n // 2 each).

    For the "data against itself" reference row of a metrics table. Returns the same kind of
    object as given (numpy array or torch tensor); with odd n one row is left out.
    """
    n = len(x)
    if n < 2:
        raise ValueError(f"split_half needs at least 2 rows, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return x[perm[:half]], x[perm[half:2 * half]]
