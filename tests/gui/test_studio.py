"""The studio's main window: opening runs, chains, the latent view, interpolation, errors."""
import os
import sys

import numpy as np
import torch
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PyQt6.QtWidgets import QApplication

from genae_studio.env import SETTINGS_ENV
from genae_studio.gui import chain_view as chain_module
from genae_studio.gui.gallery import mime_for

from .gui_helpers import open_window, wait_idle


def drop(widget, pos, mime):
    """What a user's drag does: enter, move, then drop on ``widget`` at ``pos``."""
    pos = QPointF(pos)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos.toPoint(), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    QApplication.sendEvent(widget, QDragMoveEvent(pos.toPoint(), *args))
    event = QDropEvent(pos, *args)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def run_chain(qtbot, window, steps):
    cv = window.chain_view
    before = len(cv.history)
    cv.run_steps(steps)
    qtbot.waitUntil(lambda: len(cv.history) >= min(before + steps, cv.history.limit),
                    timeout=60_000)
    wait_idle(qtbot, window)


def test_window_opens_on_the_bundled_run(window, bundled, shots):
    s = window.session
    assert s.run is not None and s.run.path == bundled and s.run.name == "vae"
    assert s.data is not None and s.data.name == "digits"  # the run's own data
    status = window.status_label.text()
    assert window.device_status.text() == "Device: cpu"  # its own label, never covered
    for part in ("Model: vae", str(bundled), "Data: digits"):
        assert part in status
    assert window.chain_view.stack.currentIndex() == 1  # the chain view, not the placeholder
    assert window.chain_view.history.n == 64  # N = 64 chains by default
    assert window.pickers.model_combo.currentText() == "vae"
    assert not window.banner.isVisible()
    shots(window, "window-opened")


