"""Issue 20 §5 in the studio: the sampler of z0 beside the batch-norm mode (fitted in a worker,
once per run, cancellable), the metrics dock's kept curves of several samplers and runs, and
the MCMC trace view with ESS and R-hat."""
import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from genae_studio.evaluation import samplers as eval_samplers
from genae_studio.evaluation.samplers import draw

from .gui_helpers import wait_idle
from .test_studio import run_chain


@pytest.fixture
def builds(monkeypatch):
    """Every build_sampler call, with the thread it ran on."""
    seen = []
    original = eval_samplers.build_sampler

    def recording(choice, context):
        seen.append((choice.label, threading.current_thread() is threading.main_thread()))
        return original(choice, context)

    monkeypatch.setattr(eval_samplers, "build_sampler", recording)
    return seen


def test_the_chains_start_from_the_chosen_sampler_fitted_once_in_a_worker(qtbot, window,
                                                                          builds):
    wait_idle(qtbot, window)
    cv, chain = window.chain_view, window.session.chain
    assert [cv.sampler_combo.itemText(i) for i in range(cv.sampler_combo.count())] == \
        list(window.session.host.samplers)  # prior, gmm, reweighted and plugins' samplers
    assert cv.start is None and cv.temperature_spin.isEnabled()
    cv.sampler_combo.setCurrentText("gmm")  # starts the chains over from the GMM's codes
    assert chain.sampler == "gmm" and not cv.temperature_spin.isEnabled()
    qtbot.waitUntil(lambda: cv.start is not None and len(cv.history) == 1, timeout=120_000)
    wait_idle(qtbot, window)
    assert cv.start.label == "gmm" and builds == [("gmm", False)]  # fitted off the GUI thread
    z0 = draw(cv.start.sampler, chain.n, seed=cv.chain_seed, latent_dim=cv.history.z[0].shape[1])
    np.testing.assert_allclose(cv.history.z[0], z0.astype(np.float32), rtol=1e-5, atol=1e-6)
    assert "from gmm" in cv.info.text()
    run_chain(qtbot, window, 2)
    assert cv.history.t == [0, 1, 2]
    cv.reset(cv.chain_seed + 1)  # the same run: the fitted mixture is reused
    qtbot.waitUntil(lambda: cv.start is not None and len(cv.history) == 1, timeout=60_000)
    assert builds == [("gmm", False)]
    # The prior at a temperature: codes N(0, tau^2 I), through the prior sampler
    chain.sampler = "prior"
    chain.temperature = 0.5
    qtbot.waitUntil(lambda: cv.start is not None and cv.start.label == "prior:temperature=0.5"
                    and len(cv.history) == 1, timeout=60_000)
    wait_idle(qtbot, window)
    assert cv.history.z[0].std() == pytest.approx(0.5, rel=0.1)
    cv.redraw()  # batch statistics divide out a global scale of z: the window says so
    assert "τ is divided out by batch norm batch" in cv.info.toolTip()
    chain.temperature = 1.0  # the paper's start: the chain draws z0 itself, as before
    qtbot.waitUntil(lambda: cv.start is None and len(cv.history) == 1, timeout=60_000)
    wait_idle(qtbot, window)
    assert cv.start_label == "prior" and cv.state()["sampler"] == "prior"


def test_a_slow_sampler_fit_is_cancelled_by_esc_and_starts_nothing(qtbot, window,
                                                                   monkeypatch):
    wait_idle(qtbot, window)
    cv = window.chain_view
    release, started = threading.Event(), threading.Event()
    original = eval_samplers.build_sampler

    def slow(choice, context):
        started.set()
        release.wait(30)
        return original(choice, context)

    monkeypatch.setattr(eval_samplers, "build_sampler", slow)
    window.session.chain.sampler = "gmm"
    qtbot.waitUntil(started.is_set, timeout=30_000)
    assert cv.running and not cv.step_button.isEnabled() and len(cv.history) == 0
    qtbot.waitUntil(lambda: "sampler gmm" in window.job_status.label.text(), timeout=10_000)
    window.activateWindow()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Escape)
    assert not cv.running and cv.reset_button.isEnabled()
    release.set()
    wait_idle(qtbot, window)
    assert len(cv.history) == 0 and cv.start is None  # its late codes started no chain
    assert not window.banner.isVisible()  # a cancel is no error


