"""Defects found by driving the studio as a user would (issue 11, section 4)."""
import shutil

import numpy as np
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit

from .gui_helpers import wait_idle


def _loaded(window) -> bool:
    s = window.session
    return (s.data is not None and window.latent_view.cloud is not None
            and window.interp_panel.gallery.count() > 0 and not window.jobs.active())


def test_a_failed_data_choice_returns_to_the_working_state(qtbot, window, bundled, tmp_path):
    """Data → toyfaces on a 1-channel digits model fails; the box and later runs keep digits."""
    combo = window.pickers.data_combo
    wait_idle(qtbot, window)
    combo.setCurrentText("toyfaces")  # what the user's pick shows before it loads
    window.pickers.data_picked("toyfaces")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    wait_idle(qtbot, window)
    assert "expects 1" in window.banner.label.text()
    assert combo.currentText() == "digits"  # the picker shows what is loaded
    assert window.session.data.name == "digits"
    assert "Data: digits" in window.status_label.text()
    # A run opened afterwards loads its data, not the failed choice.
    copy = tmp_path / "copied-run"
    shutil.copytree(bundled, copy)
    window.pickers.open_path(copy)
    qtbot.waitUntil(lambda: window.session.run.path == copy and _loaded(window), timeout=60_000)
    assert window.session.data.name == "digits" and combo.currentText() == "digits"
    assert window.chain_view.history.n > 0
    assert not window.banner.isVisible()  # a run opened: the old error is settled


def test_dropping_a_folder_that_is_no_run_or_dataset_keeps_the_data(qtbot, window, tmp_path):
    wait_idle(qtbot, window)
    junk = tmp_path / "not-a-run"
    junk.mkdir()
    (junk / "notes.txt").write_text("nothing to see")
    window.pickers.open_path(junk)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=60_000)
    wait_idle(qtbot, window)
    assert window.pickers.data_combo.currentText() == "digits"
    assert window.session.data_name in (None, "digits")
    window.chain_view.reset(5)  # the studio goes on working
    qtbot.waitUntil(lambda: window.chain_view.seed_spin.value() == 5
                    and len(window.chain_view.history) == 1, timeout=30_000)


def test_a_nonexistent_data_option_falls_back_to_the_runs_data(qtbot, host, bundled, settings):
    """``genae-studio --data /nonexistent``: an error, then the run's own data."""
    from genae_studio.gui.app import create_window

    window = create_window(host, settings=settings, device="cpu", data="/nonexistent")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.session.run is not None and _loaded(window), timeout=60_000)
    assert window.session.data.name == "digits"
    assert window.pickers.data_combo.currentText() == "digits"
    assert window.banner.isVisible() and "nonexistent" in window.banner.label.text()
    window.close()


def _is_editor(widget) -> bool:
    return isinstance(widget, (QAbstractSpinBox, QLineEdit, QComboBox))


def test_shortcuts_work_after_clicking_the_chain_buttons(qtbot, window):
    cv = window.chain_view
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    assert not _is_editor(QApplication.focusWidget())  # nothing the user did not click
    cv.k_spin.setValue(3)
    qtbot.mouseClick(cv.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cv.history.last_t == 3 and not cv.running, timeout=60_000)
    wait_idle(qtbot, window)
    focus = QApplication.focusWidget() or window
    assert not _is_editor(focus), focus
    seed = cv.seed_spin.value()
    qtbot.keyClicks(focus, "7")
    assert cv.seed_spin.value() == seed  # typing does not change the seed
    qtbot.keyClick(focus, Qt.Key.Key_Left)
    cv.redraw()
    assert cv.t == 2
    qtbot.keyClick(focus, Qt.Key.Key_C)
    assert cv.compare_box.isChecked()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: cv.history.last_t == 4, timeout=30_000)
    wait_idle(qtbot, window)
    qtbot.mouseClick(cv.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cv.history.last_t == 5, timeout=30_000)
    wait_idle(qtbot, window)
    assert not _is_editor(QApplication.focusWidget())
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_R)  # runs k = 3 more
    qtbot.waitUntil(lambda: cv.history.last_t == 8, timeout=30_000)
    wait_idle(qtbot, window)
    # No button in the window takes the focus on a click (Start training disables itself too).
    from PyQt6.QtWidgets import QPushButton, QToolButton

    buttons = window.findChildren(QPushButton) + window.findChildren(QToolButton)
    clickable = [b.text() for b in buttons
                 if b.focusPolicy().value & Qt.FocusPolicy.ClickFocus.value]
    assert not clickable, clickable