def test_chain_steps_and_slider_change_the_grid(qtbot, window, shots):
    cv = window.chain_view
    first = cv.grid.mosaic.copy()
    run_chain(qtbot, window, 5)
    assert cv.history.t == [0, 1, 2, 3, 4, 5]
    assert cv.t == 5  # the slider follows the running chain
    last = cv.grid.mosaic.copy()
    assert not np.array_equal(first, last)
    cv.set_t_index(0)
    cv.redraw()
    assert cv.t == 0 and np.array_equal(cv.grid.mosaic, first)
    # The arrow keys move t.
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    cv.redraw()
    assert cv.t == 1
    assert not np.array_equal(cv.grid.mosaic, first)
    qtbot.keyClick(window, Qt.Key.Key_End)
    cv.redraw()
    assert cv.t == 5 and np.array_equal(cv.grid.mosaic, last)
    # Step adds one step; the chain continues from z_T (it feeds back).
    qtbot.mouseClick(cv.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cv.history.last_t == 6, timeout=30_000)
    wait_idle(qtbot, window)
    # Compare mode shows t = 0 beside t = T.
    width = cv.grid.mosaic.shape[1]
    cv.compare_box.setChecked(True)
    cv.redraw()
    assert cv.grid.mosaic.shape[1] > 2 * width - 10
    assert np.array_equal(cv.grid.mosaic[:, :first.shape[1]], first)
    # Clicking a sample selects its chain and shows its strip.
    pos = cv.grid.mapFromScene(cv.grid.cell_center(1, 9))
    qtbot.mouseClick(cv.grid.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    cv.redraw()
    assert cv.selected == 9 and cv.strip.isVisible()
    shots(window, "chain-compare-selected")
    # Reset draws a new z0 and clears the stored chain.
    reset(qtbot, window, cv.seed_spin.value() + 1)
    assert cv.history.t == [0] and not np.array_equal(cv.history.x[0][0], first[2:34, 2:34, 0])


def reset(qtbot, window, seed):
    window.chain_view.reset(seed)
    qtbot.waitUntil(lambda: len(window.chain_view.history) == 1, timeout=30_000)
    wait_idle(qtbot, window)


def test_seed_makes_chains_reproducible(qtbot, window):
    cv = window.chain_view
    reset(qtbot, window, 7)
    run_chain(qtbot, window, 2)
    z_a = cv.history.z[-1].copy()
    reset(qtbot, window, 7)
    run_chain(qtbot, window, 1)
    run_chain(qtbot, window, 1)  # two runs of one step == one run of two steps
    np.testing.assert_allclose(cv.history.z[-1], z_a, rtol=1e-5, atol=1e-5)


def test_latent_view_holds_every_trajectory(qtbot, window, shots):
    cv, lv = window.chain_view, window.latent_view
    run_chain(qtbot, window, 4)
    cloud = lv.cloud
    n, steps = cv.history.n, len(cv.history)
    assert len(lv.data.data) == len(window.session.data.images)
    assert len(lv.prior.data) == len(window.session.data.images)  # as many prior draws
    x, _ = lv.lines.getData()
    assert len(x) == n * (steps + 1)  # one polyline per chain, NaN-separated
    assert np.isnan(x).sum() == n
    assert len(lv.points.data) == n
    # Points are projected with the fitted PCA, not refitted.
    pts = np.column_stack([lv.points.data["x"], lv.points.data["y"]])
    np.testing.assert_allclose(pts, cloud.project(cv.history.z[-1]), rtol=1e-5, atol=1e-5)
    assert "PC1" in lv.plot.getAxis("bottom").labelText
    assert "%" in lv.plot.getAxis("bottom").labelText  # the short title where the long
    assert "% of encoded-data variance" in lv.plot.getAxis("bottom").toolTip()  # won't fit
    # Moving the slider moves the marked points and shortens the drawn trajectories.
    cv.set_t_index(1)
    cv.redraw()
    pts = np.column_stack([lv.points.data["x"], lv.points.data["y"]])
    np.testing.assert_allclose(pts, cloud.project(cv.history.z[1]), rtol=1e-5, atol=1e-5)
    assert len(lv.lines.getData()[0]) == n * 3
    # Selecting a chain highlights its whole trajectory.
    cv.select(3)
    cv.redraw()
    sx, _ = lv.selected_line.getData()
    assert len(sx) == steps
    assert lv.cloud is cloud  # the PCA was fitted once
    # Data are coloured by label (digits have labels).
    assert lv.colour_combo.currentText() == "label"
    shots(lv, "latent-view")


def test_drag_and_drop_interpolates(qtbot, window, shots):
    panel = window.interp_panel
    gallery = panel.gallery
    assert gallery.count() > 4
    target = gallery.visualItemRect(gallery.item(3)).center()
    assert drop(gallery.viewport(), target, gallery.mimeData([gallery.item(0)]))
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30_000)
    res = panel.result
    points = panel.points_spin.value()
    assert res.picks == [0, 3] and not res.four
    assert res.before.shape[:2] == (1, points) and res.after.shape == res.before.shape
    assert panel.view.mosaic is not None  # two rows: before and after k steps
    assert window.latent_view.path_count() == 1
    window.interp_dock.raise_()
    shots(panel, "interpolation-pair")
    # Four images on the 2x2 target make the four-corner grid.
    for slot, index in zip(panel.four.slots, (1, 2, 5, 6), strict=True):
        assert drop(slot, QPointF(10, 10), mime_for(index))
    qtbot.waitUntil(lambda: panel.result is not res, timeout=30_000)
    res = panel.result
    assert res.four and res.picks == [1, 2, 5, 6]
    assert res.before.shape[:2] == (points, points)
    assert window.latent_view.path_count() == 1 + points
    shots(panel, "interpolation-four")
    wait_idle(qtbot, window)


