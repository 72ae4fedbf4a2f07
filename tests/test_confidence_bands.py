"""Bootstrap bands of the chain metrics (genae_studio.confidence_bands)."""
import numpy as np

from genae_studio import confidence_bands, metrics


def test_the_identity_resample_gives_the_metrics_values():
    rng = np.random.default_rng(0)
    z, ref = rng.normal(size=(60, 5)), rng.normal(0.3, 1.0, size=(80, 5))
    ones = np.ones((1, 60))
    for kernel in ("imq", "rbf"):
        got = confidence_bands.mmd2_resampled(z, ref, ones, kernel)[0]
        assert np.isclose(got, metrics.mmd2_unbiased(z, ref, kernel))
    feats, real = rng.normal(size=(60, 4)), rng.normal(0.5, 2.0, size=(90, 4))
    mu, sigma = real.mean(0), np.cov(real, rowvar=False)
    got = confidence_bands.frechet_resampled(feats, mu, sigma, ones)[0]
    want = metrics.frechet_distance_from_stats(feats.mean(0), np.cov(feats, rowvar=False),
                                               mu, sigma)
    assert np.isclose(got, want, rtol=1e-6)


def test_bands_hold_the_value_and_narrow_with_more_chains():
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    ref = SimpleNamespace(codes=rng.normal(size=(300, 4)), prior=rng.normal(size=(300, 4)),
                          kernel="imq")
    real = rng.normal(size=(300, 3))
    ref.mu, ref.sigma = real.mean(0), np.cov(real, rowvar=False)
    widths = []
    for n in (40, 400):
        z, feats = rng.normal(0.5, 1, size=(n, 4)), rng.normal(0.5, 1, size=(n, 3))
        bands = confidence_bands.step_bands(ref, z, feats, n_boot=300)
        lo, hi = bands["mmd_data"]
        assert lo < metrics.mmd2_unbiased(z, ref.codes) < hi
        lo, hi = bands["fd"]
        assert lo < metrics.frechet_distance_from_stats(
            feats.mean(0), np.cov(feats, rowvar=False), ref.mu, ref.sigma) < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2
