"""What a researcher expects besides (issue 11, section 5): tooltips, shortcuts, the gallery
filter, an enlarged four-corner result, plots as SVG and PNG, and a dark palette."""
import numpy as np
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QScrollBar,
    QTabBar,
    QWidget,
)

from genae_studio.gui.gallery import mime_for

from .gui_helpers import wait_idle
from .test_studio import drop

CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QLineEdit)


def controls(window) -> list[QWidget]:
    """Every control a user can operate, without Qt's own parts of composite widgets."""
    out = []
    for w in window.findChildren(QWidget):
        if not isinstance(w, CONTROLS) or isinstance(w, QScrollBar):
            continue
        if w.objectName().startswith("qt_") or isinstance(
                w.parent(), (QAbstractSpinBox, QComboBox, QTabBar)):
            continue
        out.append(w)
    return out


def test_every_control_has_a_tooltip(window):
    found = controls(window)
    assert len(found) > 40  # the walk reaches the docks too
    missing = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}" for w in found
               if not w.toolTip().strip()]
    assert not missing, missing


def test_shortcuts_are_listed_and_work(qtbot, window):
    rows = dict((text, key) for text, key in window.menus.shortcut_rows())
    keys = set(rows.values())
    for key in ("Ctrl+Shift+R", "M", "Ctrl+T", "S", "R", "Esc", "C", "Left", "Right"):
        assert key in keys, key
    box = window.menus.show_shortcuts()
    for text, key in window.menus.shortcut_rows():
        assert key in box.text() and text.replace("&", "&amp;") in box.text()
    box.close()
    window.activateWindow()  # offscreen has no window manager to do it
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    # Seed: restart from the seed in the box.
    cv = window.chain_view
    wait_idle(qtbot, window)
    cv.seed_spin.setValue(11)
    window.chain_view.setFocus()
    qtbot.keyClick(window.chain_view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: cv.chain_seed == 11 and len(cv.history) == 1, timeout=30_000)
    wait_idle(qtbot, window)
    # Measure, then Esc cancels it.
    qtbot.keyClick(window.chain_view, Qt.Key.Key_M)
    assert window.metrics_panel.busy or window.metrics_panel.building is not None, \
        window.metrics_panel.info.text()
    qtbot.keyClick(window.chain_view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.metrics_panel.busy, timeout=30_000)


def test_the_gallery_filters_by_label_and_attribute(qtbot, window):
    panel = window.interp_panel
    combo = panel.filter_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts[0] == "all images" and "label: 3" in texts
    combo.setCurrentText("label: 3")
    labels = window.session.data.labels
    shown = panel.gallery.indices()
    assert shown and all(labels[i] == 3 for i in shown)
    # Attributes (as toyfaces has): categorical values and halves of a continuous one.
    from genae_studio.data.base import ArrayDataset
    from genae_studio.tasks.loading import LoadedData

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (100, 1, 32, 32), np.uint8)
    glasses = (np.arange(100) % 3 == 0).astype(np.int64)
    yaw = rng.normal(size=100).astype(np.float32)
    hair = np.arange(100) % 3
    dataset = ArrayDataset(images, attributes={"sunglasses": glasses, "yaw": yaw,
                                               "hair": hair})
    dataset.value_names = {"hair": ["black", "brown", "blond"]}  # as toyfaces names them
    data = LoadedData("faces", dataset, images)
    panel._data_changed(data)
    texts = [combo.itemText(i) for i in range(combo.count())]
    # Issue 21: the filters read "hair = 3" and "yaw < 0.0089 (lower half)".
    assert {"sunglasses: no", "sunglasses: yes", "hair: black", "hair: blond"} <= set(texts)
    assert not any("=" in t for t in texts)
    combo.setCurrentText("sunglasses: yes")
    shown = panel.gallery.indices()
    assert len(shown) == min(34, 48) and all(glasses[i] == 1 for i in shown)
    combo.setCurrentIndex(next(i for i, t in enumerate(texts) if t.startswith("yaw: upper half")))
    assert all(yaw[i] >= np.median(yaw) for i in panel.gallery.indices())


def _face_px(view) -> float:
    """On-screen width in pixels of one cell of a MosaicView."""
    rect = view.cell_rect(0, 0)
    left = view.view.mapViewToScene(rect.topLeft())
    right = view.view.mapViewToScene(rect.topRight())
    return right.x() - left.x()


def test_the_four_corner_result_can_be_enlarged(qtbot, window):
    panel = window.interp_panel
    assert not panel.enlarge_button.isEnabled()
    for slot, index in zip(panel.four.slots, (1, 2, 5, 6), strict=True):
        assert drop(slot, QPointF(10, 10), mime_for(index))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.four, timeout=30_000)
    wait_idle(qtbot, window)
    small = _face_px(panel.view)
    qtbot.mouseClick(panel.enlarge_button, Qt.MouseButton.LeftButton)
    dialog = panel.enlarged
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: _face_px(dialog.view) > 2.5 * small, timeout=5_000)
    assert np.array_equal(dialog.view.mosaic, panel.view.mosaic)
    dialog.close()


def test_plots_export_as_svg_and_png(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image

    wait_idle(qtbot, window)
    for which in ("latent", "metrics", "losses"):
        for suffix in (".svg", ".png"):
            path = tmp_path / f"{which}{suffix}"
            monkeypatch.setattr(window.exports, "ask", lambda title, name, filt, p=path: p)
            window.exports.plot(which)
            wait_idle(qtbot, window)
            if suffix == ".svg":
                text = path.read_text()
                assert "<svg" in text and ("<path" in text or "<polyline" in text)
            else:
                assert Image.open(path).size[0] > 100
    assert not window.banner.isVisible(), window.banner.label.text()


def test_plots_and_text_follow_a_dark_palette(qtbot, window, shots):
    app = QApplication.instance()
    light = app.palette()
    dark = QPalette(light)
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"),
                         (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.WindowText, "#e6e6e6"),
                         (QPalette.ColorRole.Text, "#e6e6e6"),
                         (QPalette.ColorRole.PlaceholderText, "#a0a0a0")):
        dark.setColor(role, QColor(colour))
    try:
        app.setPalette(dark)
        qtbot.wait(50)
        for view in (window.latent_view.plot, window.metrics_panel.plots,
                     window.train_panel.plot):
            assert view.backgroundBrush().color().lightness() < 80
        axis = window.metrics_panel.fd_plot.getAxis("bottom")
        assert axis.textPen().color().lightness() > 180
        info = window.chain_view.info
        assert info.palette().color(info.foregroundRole()).lightness() > 120
        shots(window, "dark-palette")
    finally:
        app.setPalette(light)
        qtbot.wait(50)
    assert window.metrics_panel.plots.backgroundBrush().color().lightness() > 200
