"""Tests for genae_studio.metrics: MMD, Frechet distance, precision/recall, decisiveness."""

import itertools

import numpy as np
import pytest

from genae_studio import metrics
from genae_studio.metrics import (
    ambiguous_share,
    frechet_distance,
    frechet_distance_from_stats,
    improved_precision_recall,
    mmd2_unbiased,
    split_half,
)


def gaussian(n, d, shift=0.0, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


# ---------------------------------------------------------------- MMD


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_same_distribution_is_near_zero(kernel):
    x, y = gaussian(500, 10, seed=1), gaussian(500, 10, seed=2)
    assert abs(mmd2_unbiased(x, y, kernel=kernel)) < 0.01


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_grows_with_mean_shift(kernel):
    x = gaussian(500, 10, seed=1)
    values = [mmd2_unbiased(x, gaussian(500, 10, shift=s, seed=2), kernel=kernel)
              for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert values[-1] > 0.1


def test_mmd_is_symmetric_and_handles_unequal_sizes():
    x, y = gaussian(300, 5, seed=1), gaussian(200, 5, shift=0.7, seed=2)
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_unbiased(y, x), rel=1e-10)


def test_mmd_matches_direct_formula_and_chunking(monkeypatch):
    x, y = gaussian(40, 3, seed=1), gaussian(30, 3, shift=0.5, seed=2)
    scales = (0.5, 2.0)

    def k(a, b):
        d2 = np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
        return sum(2 * 3 * s / (2 * 3 * s + d2) for s in scales)

    kxx, kyy = k(x, x), k(y, y)
    expected = ((kxx.sum() - np.trace(kxx)) / (40 * 39) + (kyy.sum() - np.trace(kyy)) / (30 * 29)
                - 2 * k(x, y).mean())
    assert mmd2_unbiased(x, y, scales=scales) == pytest.approx(expected, rel=1e-10)
    monkeypatch.setattr(metrics, "CHUNK", 7)  # several chunks, last one partial
    assert mmd2_unbiased(x, y, scales=scales) == pytest.approx(expected, rel=1e-10)


def test_mmd_rejects_bad_input():
    x = gaussian(10, 3)
    with pytest.raises(ValueError, match="dimensions"):
        mmd2_unbiased(x, gaussian(10, 4))
    with pytest.raises(ValueError, match="kernel"):
        mmd2_unbiased(x, x, kernel="linear")
    with pytest.raises(ValueError, match="at least 2 rows"):
        mmd2_unbiased(x, x[:1])


# ---------------------------------------------------------------- Frechet distance


def test_frechet_closed_form_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-8)


def test_frechet_identical_stats_is_zero():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 4))
    sigma = m @ m.T + 0.1 * np.eye(4)
    mu = rng.standard_normal(4)
    assert abs(frechet_distance_from_stats(mu, sigma, mu, sigma)) < 1e-6


def test_frechet_singular_covariance_uses_offset():
    sigma = np.diag([1.0, 0.0])  # singular: product has a zero eigenvalue
    value = frechet_distance_from_stats(np.zeros(2), sigma, np.ones(2), sigma)
    assert value == pytest.approx(2.0, abs=1e-4)
    zero = np.zeros((3, 3))
    assert frechet_distance_from_stats(np.zeros(3), zero, np.zeros(3), zero) == pytest.approx(
        0.0, abs=1e-4
    )


def test_frechet_from_samples_approximates_closed_form():
    rng = np.random.default_rng(3)
    mu1, mu2 = np.array([0.0, 0.0, 0.0]), np.array([1.0, -0.5, 0.0])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([0.5, 1.0, 3.0])
    fa = mu1 + rng.standard_normal((50_000, 3)) * np.sqrt(a)
    fb = mu2 + rng.standard_normal((50_000, 3)) * np.sqrt(b)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(fa, fb) == pytest.approx(expected, abs=0.05)
    assert abs(frechet_distance(fa, fa)) < 1e-6


