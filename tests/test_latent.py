"""genae_studio.latent: 2-D views and the data score, on constructed data with known answers."""
import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio import evaluation, latent
from genae_studio.api import Run
from genae_studio.latent import DataScore, EncodedData, encode_data, fit_view, fit_views
from genae_studio.runs import RunConfig

K = 20


def vae_like(n=800, seed=0, shift=0.0):
    """Codes like a VAE's: units 3 and 7 carry the data (posterior-mean std 2 and 1, little
    posterior noise); every other unit is N(0, 1) posterior noise around a mean of 0. With
    ``shift``, unit 5's codes move by that much (a difference that a line can see)."""
    rng = np.random.default_rng(seed)
    means = np.zeros((n, K), np.float32)
    means[:, 3] = 2 * rng.standard_normal(n)
    means[:, 7] = rng.standard_normal(n)
    noise = rng.standard_normal((n, K)).astype(np.float32)
    noise[:, [3, 7]] *= 0.1
    codes = means + noise
    codes[:, 5] += shift
    prior = rng.standard_normal((n, K)).astype(np.float32)
    return EncodedData(means, codes, prior)


def test_active_units_are_those_whose_posterior_mean_varies():
    encoded = vae_like()
    assert list(encoded.active) == [3, 7]  # most active first
    assert encoded.latent_dim == K


def test_means_view_finds_the_active_units_and_reports_their_share():
    view = fit_view(vae_like(), "means")
    # The axes span units 3 and 7: 4/(4+1) and 1/(4+1) of the posterior means' variance.
    assert abs(view.axes[0, 3]) == pytest.approx(1, abs=0.01)
    assert abs(view.axes[1, 7]) == pytest.approx(1, abs=0.01)
    np.testing.assert_allclose(view.explained, [0.8, 0.2], atol=0.03)
    assert view.held == pytest.approx(1.0, abs=0.01) and not view.low
    # The sampled codes' variance is mostly posterior noise: 5 of about 23 units' worth.
    assert view.explained_codes.sum() == pytest.approx(5 / 23, abs=0.03)
    assert view.active_units == 2 and view.latent_dim == K
    # It projects any z: a unit step along unit 3 moves one unit along the first axis.
    z = np.zeros((2, K), np.float32)
    z[1, 3] = 1
    xy = view.project(z)
    assert xy.shape == (2, 2)
    assert abs(xy[1, 0] - xy[0, 0]) == pytest.approx(1, abs=0.01)
    assert view.project(np.zeros((3, 4, K))).shape == (3, 4, 2)
    # The data's spread along unit 3 (std 2 against the prior's 1) separates them.
    assert view.auc > 0.7 and view.axis_auc[0] > view.axis_auc[1]


def test_joint_view_is_the_pca_of_prior_and_codes_together():
    from sklearn.decomposition import PCA

    encoded = vae_like()
    view = fit_view(encoded, "joint")
    pca = PCA(2).fit(np.concatenate([encoded.codes, encoded.prior]))
    np.testing.assert_allclose(np.abs(view.axes @ pca.components_.T), np.eye(2), atol=1e-4)


def test_discriminant_view_finds_the_shifted_unit_and_pairs_it_with_the_data_pc():
    encoded = vae_like(shift=1.5)
    view = fit_view(encoded, "discriminant")
    assert view.axes[0, 5] > 0.95  # the direction from prior to data, pointing at the data
    assert abs(view.axes[1, 3]) > 0.99  # the data's first PC, orthogonal to it
    assert abs(view.axes[0] @ view.axes[1]) < 1e-5
    assert view.axis_auc[0] > 0.8 and view.auc >= view.axis_auc[0] - 0.02
    assert view.axis_names == ("discriminant", "data PC⊥")
    assert view.project(encoded.codes)[:, 0].mean() > view.project(encoded.prior)[:, 0].mean()


def test_auto_picks_the_view_that_holds_most_and_unknown_methods_are_refused():
    encoded = vae_like(shift=1.5)
    views = fit_views(encoded)
    assert set(views) == {"means", "joint", "discriminant"}
    best = max(views, key=lambda m: views[m].held)
    assert fit_view(encoded, "auto").method == best == "means"
    with pytest.raises(ValueError, match="unknown latent view method 'tsne'"):
        fit_view(encoded, "tsne")


def test_a_view_of_structureless_codes_is_flagged_low():
    rng = np.random.default_rng(1)
    means = rng.standard_normal((600, 100)).astype(np.float32)  # isotropic in 100 dimensions
    encoded = EncodedData(means, means, rng.standard_normal((600, 100)).astype(np.float32))
    view = fit_view(encoded, "means")
    assert view.held < latent.LOW_SHARE and view.low
    assert view.summary()["held"] == pytest.approx(view.held, abs=1e-5)


def test_data_score_sees_a_difference_in_spread_that_a_line_cannot():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    encoded = vae_like()  # the data differ from the prior only in the spread of units 3 and 7
    X = np.concatenate([encoded.prior, encoded.codes])
    y = np.r_[np.zeros(len(encoded.prior)), np.ones(len(encoded.codes))]
    linear = cross_val_score(LogisticRegression(max_iter=2000), X, y, cv=3).mean()
    score = DataScore.fit(encoded)
    assert linear < 0.6 < score.cv_accuracy
    assert list(score.units) == [3, 7]
    assert score.prior_level < 0.5 < score.data_level
    # Fresh draws: data codes score higher than prior draws, by about the out-of-fold levels.
    fresh = vae_like(seed=5)
    p_data, p_prior = score(fresh.codes), score(fresh.prior)
    assert p_data.shape == (len(fresh.codes),) and ((0 <= p_data) & (p_data <= 1)).all()
    assert p_data.mean() == pytest.approx(score.data_level, abs=0.08)
    assert p_prior.mean() == pytest.approx(score.prior_level, abs=0.08)
    # Per chain and step: the leading shape is kept.
    steps = np.stack([fresh.prior[:10], fresh.codes[:10]])
    assert score(steps).shape == (2, 10)
    band = latent.score_band(score(steps))
    assert band["mean"][0] < band["mean"][1] and (band["low"] <= band["high"]).all()


def test_data_score_without_active_units_still_scores():
    rng = np.random.default_rng(2)
    prior = rng.standard_normal((300, 6)).astype(np.float32)
    encoded = EncodedData(np.zeros((300, 6), np.float32), rng.standard_normal((300, 6))
                          .astype(np.float32), prior)
    score = DataScore.fit(encoded)
    assert len(score.units) == 6 and 0.3 < score.cv_accuracy < 0.7  # nothing to tell apart


@pytest.mark.parametrize("name", ["vae", "daae"])
def test_encode_data_draws_the_codes_that_eval_draws(host, name):
    model, hparams = tiny_model(host, name)
    run = Run(model.eval(), RunConfig("genae_builtins", name, hparams), None,
              torch.device("cpu"))
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 32, 32), dtype=np.uint8)
    calls = []
    encoded = encode_data(run, images, seed=3, batch=16, n_prior=25,
                          progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert encoded.means.shape == encoded.codes.shape == (40, 8)
    assert encoded.prior.shape == (25, 8)
    np.testing.assert_allclose(encoded.codes, evaluation.encode_heldout(run, images, seed=3,
                                                                      batch=16), atol=1e-5)
    if name == "vae":  # sampled codes differ from the posterior means
        assert np.abs(encoded.codes - encoded.means).mean() > 0.1
    else:  # a deterministic encoder: the code is the mean (of the corrupted image)
        np.testing.assert_array_equal(encoded.codes, encoded.means)