def test_plugin_model_appears_in_the_pickers(qtbot, bundled, settings, tmp_path):
    from genae_studio.plugins import load_plugins

    plugin = tmp_path / "tiny_plugin.py"
    plugin.write_text(
        "from genae_studio import ModelSpec, hookimpl\n\n"
        "def make(**hp):\n"
        "    from genae_builtins.vae_model import VAE\n"
        "    return VAE(**hp)\n\n"
        "@hookimpl\n"
        "def register_models(register):\n"
        "    register(ModelSpec('tinyvae', 'A plugin VAE', make,\n"
        "                       defaults=dict(latent_dim=16, width=8, noise_std=0.5)))\n")
    host = load_plugins([str(plugin)], autoload=False)
    window = open_window(qtbot, host, settings)
    combo = window.pickers.model_combo
    models = [combo.itemText(i) for i in range(combo.count())]
    assert {"vae", "dvae", "aae", "daae", "tinyvae"} <= set(models)
    trainable = [window.train_panel.model_combo.itemText(i)
                 for i in range(window.train_panel.model_combo.count())]
    assert "tinyvae" in trainable
    # No bundled run for it: the window says so and offers training.
    window.pickers.model_picked("tinyvae")
    assert window.banner.isVisible() and "no bundled run" in window.banner.label.text()
    assert window.train_panel.model_combo.currentText() == "tinyvae"
    assert window.session.run.name == "vae"  # the open run stays
    window.close()


def test_cli_opens_the_studio_with_a_plugin(qtbot, bundled, monkeypatch, tmp_path):
    """``genae-studio --plugin PATH --checkpoint DIR --data digits --device cpu``."""
    from genae_studio import cli
    from genae_studio.gui.main_window import MainWindow

    plugin = tmp_path / "other_plugin.py"
    plugin.write_text(
        "from genae_studio import ModelSpec, hookimpl\n"
        "from genae_builtins.vae import make_vae\n\n"
        "@hookimpl\n"
        "def register_models(register):\n"
        "    register(ModelSpec('othervae', 'Another plugin VAE', make_vae))\n")
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "settings.ini"))
    seen = {}

    def fake_exec(app):
        window = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, MainWindow) and w.isVisible())
        qtbot.waitUntil(lambda: window.latent_view.cloud is not None, timeout=60_000)
        seen["models"] = [window.pickers.model_combo.itemText(i)
                          for i in range(window.pickers.model_combo.count())]
        seen["run"], seen["data"] = window.session.run.path, window.session.data.name
        window.close()
        window.deleteLater()
        return 0

    monkeypatch.setattr(type(QApplication.instance()), "exec", fake_exec)
    from genae_studio.gui import workers

    monkeypatch.setattr(workers, "WORKER_NICENESS", workers.WORKER_NICENESS)  # restored after
    threads, switch = torch.get_num_threads(), sys.getswitchinterval()
    try:
        code = cli.main(["--plugin", str(plugin), "--checkpoint", str(bundled), "--data",
                         "digits", "--device", "cpu"])
        seen["threads"] = torch.get_num_threads()
        seen["niceness"] = workers.WORKER_NICENESS
    finally:
        torch.set_num_threads(threads)  # the studio leaves a core to the GUI thread
        sys.setswitchinterval(switch)
    assert seen["niceness"] == 10  # workers yield to the GUI thread
    assert code == 0
    if threads >= (os.cpu_count() or 1) > 1:
        assert seen["threads"] == os.cpu_count() - 1
    assert "othervae" in seen["models"] and seen["run"] == bundled and seen["data"] == "digits"