def test_the_window_fits_small_screens(qtbot, window):
    """1280 x 800 and 1366 x 768, less a task bar and the title bar."""
    for width, height in ((1280, 800 - 60), (1366, 768 - 70)):
        window.resize(width, height)
        QApplication.processEvents()
        assert window.width() <= width and window.height() <= height, (window.size(), width)
    assert window.minimumSizeHint().height() <= 698
    # At 1280 x 740 the metrics plots stay readable (they were about 60 px tall).
    window.resize(1280, 740)
    QApplication.processEvents()
    panel = window.metrics_panel
    assert panel.isVisible()
    for plot in (panel.mmd_plot, panel.fd_plot):
        assert plot.geometry().height() >= 100, plot.geometry()


def test_the_model_picker_returns_to_the_bundled_run(qtbot, window, bundled, tmp_path):
    copy = tmp_path / "another-vae-run"
    shutil.copytree(bundled, copy)
    window.pickers.open_path(copy)
    qtbot.waitUntil(lambda: window.session.run.path == copy and _loaded(window), timeout=60_000)
    window.pickers.model_picked("vae")  # the same model name, but its bundled run
    qtbot.waitUntil(lambda: window.session.run.path == bundled and _loaded(window),
                    timeout=60_000)


def test_model_box_agrees_with_the_status_bar_without_a_run(qtbot, host, settings,
                                                            monkeypatch, tmp_path):
    from genae_studio.gui.app import create_window

    monkeypatch.setenv("GENAE_STUDIO_RESOURCES", str(tmp_path / "empty"))
    window = create_window(host, settings=settings, device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "no bundled run" in window.chain_view.placeholder.text(),
                    timeout=10_000)
    assert "Model: none" in window.status_label.text()
    combo = window.pickers.model_combo
    assert combo.currentIndex() == -1 and combo.currentText() == ""
    window.close()