def test_a_sampler_that_fails_is_shown_and_the_view_stays_usable(qtbot, window, monkeypatch):
    wait_idle(qtbot, window)
    cv = window.chain_view

    def broken(choice, context):
        from genae_studio.errors import UsageError

        raise UsageError("gmm: the run does not name its training data")

    monkeypatch.setattr(eval_samplers, "build_sampler", broken)
    window.session.chain.sampler = "gmm"
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30_000)
    wait_idle(qtbot, window)
    assert "Sampler failed" in window.banner.label.text() and not cv.running
    assert cv.reset_button.isEnabled()


def test_the_metrics_dock_overlays_samplers_with_a_legend_and_hover_values(qtbot, window):
    panel, cv, chain = window.metrics_panel, window.chain_view, window.session.chain
    panel.n_spin.setValue(60)
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == [0, 1, 2] and not panel.busy,
                    timeout=180_000)
    assert panel.legend_names() == ["vae · prior (solid)"]  # what the curves are
    prior_fd = dict(zip(*[a.tolist() for a in panel.curve("fd")], strict=True))
    panel.keep()
    assert panel.clear_kept_button.isEnabled()
    chain.sampler = "gmm"
    qtbot.waitUntil(lambda: cv.start is not None and len(cv.history) == 1, timeout=120_000)
    wait_idle(qtbot, window)
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == [0, 1, 2] and not panel.busy
                    and panel.chains_key[-1] == "gmm", timeout=180_000)
    # The panel's own chains start from the GMM too: its t = 0 is the sampler's codes.
    from genae_studio.metrics import mmd2_unbiased

    z0 = draw(cv.start.sampler, 60, seed=cv.chain_seed, latent_dim=cv.history.z[0].shape[1])
    ref = panel.reference
    expected = mmd2_unbiased(z0.astype(np.float32), ref.codes, ref.kernel)
    assert panel.values[0]["mmd_data"] == pytest.approx(float(expected), rel=1e-4, abs=1e-6)
    # Both series on the same axes: a legend names them, the kept curve is the prior's.
    assert panel.legend_names() == ["vae · gmm (solid)", "vae · prior"]
    window.metrics_dock.show()
    window.metrics_dock.raise_()
    qtbot.waitUntil(lambda: panel.legend.sceneBoundingRect().top() >= panel.fd_plot.getViewBox()
                    .sceneBoundingRect().bottom() > 0, timeout=10_000)  # below the data
    t, fd = panel.kept_curve("vae · prior", "fd")
    assert dict(zip(t.tolist(), fd.tolist(), strict=True)) == prior_fd
    rows = panel.table()  # the export holds both series
    assert [(r["series"], r["t"]) for r in rows] == [("vae · gmm", t) for t in (0, 1, 2)] + \
        [("vae · prior", t) for t in (0, 1, 2)]
    assert rows[4]["fd"] == prior_fd[1] and rows[4]["kept"] is True
    text = panel.readout_at(1.2)
    assert text.startswith("t = 1: MMD² to P^(Z)") and "(vae · gmm)" in text
    assert "vae · prior, t = 1: MMD² to P^(Z) " in text and f"FD {prior_fd[1]:.4g}" in text
    # Another run's curves are kept the same way: a run change leaves the kept curves.
    panel.invalidate("another run was opened")
    assert panel.values == {} and [k.name for k in panel.kept] == ["vae · prior"]
    assert panel.legend_names() == ["vae · prior"]
    (t, fd) = panel.kept_curve("vae · prior", "fd")
    assert len(t) == 3  # still drawn
    panel.clear_kept()
    assert panel.kept == [] and panel.legend_names() == []
    wait_idle(qtbot, window)