def test_worker_errors_are_shown_not_raised(qtbot, window, monkeypatch, tmp_path, shots):
    cv = window.chain_view

    def broken_chain(*args, **kwargs):
        yield from ()
        raise RuntimeError("simulated failure inside a chain step")

    monkeypatch.setattr(chain_module, "chain_task", broken_chain)
    qtbot.mouseClick(cv.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "simulated failure" in window.banner.label.text()
    assert "RuntimeError" in window.log_view.toPlainText()
    assert "Traceback" in window.log_view.toPlainText()
    qtbot.waitUntil(lambda: cv.step_button.isEnabled(), timeout=10_000)  # usable again
    shots(window, "error-banner")
    monkeypatch.undo()
    # A broken run folder is a one-line error too; the open run stays.
    bad = tmp_path / "broken-run"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    window.banner.hide()
    window.pickers.open_path(bad)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "corrupt config" in window.banner.label.text()
    assert window.session.run is not None and window.session.run.path != bad
    # A dataset that does not fit the model: a clear message.
    window.banner.hide()
    window.session.load_data("toyfaces", explicit=True)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    assert "3-channel images, but the model expects 1" in window.banner.label.text()
    wait_idle(qtbot, window)


def test_the_window_handles_input_while_a_chain_runs(qtbot, window):
    """Behaviour, not speed (event-loop latency is measured in benchmarks/studio.py): while 64
    chains step in a worker, the user browses t, selects a chain and stops the run."""
    cv = window.chain_view
    cv.select(0)  # the strip and the highlighted trajectory are redrawn too
    cv.run_steps(100_000)
    qtbot.waitUntil(lambda: cv.history.last_t >= 3, timeout=60_000)
    cv.set_t_index(1)  # the user looks back: the slider stops following the chain
    seen = cv.history.last_t
    qtbot.waitUntil(lambda: cv.history.last_t >= seen + 2, timeout=60_000)
    cv.redraw()
    assert cv.t == 1 and window.latent_view.points.data is not None
    cv.select(5)
    cv.redraw()
    assert cv.strip.isVisible() and cv.running
    qtbot.mouseClick(cv.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.running("chain"), timeout=30_000)
    stopped_at = cv.history.last_t
    wait_idle(qtbot, window)
    assert cv.history.last_t == stopped_at  # nothing arrives after Stop
    assert not cv.stop_button.isEnabled() and cv.step_button.isEnabled()
    assert len(cv.history) <= cv.history.limit and cv.history.t[0] == 0  # bounded history


def test_no_bundled_run_is_explained(qtbot, host, settings, monkeypatch, tmp_path, shots):
    from genae_studio.gui.app import create_window

    monkeypatch.setenv("GENAE_STUDIO_RESOURCES", str(tmp_path / "empty"))
    window = create_window(host, settings=settings, device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.chain_view.placeholder.text().startswith("<b>No run"),
                    timeout=10_000)
    assert "no bundled run" in window.chain_view.placeholder.text()
    assert not window.chain_view.step_button.isEnabled()
    # The data still load, so the gallery is not empty.
    qtbot.waitUntil(lambda: window.interp_panel.gallery.count() > 0, timeout=60_000)
    assert "Data: toyfaces" in window.status_label.text()
    shots(window, "no-bundled-run")
    window.close()


def test_dropping_a_run_folder_opens_it(qtbot, window, bundled, tmp_path):
    import shutil

    from PyQt6.QtCore import QMimeData, QUrl

    copy = tmp_path / "copied-run"
    shutil.copytree(bundled, copy)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(copy))])
    assert drop(window, QPointF(50, 50), mime)
    qtbot.waitUntil(lambda: window.session.run.path == copy, timeout=30_000)
    assert str(copy) in window.status_label.text()
    qtbot.waitUntil(lambda: window.latent_view.cloud is not None, timeout=60_000)
    wait_idle(qtbot, window)


