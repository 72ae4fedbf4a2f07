"""The chain-metrics dock: its own batch of chains, bootstrap bands, a cancellable first use."""
import json
import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from genae_studio.gui import metrics_panel
from genae_studio.tasks import chain_metrics

from .gui_helpers import wait_idle
from .test_studio import run_chain


def test_the_panel_measures_its_own_chains_with_bands(qtbot, window):
    panel, cv = window.metrics_panel, window.chain_view
    assert panel.n_spin.value() == metrics_panel.CHAINS_N  # 500 outside the tests
    panel.n_spin.setValue(120)  # not the grid's 64 (and quicker in tests)
    run_chain(qtbot, window, 3)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t and not panel.busy,
                    timeout=120_000)
    assert cv.history.n == 64 and panel.measured_n == 120
    for key in ("mmd_data", "mmd_prior", "fd"):
        t, y = panel.curve(key)
        bt, lo, hi = panel.band(key)
        assert list(t) == list(bt) == [0, 1, 2, 3] and np.isfinite(y).all()
        assert (lo <= hi).all() and (lo < hi).any()
    t, fd = panel.curve("fd")
    _, lo, hi = panel.band("fd")
    assert ((lo <= fd) & (fd <= hi)).all()  # the value lies in its band
    # The values are evaluate's numbers for the panel's own chains (seeded like the grid's).
    import torch

    from genae_studio.evaluation import step_metrics
    from genae_studio.sampling import markov_chain

    run = window.session.run
    gen = torch.Generator(run.device).manual_seed(cv.chain_seed)
    steps = list(markov_chain(run.model, None, n=120, steps=3, bn_mode="batch", generator=gen))
    direct = step_metrics(panel.reference, steps[3].z.numpy(), steps[3].x.numpy())
    assert panel.values[3]["mmd_data"] == pytest.approx(direct["mmd_data"], rel=1e-4, abs=1e-6)
    # More grid steps: the panel's chains continue and only the new steps are measured.
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t and not panel.busy,
                    timeout=120_000)
    assert panel.chains.t == 5
    # More chains: narrower bands on average.
    widths = {}
    widths[120] = np.mean(np.subtract(*panel.band("mmd_data")[:0:-1]))
    panel.n_spin.setValue(360)
    panel.measure()
    qtbot.waitUntil(lambda: panel.measured_n == 360 and not panel.busy
                    and sorted(panel.values) == cv.history.t, timeout=180_000)
    widths[360] = np.mean(np.subtract(*panel.band("mmd_data")[:0:-1]))
    assert widths[360] < widths[120]
    wait_idle(qtbot, window)


def _start_slow_feature_training(qtbot, window, monkeypatch):
    monkeypatch.setattr(chain_metrics, "FEATURE_STEPS", 100_000)
    panel = window.metrics_panel
    panel.n_spin.setValue(50)
    seen = []
    window.jobs.changed.connect(lambda: seen.append(window.job_status.label.text()))
    run_chain_started = window.chain_view
    run_chain_started.run_steps(1)
    qtbot.waitUntil(lambda: any("training the feature network" in s and "step" in s
                                for s in seen), timeout=60_000)
    assert panel.busy and "feature network" in panel.info.text()
    return panel


