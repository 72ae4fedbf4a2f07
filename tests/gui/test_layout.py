"""The window on small screens (1280 x 800 and 1366 x 768, less the title bar): the latent
view's legend stays off its data area and its axis titles are not clipped, also with the
longest legend (a selected chain and interpolation paths)."""
import numpy as np
import pytest
from PyQt6.QtWidgets import QApplication

from .gui_helpers import open_window, wait_idle


def _visible_scene_rect(plot_widget):
    return plot_widget.mapToScene(plot_widget.viewport().rect()).boundingRect()


def _check_latent_plot(lv) -> None:
    item = lv.plot.getPlotItem()
    data_area = item.getViewBox().sceneBoundingRect()
    legend = lv.legend.sceneBoundingRect()
    visible = _visible_scene_rect(lv.plot)
    # Issue 21: at 1366 x 768 the plot was about 90 px tall and the trajectories hard to see.
    assert data_area.height() >= 220 and data_area.width() >= 200, data_area
    assert visible.contains(data_area), (data_area, visible)
    assert not legend.intersects(data_area), (legend, data_area)
    assert visible.contains(legend), (legend, visible)  # no entry cut off
    for name in ("bottom", "left"):
        axis = item.getAxis(name)
        margin = axis.label.document().documentMargin()  # around the text, left blank
        title = axis.label.mapRectToScene(
            axis.label.boundingRect().adjusted(margin, margin, -margin, -margin))
        assert axis.label.isVisible() and "%" in axis.labelText
        assert visible.contains(title), (name, title, visible)  # not clipped by the widget
        assert not title.intersects(legend), (name, title, legend)
        assert not title.intersects(data_area), (name, title, data_area)
        if name == "bottom":  # centred under the data area
            assert abs(title.center().x() - data_area.center().x()) < 2, (title, data_area)


@pytest.mark.parametrize("size", [(1280, 770), (1366, 738)])
def test_the_latent_legend_and_axis_titles_fit_small_screens(qtbot, host, bundled, settings,
                                                             monkeypatch, shots, size):
    from genae_studio.gui import main_window

    monkeypatch.setattr(main_window, "default_size", lambda screen: size)  # the screen
    window = open_window(qtbot, host, settings)
    assert (window.width(), window.height()) == size  # the window fits the screen
    wait_idle(qtbot, window)
    lv = window.latent_view
    qtbot.wait(50)
    _check_latent_plot(lv)
    # The longest legend: a selected chain and interpolation paths are listed too.
    window.chain_view.select(0)
    window.chain_view.redraw()
    z = np.zeros((4, window.session.run.model.latent_dim), np.float32)
    lv.add_path(z, z)
    qtbot.wait(50)
    QApplication.processEvents()
    assert {"selected chain", "after k steps"} <= set(lv.legend_names())
    _check_latent_plot(lv)
    _check_status_bar(window)
    _check_grid_fills_its_area(window)
    _check_gallery_shows_a_choice(window)
    shots(window, f"window-{size[0]}x{size[1]}")
    window.close()


def _check_status_bar(window) -> None:
    """The device stays visible beside a long job text and a status-bar message."""
    window.statusBar().showMessage("a long message " * 20, 5000)
    QApplication.processEvents()
    bar, device = window.statusBar(), window.device_status
    assert device.isVisible() and device.text().startswith("Device: ")
    geometry = device.geometry()
    assert bar.rect().contains(geometry), (geometry, bar.rect())
    assert geometry.width() >= device.fontMetrics().horizontalAdvance(device.text())
    for other in (window.status_label, window.job_status):
        if other.isVisible():
            assert not other.geometry().intersects(geometry)


def _check_gallery_shows_a_choice(window) -> None:
    """Issue 21: at 1366 x 768 the gallery showed three faces; two rows at least now."""
    gallery = window.interp_panel.gallery
    seen = [k for k in range(gallery.count())
            if gallery.viewport().rect().contains(gallery.visualItemRect(gallery.item(k)))]
    assert len(seen) >= 6, len(seen)


def _check_grid_fills_its_area(window) -> None:
    """The chain grid scales up to the room it has (height or width, whichever binds)."""
    grid = window.chain_view.grid
    shown = grid.image.mapRectToScene(grid.image.boundingRect())
    room = grid.view.sceneBoundingRect()
    assert shown.height() >= 0.85 * room.height() or shown.width() >= 0.95 * room.width(), \
        (shown, room)


