"""KID and density/coverage (genae_studio.metrics): closed forms and hand-computed values."""
import numpy as np
import pytest

from genae_studio import metrics


def kid_by_loops(a, b):
    """The unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written out pair by pair."""
    d = a.shape[1]

    def k(x, y):
        return (x @ y / d + 1.0) ** 3

    n, m = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_kid_matches_the_pairwise_formula():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 3)), rng.standard_normal((5, 3)) + 0.5
    assert metrics.kid(a, b) == pytest.approx(kid_by_loops(a, b), rel=1e-12)
    assert metrics.kid(a, b) == pytest.approx(metrics.kid(b, a), rel=1e-12)


def test_kid_by_hand_on_two_points_each():
    # d = 1: k(x, y) = (xy + 1)^3. a = {0, 1}, b = {1, 2}:
    # k(0,1) = 1 -> xx = 1; k(1,2) = 27 -> yy = 27; xy = (k(0,1)+k(0,2)+k(1,1)+k(1,2))/4
    # = (1 + 1 + 8 + 27) / 4 = 9.25; KID = 1 + 27 - 18.5 = 9.5.
    assert metrics.kid([[0.0], [1.0]], [[1.0], [2.0]]) == pytest.approx(9.5)


def kid_population_1d(mu):
    """MMD^2 between N(0, 1) and N(mu, 1) for k(x, y) = (xy + 1)^3, from the moments:
    E k(x, y) = E x^3 E y^3 + 3 E x^2 E y^2 + 3 E x E y + 1 for independent x, y."""
    def moments(m):
        return m, m * m + 1, m ** 3 + 3 * m

    def ek(p, q):
        return p[2] * q[2] + 3 * p[1] * q[1] + 3 * p[0] * q[0] + 1

    p, q = moments(0.0), moments(mu)
    return ek(p, p) + ek(q, q) - 2 * ek(p, q)


def test_kid_is_unbiased_at_small_n():
    """The mean over many n = 16 estimates equals the population value (FD would not)."""
    rng = np.random.default_rng(1)
    mu, reps = 0.5, 3000
    values = np.array([metrics.kid(rng.standard_normal((16, 1)),
                                   rng.standard_normal((16, 1)) + mu) for _ in range(reps)])
    expected = kid_population_1d(mu)
    assert abs(values.mean() - expected) < 4 * values.std() / np.sqrt(reps)
    same = np.array([metrics.kid(rng.standard_normal((16, 1)), rng.standard_normal((16, 1)))
                     for _ in range(reps)])
    assert abs(same.mean()) < 4 * same.std() / np.sqrt(reps)


def test_kid_uses_subsets_only_above_the_subset_size():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((60, 4)), rng.standard_normal((50, 4)) + 0.3
    assert metrics.kid(a, b, subset_size=60) == pytest.approx(kid_by_loops(a, b), rel=1e-9)
    sub = metrics.kid(a, b, subset_size=20, subsets=50, seed=3)
    assert sub == metrics.kid(a, b, subset_size=20, subsets=50, seed=3)  # seeded
    assert sub == pytest.approx(kid_by_loops(a, b), abs=0.5)


def test_kid_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 rows"):
        metrics.kid([[1.0]], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="different dimensions"):
        metrics.kid(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.kid([[np.nan], [1.0]], [[1.0], [2.0]])


def test_density_and_coverage_by_hand():
    # Real points on a line: 0, 1, 3, 7; with k = 1 their radii are 1, 1, 2, 4.
    real = np.array([[0.0], [1.0], [3.0], [7.0]])
    # Fakes: 0.5 lies in the balls of 0 and 1; 2.5 in the ball of 3 (radius 2) only (|2.5-1|
    # = 1.5 is not below 1); 10 in the ball of 7 (radius 4); 20 in none.
    fake = np.array([[0.5], [2.5], [10.0], [20.0]])
    density, coverage = metrics.density_coverage(real, fake, k=1)
    assert density == pytest.approx((2 + 1 + 1 + 0) / (1 * 4))
    assert coverage == pytest.approx(4 / 4)
    # Only the fake at 20: no ball holds it.
    assert metrics.density_coverage(real, [[20.0]], k=1) == (0.0, 0.0)
    # A fake exactly on a ball's edge is outside (strict, as prdc): 3 + 2 = 5 for the point 3
    # is also |5 - 7| = 2 < 4 inside the ball of 7.
    assert metrics.density_coverage(real, [[5.0]], k=1) == (1.0, 0.25)


def test_density_is_about_one_and_coverage_high_for_one_distribution():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))
    density, coverage = metrics.density_coverage(real, fake, k=5)
    assert 0.85 < density < 1.15 and coverage > 0.9
    # Half the modes: coverage halves, density (fidelity: fakes lie where reals are) stays.
    centres = np.array([[10.0] * 8, [-10.0] * 8])
    two = np.concatenate([rng.standard_normal((500, 8)) + c for c in centres])
    one = rng.standard_normal((1000, 8)) + centres[0]
    density, coverage = metrics.density_coverage(two, one, k=5)
    assert coverage == pytest.approx(0.5, abs=0.06) and 0.85 < density < 1.15
    # Fakes off the data: both fall.
    far_density, far_coverage = metrics.density_coverage(real, fake + 5.0, k=5)
    assert far_density < 0.05 and far_coverage < 0.05


def test_density_coverage_rejects_bad_k():
    with pytest.raises(ValueError, match="more than k=5"):
        metrics.density_coverage(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="positive integer"):
        metrics.density_coverage(np.zeros((5, 2)), np.zeros((5, 2)), k=0)


def test_frechet_distance_through_the_samples_equals_the_matrix_square_root():
    """The (n, m) SVD form of Tr sqrtm(S1 S2) is exact: same value as scipy's sqrtm on
    full-rank covariances, and it stays finite where d > n makes them singular."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((30, 6)) + 0.7
    expected = metrics.frechet_distance_from_stats(a.mean(0), np.cov(a, rowvar=False),
                                                   b.mean(0), np.cov(b, rowvar=False))
    assert metrics._frechet_low_rank(a, b) == pytest.approx(expected, rel=1e-9)
    wide_a, wide_b = rng.standard_normal((20, 500)), rng.standard_normal((25, 500)) + 0.1
    fd = metrics.frechet_distance(wide_a, wide_b)  # d = 500 > n: the SVD path
    # the same sets, embedded in 2000 dimensions, give the same distance
    pad = np.zeros((1, 1500))
    assert fd == pytest.approx(metrics.frechet_distance(
        np.hstack([wide_a, np.repeat(pad, 20, 0)]), np.hstack([wide_b, np.repeat(pad, 25, 0)])))
    assert np.isfinite(fd) and fd > 0