def _no_long_feature_net_cached(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "cache" / "features"
    metas = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.exists() else []
    return all(m["settings"]["steps"] != 100_000 for m in metas)


def test_esc_cancels_the_feature_network_training(qtbot, window, monkeypatch,
                                                  tmp_path_factory):
    panel = _start_slow_feature_training(qtbot, window, monkeypatch)
    window.activateWindow()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    assert panel.reference is None and "cancelled" in panel.info.text()
    assert _no_long_feature_net_cached(tmp_path_factory)
    assert not window.banner.isVisible()  # a cancel is no error


def test_the_status_bar_button_cancels_the_feature_network_training(qtbot, window, monkeypatch,
                                                                    tmp_path_factory):
    panel = _start_slow_feature_training(qtbot, window, monkeypatch)
    assert window.job_status.isVisible()
    qtbot.mouseClick(window.job_status.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.active(), timeout=30_000)
    assert panel.reference is None
    assert _no_long_feature_net_cached(tmp_path_factory)


def test_closing_the_window_does_not_wait_for_running_jobs(qtbot, host, bundled, settings):
    """Closing cancels every job and returns at once, even while one has not stopped yet."""
    from .gui_helpers import open_window

    window = open_window(qtbot, host, settings)
    release = threading.Event()
    stopped = threading.Event()

    def stubborn():
        release.wait(30)  # a batch that takes long: the job sees the cancel only afterwards
        stopped.set()
        yield "after the batch"

    window.jobs.start("Stubborn", stubborn)
    window.close()
    assert not window.isVisible() and window.jobs.closed
    assert not stopped.is_set()  # close() did not wait for it
    release.set()
    assert window.jobs.wait(30_000)


def test_the_feature_training_loop_stops_between_batches():
    from genae_studio.data.base import ArrayDataset
    from genae_studio.errors import Cancelled
    from genae_studio.features import FeatureSettings, train_feature_net

    images = np.random.default_rng(0).integers(0, 256, (64, 1, 16, 16), np.uint8)
    data = ArrayDataset(images, name="noise")
    calls = []
    with pytest.raises(Cancelled):
        train_feature_net(data, FeatureSettings(steps=1000, batch_size=8),
                          on_progress=lambda step, total: calls.append(step),
                          should_stop=lambda: len(calls) >= 3)
    assert calls == [1, 2, 3]


def test_the_measured_numbers_export_as_csv_and_json(qtbot, window, tmp_path, monkeypatch):
    """Issue 21 §7: the metric numbers, not only their plot, for a notebook or a table."""
    import csv

    panel, cv = window.metrics_panel, window.chain_view
    panel.n_spin.setValue(40)
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t and not panel.busy,
                    timeout=120_000)
    for suffix in (".csv", ".json"):
        path = tmp_path / f"metrics{suffix}"
        monkeypatch.setattr(window.exports, "ask", lambda title, name, filt, p=path: p)
        window.exports.metrics_table(panel.table())
        wait_idle(qtbot, window)
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["t"]) for r in rows] == cv.history.t
    assert float(rows[-1]["mmd_data"]) == pytest.approx(panel.values[2]["mmd_data"])
    assert float(rows[-1]["mmd_data_low"]) <= float(rows[-1]["mmd_data_high"])
    assert json.loads((tmp_path / "metrics.json").read_text())[0]["chains"] == 40


def test_hovering_a_metrics_plot_reads_its_values(qtbot, window):
    from PyQt6.QtCore import QPointF

    panel, cv = window.metrics_panel, window.chain_view
    panel.n_spin.setValue(40)
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t and not panel.busy,
                    timeout=120_000)
    window.metrics_dock.show()
    window.metrics_dock.raise_()
    qtbot.wait(50)
    box = panel.fd_plot.getViewBox()
    panel.hover(box.mapViewToScene(QPointF(1.2, panel.values[1]["fd"])))
    text = panel.readout.text()
    assert text.startswith("t = 1:") and "FD" in text and "MMD²" in text and "[" in text
    wait_idle(qtbot, window)


def test_the_plots_follow_their_values(qtbot, window):
    """Empty plots start at t = 0..10; measured values are in view, however large."""
    panel = window.metrics_panel
    panel.values = {0: {"fd": 40.0, "mmd_data": 2.0, "mmd_prior": 0.5},
                    30: {"fd": 35.0, "mmd_data": 1.5, "mmd_prior": 0.7}}
    window.metrics_dock.show()
    window.metrics_dock.raise_()
    panel._redraw()
    box = panel.fd_plot.getViewBox()

    def in_view() -> bool:
        (x0, x1), (y0, y1) = box.viewRange()
        return x0 <= 0 and x1 >= 30 and y0 <= 35 and y1 >= 40

    qtbot.waitUntil(in_view, timeout=5_000)
    t = window.latent_view.score_plot.getViewBox()
    assert t.autoRangeEnabled()[0]  # the data score's t axis follows the chain too
