"""Jobs follow the state they were started for (issue 21, "What to build" 3): a new run or a
Reset cancels the old state's jobs and says so; nothing of the old run stays on screen."""
import shutil
import threading

from genae_studio.gui import metrics_panel
from genae_studio.tasks import chain_metrics

from .gui_helpers import wait_idle
from .test_studio import drop, run_chain


def _open_copy(qtbot, window, bundled, tmp_path):
    copy = tmp_path / "another-run"
    shutil.copytree(bundled, copy)
    window.session.open_run(copy)
    qtbot.waitUntil(lambda: window.session.run.path == copy
                    and window.latent_view.cloud is not None, timeout=60_000)
    wait_idle(qtbot, window)


def test_another_run_clears_the_old_runs_interpolation_strip_and_selection(
        qtbot, window, bundled, tmp_path):
    panel, cv = window.interp_panel, window.chain_view
    gallery = panel.gallery
    target = gallery.visualItemRect(gallery.item(3)).center()
    assert drop(gallery.viewport(), target, gallery.mimeData([gallery.item(0)]))
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30_000)
    assert panel.result.run_name == "vae"  # labelled with its run
    run_chain(qtbot, window, 2)
    cv.select(3)
    cv.redraw()
    assert cv.strip.isVisible() and "chain 3 selected" in cv.info.text()
    _open_copy(qtbot, window, bundled, tmp_path)
    cv.redraw()
    assert panel.result is None and panel.view.mosaic is None
    assert "cleared" in panel.view.placeholder.toPlainText()
    assert not panel.enlarge_button.isEnabled()
    assert cv.selected is None and not cv.strip.isVisible()
    assert "selected" not in cv.info.text() and window.latent_view.path_count() == 0


def test_reset_cancels_a_measurement_of_the_old_chains_and_says_so(qtbot, window, monkeypatch):
    """Issue 21: a measurement of discarded chains was finished and thrown away silently."""
    panel, cv = window.metrics_panel, window.chain_view
    panel.live_box.setChecked(False)
    run_chain(qtbot, window, 3)
    panel.measure()
    qtbot.waitUntil(lambda: panel.reference is not None, timeout=120_000)
    started = threading.Event()

    def slow_measure(**kwargs):  # a measurement that runs until it is cancelled
        started.set()
        while True:
            yield chain_metrics.Progress(0, 1, "metrics: slow")

    monkeypatch.setattr(metrics_panel, "measure_task", slow_measure)
    panel.clear()
    panel.measure()
    qtbot.waitUntil(lambda: window.jobs.running("metrics"), timeout=10_000)
    assert started.wait(10)
    logged = []
    window.session.log.connect(logged.append)
    cv.reset(cv.seed_spin.value() + 1)
    assert "cancelled" in panel.info.text() and "reset" in panel.info.text()
    assert any("cancelled" in line and "reset" in line for line in logged)
    qtbot.waitUntil(lambda: not window.jobs.running("metrics"), timeout=30_000)
    assert "(Esc cancels)" not in panel.info.text()  # no text of the cancelled job stays
    wait_idle(qtbot, window)


def test_the_metrics_text_goes_with_its_job(qtbot, window, monkeypatch):
    """A progress text in the dock belongs to a running job: Esc leaves no stale one, and the
    dock says that the reference was cancelled (no "see the log" without a log entry)."""
    from .test_metrics_panel import _start_slow_feature_training

    panel = _start_slow_feature_training(qtbot, window, monkeypatch)
    qtbot.waitUntil(lambda: "(Esc cancels)" in panel.info.text(), timeout=60_000)
    window._stop()
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    wait_idle(qtbot, window)
    assert "(Esc cancels)" not in panel.info.text() and "log" not in panel.info.text()
    assert "cancelled" in panel.info.text()