def test_a_tall_screen_shows_the_metrics_below_the_latent_view(qtbot, host, bundled, settings,
                                                               monkeypatch, shots):
    from genae_studio.gui import main_window

    monkeypatch.setattr(main_window, "default_size", lambda screen: (1920, 1050))
    window = open_window(qtbot, host, settings)
    wait_idle(qtbot, window)
    assert window.metrics_panel.isVisible() and window.latent_view.isVisible()
    assert window.tabifiedDockWidgets(window.metrics_dock) == []
    _check_latent_plot(window.latent_view)
    _check_status_bar(window)
    _check_grid_fills_its_area(window)
    shots(window, "window-1920x1050")
    window.close()


@pytest.mark.parametrize("extra_rows", [0, 8])
@pytest.mark.parametrize("size", [(1280, 770), (1366, 738)])
def test_the_training_loss_curves_are_visible_without_scrolling(qtbot, host, bundled, settings,
                                                                monkeypatch, shots, size,
                                                                extra_rows):
    """Issue 21: at 1366 x 768 the loss curves were below the fold of the Training dock. They
    stay in view with a longer form too (``extra_rows`` more settings): the form scrolls."""
    from PyQt6.QtWidgets import QLabel, QSpinBox

    from genae_studio.gui import main_window

    monkeypatch.setattr(main_window, "default_size", lambda screen: size)
    window = open_window(qtbot, host, settings)
    panel, dock = window.train_panel, window.train_dock
    rows = panel.form.rowCount()
    for k in range(2 * extra_rows):
        panel.form.addWidget(QLabel(f"extra {k}"), rows + k // 2, 2 * (k % 2))
        panel.form.addWidget(QSpinBox(), rows + k // 2, 2 * (k % 2) + 1)
    window._start_training()  # Ctrl+T: the dock is raised, nothing starts
    panel._fit_split()
    qtbot.wait(50)
    QApplication.processEvents()
    shown = dock.widget().viewport() if hasattr(dock.widget(), "viewport") else dock.widget()
    for widget, least in ((panel.plot, 180), (panel.preview, 100), (panel.form_area, 85),
                          (panel.start_button, 20), (panel.stop_button, 20)):
        rect = widget.rect().translated(widget.mapTo(shown, widget.rect().topLeft()))
        assert widget.isVisible() and shown.rect().contains(rect), (widget, rect, shown.rect())
        assert rect.height() >= least, (widget, rect)
    outer = dock.widget()
    if hasattr(outer, "verticalScrollBar"):  # the dock itself does not scroll
        assert outer.verticalScrollBar().maximum() == 0
    if extra_rows:  # the form scrolls on its own, to its last row
        assert panel.form_area.verticalScrollBar().maximum() > 0
    else:  # the common settings show; at most the model's own settings box scrolls
        row = panel.form.getItemPosition(panel.form.indexOf(panel.model_box))[0]
        last_common = max(panel.form.cellRect(row - 1, c).bottom() for c in range(4))
        assert panel.form_area.viewport().height() > last_common
    shots(window, f"training-{size[0]}x{size[1]}-{extra_rows}")
    window.close()


def test_a_stale_copy_of_a_dock_tab_bar_is_hidden(qtbot, host, bundled, settings):
    """Under Xvfb at 1600 x 1000, Qt left a copy of the Interpolation | Log tab bar from the
    layout before a resize visible over the Interpolation dock's title (not reproduced by the
    offscreen platform: the copy is made here as Qt left it)."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QTabBar

    window = open_window(qtbot, host, settings)

    def bars():
        return [b for b in window.findChildren(
            QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly) if b.isVisible()]

    real = next(b for b in bars() if b.tabText(0) == "Interpolation")
    stale = QTabBar(window)
    for k in range(real.count()):
        stale.addTab(real.tabText(k))
    stale.setGeometry(real.geometry().translated(0, -200))  # where the layout had it before
    stale.show()
    window.resize(window.width() + 40, window.height())
    qtbot.waitUntil(lambda: not stale.isVisible(), timeout=5_000)
    assert real.isVisible() and real in bars()
    groups = [tuple(b.tabText(i) for i in range(b.count())) for b in bars()]
    assert len(groups) == len(set(groups)) and len(groups) >= 2  # every group keeps its bar
    window.close()
