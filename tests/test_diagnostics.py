"""MCMC diagnostics (genae_studio.evaluation.diagnostics) on chains of known autocorrelation."""
import numpy as np
import pytest

from genae_studio.evaluation import diagnostics


def ar1(chains, draws, phi, seed=0, offsets=None):
    """x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t, started in the stationary N(0, 1)."""
    rng = np.random.default_rng(seed)
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    noise = rng.standard_normal((chains, draws)) * np.sqrt(1 - phi * phi)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x if offsets is None else x + np.asarray(offsets)[:, None]


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_ess_of_ar1_chains_matches_the_closed_form(phi):
    # The integrated autocorrelation time of AR(1) is (1 + phi) / (1 - phi).
    chains, draws = 8, 2000
    expected = chains * draws * (1 - phi) / (1 + phi)
    assert diagnostics.ess(ar1(chains, draws, phi)) == pytest.approx(expected, rel=0.15)


def test_autocorrelation_of_ar1_is_phi_to_the_lag():
    acf = diagnostics.autocorrelation(ar1(16, 4000, 0.7, seed=1), max_lag=4)
    assert acf == pytest.approx([0.7 ** k for k in range(5)], abs=0.03)


def test_rhat_is_one_for_mixed_chains_and_large_for_chains_stuck_apart():
    mixed = ar1(8, 500, 0.5, seed=2)
    assert diagnostics.rhat(mixed) == pytest.approx(1.0, abs=0.02)
    stuck = ar1(8, 500, 0.5, seed=2, offsets=np.repeat([-3.0, 3.0], 4))
    assert diagnostics.rhat(stuck) > 1.5


def test_nested_rhat_sees_superchains_that_share_a_start():
    """Chains in one batch share an offset (like chains sharing batch-norm statistics): the
    plain R-hat of many short chains misses little, nested R-hat with batches as
    superchains flags it."""
    rng = np.random.default_rng(3)
    batches = np.repeat(np.arange(4), 16)
    shared = rng.normal(0, 0.8, 4)[batches]
    trace = ar1(64, 30, 0.3, seed=3, offsets=shared)
    assert diagnostics.rhat_nested(trace, batches) > 1.1
    independent = ar1(64, 30, 0.3, seed=4)
    assert diagnostics.rhat_nested(independent, batches) < 1.05
    assert diagnostics.rhat_nested(trace, np.zeros(64)) is None  # one superchain


def test_too_short_or_constant_traces_give_none():
    assert diagnostics.ess(np.ones((4, 100))) is None
    assert diagnostics.ess(ar1(500, 6, 0.5)) is None  # arviz would say ~10,000: its cap
    assert diagnostics.rhat(np.ones((4, 10))) is None
    assert diagnostics.rhat(ar1(4, 3, 0.5)) is None


def test_many_short_chains_measure_their_autocorrelation_across_chains():
    """500 chains of 6 draws (eval's steps 0..5): the lag-k correlation across chains is
    phi^k, and the last step's correlation with the start is phi^5."""
    trace = ar1(500, 6, 0.8, seed=8)
    acf = diagnostics.autocorrelation(trace, max_lag=3)
    assert acf == pytest.approx([1.0, 0.8, 0.64, 0.512], abs=0.05)
    assert diagnostics.lagged_correlation(trace, 5) == pytest.approx(0.8 ** 5, abs=0.1)
    out = diagnostics.chain_diagnostics({"norm": trace}, diagnostics.batch_ids(500, None))
    assert out["ess_method"].startswith("across chains")
    assert out["max_start_correlation"] == pytest.approx(0.8 ** 5, abs=0.1)
    # tau summed over 5 lags only (1 + 2 (0.8 + ... + 0.8^5) = 6.4 of the full 9): an upper
    # bound, within 1.6x of the closed form
    closed = 500 * 6 * (1 - 0.8) / (1 + 0.8)
    assert closed < out["min_ess"] < 1.6 * closed


@pytest.mark.parametrize("phi", [0.3, 0.6])
def test_ess_across_many_short_chains_matches_the_closed_form(phi):
    trace = ar1(1000, 30, phi, seed=9)
    expected = 1000 * 30 * (1 - phi) / (1 + phi)
    assert diagnostics.ess_across_chains(trace) == pytest.approx(expected, rel=0.15)


def test_the_stopping_step_waits_for_the_summaries_and_the_fd():
    # the mean of the summary moves for 3 steps, then stays: settled at step 3
    drift = np.minimum(np.arange(11), 3)[None, :] * 1.0
    traces = {"norm": ar1(200, 11, 0.0, seed=5) * 0.1 + drift}
    assert diagnostics.settled_step(traces) == 3
    # FD is lowest at 1 (within 5% at 1 and 5): t* is the first near-best step not before 3
    fd = {0: 100.0, 1: 50.0, 5: 51.0, 10: 60.0}
    choice = diagnostics.stopping_step(traces, fd)
    assert choice["t_star"] == 5 and choice["best_fd_step"] == 1
    assert choice["settled_step"] == 3 and "within 5%" in choice["rule"]
    # no near-best step after the summaries settle: the FD condition alone
    choice = diagnostics.stopping_step(traces, {0: 100.0, 1: 50.0, 5: 90.0})
    assert choice["t_star"] == 1 and "FD condition alone" in choice["rule"]


def test_chain_diagnostics_reports_each_summary_and_the_extremes():
    batches = diagnostics.batch_ids(40, 10)
    assert list(np.bincount(batches)) == [10, 10, 10, 10]
    traces = {"norm": ar1(40, 60, 0.5, seed=6), "data_score": ar1(40, 60, 0.2, seed=7)}
    out = diagnostics.chain_diagnostics(traces, batches, {0: 3.0, 5: 2.0})
    assert out["chains"] == 40 and out["draws"] == 60 and out["superchains"] == 4
    norm = out["summaries"]["norm"]
    assert len(norm["mean"]) == 60 and norm["autocorrelation"][0] == pytest.approx(1.0)
    assert out["min_ess"] == min(s["ess"] for s in out["summaries"].values())
    assert out["max_rhat_nested"] is not None and out["stopping"]["t_star"] == 5
    one = diagnostics.chain_diagnostics(traces, diagnostics.batch_ids(40, None))
    assert one["max_rhat_nested"] is None and "one batch-norm batch" in one["rhat_nested_note"]
    assert "--chain-batch" in one["rhat_nested_note"]
    independent = diagnostics.chain_diagnostics(traces, None)  # batch norm eval or precise
    assert independent["max_rhat_nested"] is None and independent["max_rhat"] is not None
    assert independent["rhat_nested_note"].startswith("not needed: the chains are independent")


def test_the_trace_recorder_summarises_codes_per_step():
    recorder = diagnostics.TraceRecorder(score=lambda z: np.full(len(z), 0.5),
                                         axes=np.eye(3)[:2], center=np.zeros(3))
    for t in range(3):
        recorder.add(np.full((5, 3), float(t)))
    traces = recorder.traces()
    assert set(traces) == {"norm", "data_score", "axis1", "axis2"}
    assert traces["norm"].shape == (5, 3) and traces["norm"][0, 2] == pytest.approx(2 * 3 ** .5)
    assert traces["axis2"][0].tolist() == [0.0, 1.0, 2.0]
