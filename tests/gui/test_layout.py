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
    assert data_area.height() >= 80 and data_area.width() >= 150, data_area
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
    shots(window, f"window-{size[0]}x{size[1]}")
    window.close()