def test_the_trace_view_draws_chains_and_shows_their_diagnostics(qtbot, window):
    cv, panel = window.chain_view, window.metrics_panel
    panel.live_box.setChecked(False)  # the traces need no feature network
    window.metrics_dock.show()
    window.metrics_dock.raise_()
    panel.tabs.setCurrentWidget(panel.trace_view)
    view = panel.trace_view
    run_chain(qtbot, window, 5)
    qtbot.waitUntil(lambda: view.diagnostics is not None, timeout=60_000)
    view.redraw()
    trace = view.trace()
    assert trace.shape == (64, 6)
    np.testing.assert_allclose(trace[:, 3], np.linalg.norm(cv.history.z[3], axis=1), rtol=1e-6)
    drawn = [c for c in view.curves if c.getData()[0] is not None and len(c.getData()[0])]
    assert len(drawn) == view.shown_spin.value() == 8
    np.testing.assert_allclose(drawn[2].getData()[1], trace[2])
    np.testing.assert_allclose(view.mean_curve.getData()[1], trace.mean(axis=0))
    # The numbers are the evaluation's diagnostics of these traces
    from genae_studio.evaluation.diagnostics import batch_ids, chain_diagnostics

    expected = chain_diagnostics({"norm": trace}, batch_ids(64, None))["summaries"]["norm"]
    got = view.diagnostics["summaries"]["norm"]
    assert got["ess"] == expected["ess"] and got["rhat"] == expected["rhat"]
    text = view.diag_label.text()
    assert f"ESS {expected['ess']:.4g}" in text and f"R-hat {expected['rhat']:.4g}" in text
    assert "64 chains × 6 stored steps" in text
    assert "one batch-norm batch" in text  # why nested R-hat is none
    cv.select(5)  # the selected chain is drawn first, thick
    view.redraw()
    np.testing.assert_allclose(view.curves[0].getData()[1], trace[5])
    assert view.curves[0].opts["pen"].width() == 3
    view.statistic_combo.setCurrentIndex(view.statistic_combo.findData("axis1"))
    xy = cv.history.trajectories()
    np.testing.assert_allclose(view.trace(), xy[:, :, 0].T)
    assert "latent view, axis 1" in view.diag_label.text()
    wait_idle(qtbot, window)


def test_a_third_party_sampler_from_the_docs_appears_and_starts_the_chains(qtbot, bundled,
                                                                           settings):
    """docs/plugins.md's example sampler (kde), loaded with --plugin, is a choice of z0."""
    from pathlib import Path

    from genae_studio.plugins import load_plugins

    from .gui_helpers import open_window

    example = Path(__file__).resolve().parents[2] / "examples/kdesampler/genae_kdesampler.py"
    host = load_plugins([str(example)])
    window = open_window(qtbot, host, settings)
    try:
        cv = window.chain_view
        names = [cv.sampler_combo.itemText(i) for i in range(cv.sampler_combo.count())]
        assert names == ["prior", "gmm", "reweighted", "kde"]
        cv.sampler_combo.setCurrentText("kde")
        qtbot.waitUntil(lambda: cv.start is not None and len(cv.history) == 1,
                        timeout=120_000)
        assert cv.start.label == "kde" and np.isfinite(cv.history.z[0]).all()
        z0 = draw(cv.start.sampler, cv.history.n, seed=cv.chain_seed,
                  latent_dim=cv.history.z[0].shape[1])
        np.testing.assert_allclose(cv.history.z[0], z0.astype(np.float32), rtol=1e-5,
                                   atol=1e-6)
        wait_idle(qtbot, window)
    finally:
        window.close()
