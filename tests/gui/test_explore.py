"""Issue 21 §7, exploring: hover a latent point to see its decoded image, hover a grid cell to
highlight its chain, select chains with a rectangle, and the in-app help (F1)."""
import numpy as np
from PyQt6.QtCore import QEvent, QPointF, QRectF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from genae_studio.gui.explore import inside, nearest
from genae_studio.gui.gallery import pixmap
from genae_studio.gui.help import VIEWS

from .gui_helpers import wait_idle

NONE = Qt.MouseButton.NoButton
LEFT = Qt.MouseButton.LeftButton
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _send(widget, kind, pos, button=NONE, buttons=NONE, modifiers=Qt.KeyboardModifier.NoModifier):
    if kind == QEvent.Type.MouseMove:
        QTest.qWait(30)  # pyqtgraph's scene drops moves closer than 1/60 s to the last one
    pos = QPointF(pos)
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def _move(view, pos, **kwargs):
    _send(view.viewport(), QEvent.Type.MouseMove, pos, **kwargs)


def _latent_pos(window, x, y):
    """Viewport coordinates of the latent plot's view point (x, y)."""
    plot = window.latent_view.plot
    return plot.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(x, y)))


def _chains(qtbot, window, steps=3):
    wait_idle(qtbot, window)
    cv = window.chain_view
    cv.run_steps(steps)
    qtbot.waitUntil(lambda: cv.history.last_t == steps, timeout=60_000)
    wait_idle(qtbot, window)
    window.latent_dock.raise_()
    qtbot.wait(50)
    traj = cv.history.trajectories()
    assert traj is not None and traj.shape[1] == cv.history.n
    return cv, traj


def _image(pm):
    qimage = pm.toImage().convertToFormat(pm.toImage().Format.Format_RGB888)
    return np.frombuffer(qimage.constBits().asstring(qimage.sizeInBytes()), np.uint8)


def _isolated_chain(traj, index):
    """The chain whose point at ``index`` is farthest from every other chain's point."""
    pts = traj[index]
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(len(pts)) * 1e9
    return int(np.argmax(d.min(axis=1)))


def test_hovering_a_chain_point_shows_its_decoded_image_and_outlines_its_cell(qtbot, window):
    cv, traj = _chains(qtbot, window)
    lv = window.latent_view
    index = len(traj) - 1
    k = _isolated_chain(traj, index)
    _move(lv.plot, _latent_pos(window, *traj[index, k]))
    assert lv.preview.isVisible()
    assert lv.preview.caption.text() == f"chain {k} · t = {cv.history.t[index]}"
    expected = pixmap(cv.history.x[index][k], lv.preview.image.pixmap().width())
    np.testing.assert_array_equal(_image(lv.preview.image.pixmap()), _image(expected))
    assert lv.hovered == k  # its trajectory is highlighted
    x, y = lv.hover_line.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), traj[:, k], atol=1e-6)
    assert cv.grid.outlined("hover") == [cv.grid.cell_rect(0, k)]
    # Away from every point: the preview and the outlines go.
    corner = lv.plot.getViewBox().sceneBoundingRect().topRight() + QPointF(-3, 3)
    view = lv.plot.getViewBox().mapSceneToView(corner)
    assert lv.point_at(view.x(), view.y()) is None  # no chain point in the corner
    _move(lv.plot, lv.plot.mapFromScene(corner))
    assert not lv.preview.isVisible() and lv.hovered is None
    assert cv.grid.outlined("hover") == []


def test_hovering_a_grid_cell_highlights_its_chain_in_the_latent_view(qtbot, window):
    cv, traj = _chains(qtbot, window)
    lv, grid = window.latent_view, cv.grid
    k = cv.history.n - 2
    _move(grid, grid.mapFromScene(grid.cell_center(0, k)))
    assert lv.hovered == k
    x, y = lv.hover_line.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), traj[:, k], atol=1e-6)
    np.testing.assert_allclose(lv.hover_point.data["x"], [traj[-1, k, 0]], atol=1e-6)
    _move(grid, grid.mapFromScene(grid.cell_center(0, 0)))
    assert lv.hovered == 0
    QApplication.sendEvent(grid, QEvent(QEvent.Type.Leave))
    assert lv.hovered is None and len(lv.hover_line.getData()[0] or []) == 0


def test_a_shift_drag_rectangle_selects_the_chains_in_it(qtbot, window):
    cv, traj = _chains(qtbot, window)
    lv = window.latent_view
    points = traj[-1]
    lo, mid = points.min(axis=0), np.median(points, axis=0)
    rect = QRectF(QPointF(*(lo - 0.01)), QPointF(*mid))
    expected = inside(points, rect)
    assert 0 < len(expected) < len(points)
    viewport = lv.plot.viewport()
    start = _latent_pos(window, rect.left(), rect.top())
    end = _latent_pos(window, rect.right(), rect.bottom())
    _send(viewport, QEvent.Type.MouseButtonPress, start, LEFT, LEFT, SHIFT)
    for f in np.linspace(0, 1, 6)[1:]:
        _send(viewport, QEvent.Type.MouseMove, QPointF(start) + f * QPointF(end - start),
              NONE, LEFT, SHIFT)
    _send(viewport, QEvent.Type.MouseButtonRelease, end, LEFT, NONE, SHIFT)
    drawn = lv.plot.getViewBox().region.rect()  # the rectangle as the mouse drew it
    assert abs(drawn.width() - rect.width()) < 0.05 * rect.width()
    assert cv.marked == inside(points, drawn)
    assert cv.marked and len(cv.marked) < len(points)
    assert sorted(cv.grid.outlined("mark"), key=lambda r: (r.y(), r.x())) == sorted(
        (cv.grid.cell_rect(0, k) for k in cv.marked), key=lambda r: (r.y(), r.x()))
    assert lv.marked == cv.marked and len(lv.marked_points.data) == len(cv.marked)
    cv.redraw()
    assert f"{len(cv.marked)} chains in the region" in cv.info.text()
    # A Shift+click clears the selection; so does Reset.
    _send(viewport, QEvent.Type.MouseButtonPress, start, LEFT, LEFT, SHIFT)
    _send(viewport, QEvent.Type.MouseButtonRelease, start, LEFT, NONE, SHIFT)
    assert cv.marked == [] and cv.grid.outlined("mark") == [] and lv.marked == []
    lv.select_region(rect)
    assert cv.marked
    cv.reset(cv.settings.seed)
    assert cv.marked == [] and lv.marked == []


def test_f1_opens_the_help_page_with_every_view_and_key(qtbot, window):
    window.activateWindow()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_F1)
    dialog = window.menus.help_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.browser.toPlainText()
    for name, _ in VIEWS:
        assert name in text
    for action, key in window.menus.shortcut_rows():
        assert action in text and key in text
    assert "Shift + drag in the latent view" in text and "Hover a grid cell" in text
    dialog.close()
    assert window.menus.show_help() is dialog  # one help window, shown again


def test_nearest_and_inside_work_in_screen_pixels():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [np.nan, np.nan]])
    assert nearest(pts, 0.9, 0.0, (0.1, 1.0)) == 1  # 1 px from point 1
    assert nearest(pts, 0.5, 0.0, (0.01, 1.0)) is None  # 50 px from both
    assert nearest(np.empty((0, 2)), 0, 0, (1, 1)) is None
    assert inside(pts, QRectF(-0.5, -0.5, 1.0, 1.0)) == [0]
    assert inside(pts, QRectF()) == []