def test_exports(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image

    run_chain(qtbot, window, 3)
    cv = window.chain_view
    paths = {}

    def ask(title, name, filt):
        paths[name] = tmp_path / name
        return paths[name]

    monkeypatch.setattr(window.exports, "ask", ask)
    window.exports.grid()
    window.exports.plot("latent")
    window.exports.gif()
    window.exports.npz()
    cv.select(2)
    cv.redraw()
    window.exports.strip()
    wait_idle(qtbot, window)
    assert not window.banner.isVisible(), window.banner.label.text()
    grid = np.asarray(Image.open(paths["chain-t3.png"]))
    assert grid.shape[:2] == cv.grid.mosaic.shape[:2]
    with Image.open(paths["chains.gif"]) as gif:
        assert gif.n_frames == len(cv.history) == 4
    data = np.load(paths["chain.npz"])
    assert data["x"].dtype == np.float32 and data["x"].shape[:2] == (4, 64)
    assert data["z"].shape == (4, 64, 16) and list(data["steps"]) == [0, 1, 2, 3]
    assert "<svg" in paths["latent.svg"].read_text()
    assert paths["chain-2.png"].is_file()


def test_settings_are_remembered(qtbot, host, bundled, settings):
    window = open_window(qtbot, host, settings)
    window.chain_view.n_spin.setValue(16)
    window.chain_view.bn_combo.setCurrentText("eval")
    window.train_panel.epochs.setValue(3)
    window.close()
    again = open_window(qtbot, host, settings)
    assert again.chain_view.n_spin.value() == 16
    assert again.chain_view.bn_combo.currentText() == "eval"
    assert again.train_panel.epochs.value() == 3
    assert again.chain_view.history.n == 16
    assert str(bundled) in again.pickers.recent()
    again.close()


def test_about_box_lists_versions(window):
    box = window.menus.about()
    text = box.text()
    for name in ("genae-studio", "PyTorch", "PyQt6", "pyqtgraph", "scikit-learn"):
        assert name in text
    box.close()


def test_metrics_panel_plots_mmd_and_fd_against_t(qtbot, window):
    from genae_studio.tasks import chain_metrics

    panel, cv = window.metrics_panel, window.chain_view
    assert window.metrics_dock.isVisible()
    panel.n_spin.setValue(64)
    run_chain(qtbot, window, 4)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t, timeout=120_000)
    wait_idle(qtbot, window)
    for key in ("mmd_data", "mmd_prior", "fd"):
        t, y = panel.curve(key)
        assert list(t) == [0, 1, 2, 3, 4] and np.isfinite(y).all()
    # at most half the held-out set: the other half gives eval's floors at the same n
    assert len(panel.reference.codes) == min(chain_metrics.REFERENCE_N,
                                             len(window.session.data.dataset) // 2)
    cv.set_t_index(1)
    cv.redraw()
    assert panel.cursors[0].value() == 1
    # More steps measure only the new ones; a reset starts new curves.
    run_chain(qtbot, window, 2)
    qtbot.waitUntil(lambda: sorted(panel.values) == cv.history.t, timeout=60_000)
    cv.reset(3)  # a new chain: empty curves, and step 0 alone is not measured
    wait_idle(qtbot, window)
    assert panel.values == {} and len(panel.curve("fd")[0]) == 0
    run_chain(qtbot, window, 1)
    qtbot.waitUntil(lambda: sorted(panel.values) == [0, 1], timeout=60_000)


def test_opening_a_run_trains_no_feature_network(qtbot, window):
    wait_idle(qtbot, window)
    assert len(window.chain_view.history) == 1
    assert window.metrics_panel.reference is None and window.metrics_panel.building is None


def test_metrics_panel_picks_at_most_max_points():
    from genae_studio.tasks.chain_metrics import pick_steps

    assert list(pick_steps(5, 40)) == [0, 1, 2, 3, 4]
    picks = pick_steps(200, 40)
    assert len(picks) <= 40 and picks[0] == 0 and picks[-1] == 199


def test_the_first_decode_of_a_dataset_shows_its_progress_in_the_status_bar(
        qtbot, window, monkeypatch):
    """Loading data passes the decoded-image cache's progress callback (issue 21/24)."""
    import threading

    from genae_studio import data as data_module
    from genae_studio.data.cache import CacheProgress

    real = data_module.resolve_dataset
    shown = threading.Event()

    def first_decode(*args, progress=None, cancel=None, **kwargs):
        progress(CacheProgress(120, 360, 1.5, 3.0))  # as the cache's first pass reports
        shown.wait(30)
        return real(*args, **kwargs)

    wait_idle(qtbot, window)
    monkeypatch.setattr(data_module, "resolve_dataset", first_decode)
    window.session.load_data(None)
    label = window.job_status.label
    qtbot.waitUntil(lambda: "decoding" in label.text(), timeout=30_000)
    assert "120/360 images" in label.text() and "about 3 s left" in label.text()
    assert window.job_status.bar.value() == window.job_status.bar.maximum() // 3
    shown.set()
    qtbot.waitUntil(lambda: not window.jobs.running("data"), timeout=30_000)