def test_export_adds_the_filters_suffix(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image
    from PyQt6.QtWidgets import QFileDialog

    from genae_studio.gui import export_actions

    wait_idle(qtbot, window)
    answers = iter([(str(tmp_path / "grid"), "PNG (*.png)"),
                    (str(tmp_path / "latent"), "SVG (*.svg)"),
                    (str(tmp_path / "latent-raster"), "PNG (*.png)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: next(answers)))
    window.exports.grid()
    window.exports.plot("latent")
    window.exports.plot("latent")
    wait_idle(qtbot, window)
    assert not window.banner.isVisible(), window.banner.label.text()
    assert Image.open(tmp_path / "grid.png").size[0] > 10
    assert "<svg" in (tmp_path / "latent.svg").read_text()
    assert Image.open(tmp_path / "latent-raster.png").size[0] > 100
    assert export_actions.with_suffix(tmp_path / "x.gif", "PNG (*.png)").name == "x.gif"


def test_npz_export_uses_the_cli_layout(qtbot, window, tmp_path, monkeypatch):
    cv = window.chain_view
    cv.run_steps(2)
    qtbot.waitUntil(lambda: cv.history.last_t == 2, timeout=30_000)
    wait_idle(qtbot, window)
    monkeypatch.setattr(window.exports, "ask", lambda title, name, filt: tmp_path / "chain.npz")
    window.exports.npz()
    wait_idle(qtbot, window)
    data = np.load(tmp_path / "chain.npz")
    assert sorted(data.files) == ["steps", "x", "z"]  # as `genae-studio sample --npz`
    assert list(data["steps"]) == [0, 1, 2]
    assert data["x"].dtype == np.float32 and 0 <= data["x"].min() and data["x"].max() <= 1
    assert data["x"].shape == (3, 64, 1, 32, 32) and data["z"].dtype == np.float32
    np.testing.assert_allclose(data["x"][2], cv.history.x[2] / 255, atol=1e-6)


def test_gif_export_says_which_chains_it_holds(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image

    cv = window.chain_view
    cv.run_steps(2)
    qtbot.waitUntil(lambda: cv.history.last_t == 2, timeout=30_000)
    wait_idle(qtbot, window)
    asked = []

    def ask(title, name, filt):
        asked.append(title)
        return tmp_path / name

    monkeypatch.setattr(window.exports, "ask", ask)
    cv.select(4)
    window.exports.gif()  # all chains, even with one selected
    window.exports.gif(selected=True)
    wait_idle(qtbot, window)
    assert "all 64 chains" in asked[0] and "only chain 4" in asked[1]
    with Image.open(tmp_path / "chains.gif") as every, Image.open(tmp_path / "chain-4.gif") as one:
        assert every.n_frames == one.n_frames == 3
        assert every.size[0] > 4 * one.size[0]
    cv.select(None)
    window.exports.gif(selected=True)  # nothing selected: said, not guessed
    assert window.banner.isVisible() and "select" in window.banner.label.text()


def test_the_error_banner_goes_once_the_failing_job_works(qtbot, window, monkeypatch):
    from genae_studio.gui import chain_view as chain_module

    cv = window.chain_view
    original = chain_module.chain_task

    def broken(*args, **kwargs):
        yield from ()
        raise RuntimeError("simulated")

    monkeypatch.setattr(chain_module, "chain_task", broken)
    cv.run_steps(1)
    qtbot.waitUntil(window.banner.isVisible, timeout=10_000)
    wait_idle(qtbot, window)
    monkeypatch.setattr(chain_module, "chain_task", original)
    cv.run_steps(1)
    qtbot.waitUntil(lambda: cv.history.last_t == 1, timeout=30_000)
    wait_idle(qtbot, window)
    assert not window.banner.isVisible()



def test_latent_legend_names_the_method_and_leaves_the_data_free(qtbot, window):
    from PyQt6.QtGui import QFontMetrics

    from genae_studio.gui import latent_view

    lv, panel = window.latent_view, window.interp_panel
    for colour in latent_view.CATEGORICAL:  # categories never look like trajectories
        assert np.abs(np.subtract(colour, latent_view.TRAJ_COLOUR[:3])).sum() > 90
    panel.method_combo.setCurrentText("linear")
    panel.interpolate([0, 3])
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30_000)
    wait_idle(qtbot, window)
    assert "linear" in lv.legend.getLabel(lv.path_before).text
    assert "slerp" not in lv.legend.getLabel(lv.path_before).text
    # The legend sits below the data cloud, not on it, once the layout has settled (a new
    # legend is placed by the plot's layout on the next event-loop pass).
    box = lv.plot.getViewBox()

    def covered() -> int:
        legend, shown = lv.legend.sceneBoundingRect(), box.sceneBoundingRect()
        points = [box.mapViewToScene(QPointF(float(x), float(y))) for x, y in lv.cloud.data_xy]
        return sum(legend.contains(p) and shown.contains(p) for p in points)  # drawn, covered

    qtbot.waitUntil(lambda: covered() <= 0.01 * len(lv.cloud.data_xy), timeout=5_000)
    # Long attribute names fit the colour-by box.
    lv.colour_combo.addItem("sunglasses")
    width = QFontMetrics(lv.colour_combo.font()).horizontalAdvance("sunglasses")
    assert lv.colour_combo.sizeHint().width() > width + 20
