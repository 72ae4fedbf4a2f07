"""Batch norm 'precise' in the studio: the menu offers it, the statistics are estimated once
per model in a job (progress, cancel, errors), and a chain then does not depend on its batch."""
import functools

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from genae_studio.errors import DataError
from genae_studio.sampling import _precise_bn as precise_bn

from .gui_helpers import wait_idle


def _precise_progress(window) -> str:
    """The text of the precise estimate's latest progress report ("" while none)."""
    job = window.jobs.job("precise-bn")
    progress = window.jobs.last_progress.get(job) if job is not None else None
    return progress.text if progress is not None else ""


def _first_step(qtbot, window, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    cv = window.chain_view
    cv.n_spin.setValue(n)
    cv.reset(seed)
    qtbot.waitUntil(lambda: len(cv.history) == 1 and cv.history.n == n and not cv.running,
                    timeout=120_000)
    return cv.history.z[0], cv.history.x[0].astype(int)


def test_precise_chains_do_not_depend_on_their_batch_mates(qtbot, window):
    cv, run = window.chain_view, window.session.run
    assert [cv.bn_combo.itemText(i) for i in range(cv.bn_combo.count())] == \
        ["batch", "eval", "precise"]
    wait_idle(qtbot, window)
    z_big, x_big = _first_step(qtbot, window, 16)
    z_small, x_small = _first_step(qtbot, window, 4)
    np.testing.assert_array_equal(z_small, z_big[:4])  # the same z0 for the first 4 chains
    # batch mode: the batch mates matter, beyond the uint8 rounding that bounds precise mode
    assert np.abs(x_small - x_big[:4]).max() > 2

    assert not run.has_bn_stats("precise")
    cv.bn_combo.setCurrentText("precise")  # estimated at once, in a job
    qtbot.waitUntil(lambda: run.has_bn_stats("precise"), timeout=120_000)
    wait_idle(qtbot, window)
    assert cv.bn_combo.currentText() == "precise" and not window.banner.isVisible()
    z_big, x_big = _first_step(qtbot, window, 16)
    z_small, x_small = _first_step(qtbot, window, 4)
    np.testing.assert_array_equal(z_small, z_big[:4])
    assert np.abs(x_small - x_big[:4]).max() <= 1  # uint8 rounding at most
    # The statistics are estimated once per model: the next chains start at once.
    started = []
    window.jobs.changed.connect(lambda: started.extend(
        j.name for j in window.jobs.active() if j.name == "Precise batch norm"))
    _first_step(qtbot, window, 8)
    assert started == []


def test_precise_never_blocks_the_chain_and_esc_cancels_it(qtbot, window, monkeypatch):
    """Issue 21: while the precise statistics are estimated the chain runs with batch
    statistics and says so; Esc cancels the estimate."""
    monkeypatch.setattr(precise_bn, "PreciseSettings",
                        functools.partial(precise_bn.PreciseSettings, batches=1_000_000))
    wait_idle(qtbot, window)
    cv = window.chain_view
    cv.bn_combo.setCurrentText("precise")
    cv.run_steps(3)  # runs at once, in batch mode
    qtbot.waitUntil(lambda: "training batches" in _precise_progress(window), timeout=120_000)
    qtbot.waitUntil(lambda: cv.history.last_t == 3, timeout=60_000)
    cv.redraw()
    assert cv.step_mode == "batch" and "estimating" in cv.info.text()
    assert window.jobs.running("precise-bn")
    window.activateWindow()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.jobs.active(), timeout=30_000)
    assert cv.bn_combo.currentText() == "batch"  # back to the mode that works
    assert not window.session.run.has_bn_stats("precise")
    assert not window.banner.isVisible()  # a cancel is no error
    cv.redraw()
    assert "estimating" not in cv.info.text()


def test_choosing_another_mode_cancels_the_precise_estimate(qtbot, window, monkeypatch):
    monkeypatch.setattr(precise_bn, "PreciseSettings",
                        functools.partial(precise_bn.PreciseSettings, batches=1_000_000))
    wait_idle(qtbot, window)
    cv = window.chain_view
    cv.bn_combo.setCurrentText("precise")
    qtbot.waitUntil(lambda: "training batches" in _precise_progress(window), timeout=120_000)
    cv.bn_combo.setCurrentText("eval")
    qtbot.waitUntil(lambda: not window.jobs.running("precise-bn"), timeout=30_000)
    assert cv.bn_combo.currentText() == "eval" and not window.session.run.has_bn_stats("precise")
    cv.run_steps(1)
    qtbot.waitUntil(lambda: cv.history.last_t == 1, timeout=60_000)
    assert cv.step_mode == "eval"


def test_the_chain_restarts_with_the_precise_statistics_when_they_arrive(qtbot, window):
    """Issue 21: the chain ran with batch statistics while they were estimated; when they
    arrive, it starts over from the same z0 with them, and the window says so."""
    wait_idle(qtbot, window)
    cv = window.chain_view
    z0, seed = cv.history.z[0].copy(), cv.chain_seed
    messages = []
    window.session.message.connect(messages.append)
    cv.bn_combo.setCurrentText("precise")
    cv.run_steps(3)  # in batch mode: the estimate has only begun
    assert cv.step_mode == "batch"
    qtbot.waitUntil(lambda: any("ready" in m for m in messages), timeout=120_000)
    assert window.session.run.has_bn_stats("precise")
    assert any("started over" in m for m in messages)
    wait_idle(qtbot, window)
    assert cv.step_mode == "precise" and cv.history.t == [0] and cv.chain_seed == seed
    np.testing.assert_array_equal(cv.history.z[0], z0)  # the same z0, precise statistics
    cv.run_steps(2)
    qtbot.waitUntil(lambda: cv.history.last_t == 2, timeout=60_000)
    assert cv.step_mode == "precise"


def test_cached_precise_statistics_do_not_restart_the_chain(qtbot, window):
    wait_idle(qtbot, window)
    cv, run = window.chain_view, window.session.run
    cv.bn_combo.setCurrentText("precise")
    qtbot.waitUntil(lambda: run.has_bn_stats("precise"), timeout=120_000)
    wait_idle(qtbot, window)
    cv.bn_combo.setCurrentText("batch")
    cv.run_steps(2)
    qtbot.waitUntil(lambda: cv.history.last_t == 2, timeout=60_000)
    chain_id = cv.chain_id
    cv.bn_combo.setCurrentText("precise")  # ready at once: the next steps use them
    assert cv.chain_id == chain_id and cv.history.last_t == 2


def test_a_failing_precise_estimate_is_shown_and_the_mode_goes_back(qtbot, window, monkeypatch):
    wait_idle(qtbot, window)
    run = window.session.run

    def no_data(host=None, **other_copy_and_cache_callbacks):
        raise DataError("the run's training data is gone")

    monkeypatch.setattr(run, "training_data", no_data)
    window.chain_view.bn_combo.setCurrentText("precise")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30_000)
    assert "Precise batch norm failed" in window.banner.label.text()
    assert "training data is gone" in window.banner.label.text()
    wait_idle(qtbot, window)
    assert window.chain_view.bn_combo.currentText() == "batch"
    window.chain_view.run_steps(1)  # the studio goes on working
    qtbot.waitUntil(lambda: window.chain_view.history.last_t == 1, timeout=60_000)