def test_frechet_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        frechet_distance(gaussian(10, 3), gaussian(10, 4))
    with pytest.raises(ValueError):
        frechet_distance_from_stats(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# ---------------------------------------------------------------- precision / recall


def clusters(centres, per_cluster, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([c + 0.1 * rng.standard_normal((per_cluster, len(c))) for c in centres])


CENTRES = [np.array(c, dtype=float) for c in ([0, 0], [10, 0], [0, 10], [10, 10])]


def test_improved_precision_recall_identical_sets():
    x = clusters(CENTRES, 100, seed=0)
    assert improved_precision_recall(x, x.copy()) == (1.0, 1.0)


def test_improved_precision_recall_same_distribution_is_high():
    p, r = improved_precision_recall(clusters(CENTRES, 200, 0), clusters(CENTRES, 200, 1))
    assert p > 0.9 and r > 0.9


def test_improved_precision_recall_disjoint_sets():
    real = clusters(CENTRES, 50, seed=0)
    assert improved_precision_recall(real, real + 1000.0) == (0.0, 0.0)


def test_improved_precision_recall_half_the_modes(monkeypatch):
    monkeypatch.setattr(metrics, "CHUNK", 64)  # exercise chunking
    real = clusters(CENTRES, 200, seed=0)
    fake = clusters(CENTRES[:2], 400, seed=1)
    precision, recall = improved_precision_recall(real, fake)
    assert precision > 0.9
    assert recall == pytest.approx(0.5, abs=0.06)


def test_improved_precision_recall_rejects_bad_k():
    x = gaussian(5, 2)
    with pytest.raises(ValueError, match="k"):
        improved_precision_recall(x, x, k=0)
    with pytest.raises(ValueError, match="more than k"):
        improved_precision_recall(x, x, k=5)


# ---------------------------------------------------------------- decisiveness


def test_ambiguous_share_counts_strict_interior():
    assert ambiguous_share([0.1, 0.5, 0.9, 0.3]) == 0.5
    assert ambiguous_share([0.2, 0.8, 0.0, 1.0]) == 0.0  # boundaries are decisive
    assert ambiguous_share(np.array([[0.5, 0.5], [0.05, 0.95]])) == 0.5
    assert ambiguous_share([0.35, 0.65], low=0.4, high=0.6) == 0.0


@pytest.mark.parametrize(
    "probs, kwargs, message",
    [
        ([], {}, "empty"),
        ([0.5, 1.2], {}, r"\[0, 1\]"),
        ([-0.1], {}, r"\[0, 1\]"),
        ([0.5, float("nan")], {}, "NaN"),
        ([0.5], {"low": 0.8, "high": 0.2}, "low < high"),
    ],
)
def test_ambiguous_share_rejects_bad_input(probs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ambiguous_share(probs, **kwargs)


# ---------------------------------------------------------------- split_half and torch


def test_split_half_is_disjoint_and_reproducible():
    x = np.arange(11)[:, None].astype(float)
    a, b = split_half(x, seed=4)
    assert a.shape == b.shape == (5, 1)
    assert not set(a.ravel()) & set(b.ravel())
    a2, _ = split_half(x, seed=4)
    np.testing.assert_array_equal(a, a2)
    with pytest.raises(ValueError):
        split_half(x[:1], seed=0)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    x_np, y_np = gaussian(100, 4, seed=1), gaussian(100, 4, shift=1.0, seed=2)
    x, y = torch.from_numpy(x_np).float(), torch.from_numpy(y_np).float().requires_grad_()
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_unbiased(x_np, y_np), rel=1e-4)
    assert frechet_distance(x, y) == pytest.approx(frechet_distance(x_np, y_np), rel=1e-4)
    assert improved_precision_recall(x, y) == improved_precision_recall(x.numpy(),
                                                                        y.detach().numpy())
    assert ambiguous_share(torch.tensor([0.1, 0.5])) == 0.5
    a, b = split_half(x, seed=0)
    assert isinstance(a, torch.Tensor) and a.shape == b.shape == (50, 4)


def test_frechet_large_imaginary_part_raises():
    # Not a valid covariance: S1 S2 has a negative eigenvalue, so sqrtm is genuinely complex.
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance_from_stats(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))


def test_largest_jump_on_paths_with_known_answers():
    line = np.linspace(0, 1, 5)[:, None] * np.array([3.0, 4.0])  # even steps on a line
    step = np.array([[0, 0], [0, 0], [0, 0], [3, 4], [3, 4]], float)  # one jump
    detour = np.array([[0, 0], [10, 0], [0, 0], [0, 1], [0, 1]], float)  # ends 1 apart
    still = np.zeros((5, 2))
    got = metrics.largest_jump(np.stack([line, step, detour, still]))
    assert got[:3] == pytest.approx([0.25, 1.0, 10.0])
    assert np.isnan(got[3])
    with pytest.raises(ValueError):
        metrics.largest_jump(np.zeros((2, 1, 3)))


def test_mean_and_typical_distances():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[3.0, 4.0], [1.0, 1.0]])
    assert metrics.mean_distance(a, b) == pytest.approx(2.5)
    two = np.array([[0.0, 0.0], [6.0, 8.0]])  # any two different rows are 10 apart
    assert metrics.typical_distance(two) == pytest.approx(10.0)
