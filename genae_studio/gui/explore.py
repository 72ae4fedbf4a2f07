"""Exploring the latent view with the mouse: the point under the cursor and its decoded image,
and a Shift+drag rectangle that selects chains.

The images shown are the ones the chain already decoded (the grid's): nothing is computed
here, and nothing waits on torch.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import QFrame, QGraphicsRectItem, QLabel, QVBoxLayout

from .gallery import pixmap

HOVER_RADIUS_PX = 8  # a point counts as hovered within this many screen pixels
PREVIEW_PX = 96  # the decoded image's size in the hover preview
REGION_COLOUR = QColor(0, 140, 160)


def nearest(points: np.ndarray, x: float, y: float, pixel: tuple[float, float],
            radius: float = HOVER_RADIUS_PX) -> int | None:
    """The index of the row of ``points`` (m, 2) nearest to (x, y) in screen pixels (one
    pixel is ``pixel`` = (width, height) in view units), if within ``radius`` pixels."""
    if points is None or not len(points) or not (pixel[0] > 0 and pixel[1] > 0):
        return None
    d2 = ((points[:, 0] - x) / pixel[0]) ** 2 + ((points[:, 1] - y) / pixel[1]) ** 2
    d2 = np.where(np.isfinite(d2), d2, np.inf)
    k = int(np.argmin(d2))
    return k if d2[k] <= radius ** 2 else None


def inside(points: np.ndarray, rect: QRectF) -> list[int]:
    """Indices of the rows of ``points`` (m, 2) inside ``rect`` (view coordinates)."""
    r = rect.normalized()
    if points is None or not len(points) or r.isEmpty():
        return []
    hit = (points[:, 0] >= r.left()) & (points[:, 0] <= r.right()) \
        & (points[:, 1] >= r.top()) & (points[:, 1] <= r.bottom())
    return np.flatnonzero(hit).tolist()


class SelectViewBox(pg.ViewBox):
    """A ViewBox where Shift + left drag draws a rectangle and emits it (view coordinates);
    a plain drag pans and the wheel zooms, as in every pyqtgraph plot."""

    sigRegion = pyqtSignal(object)  # QRectF

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region = QGraphicsRectItem()
        pen = QPen(REGION_COLOUR, 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.region.setPen(pen)
        self.region.setBrush(QColor(REGION_COLOUR.red(), REGION_COLOUR.green(),
                                    REGION_COLOUR.blue(), 30))
        self.region.setZValue(1e9)
        self.region.hide()
        self.addItem(self.region, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if axis is not None or ev.button() != Qt.MouseButton.LeftButton or not shift:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        rect = QRectF(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())).normalized()
        self.region.setRect(rect)
        self.region.setVisible(not ev.isFinish())
        if ev.isFinish():
            self.sigRegion.emit(rect)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton \
                and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            ev.accept()
            self.sigRegion.emit(QRectF())  # a Shift+click clears the selection
            return
        super().mouseClickEvent(ev)


class HoverPreview(QFrame):
    """A small floating card over the plot: a decoded image and what it is."""

    def __init__(self, parent):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.Box)
        self.setAutoFillBackground(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(3, 3, 3, 3)
        lay.setSpacing(1)
        lay.addWidget(self.image)
        lay.addWidget(self.caption)
        self.hide()

    def show_image(self, image: np.ndarray, caption: str, at: QPointF) -> None:
        """Show uint8 (C, H, W) ``image`` beside ``at`` (the parent's coordinates), inside it."""
        self.image.setPixmap(pixmap(image, PREVIEW_PX))
        self.caption.setText(caption)
        self.adjustSize()
        parent = self.parentWidget()
        x, y = int(at.x()) + 14, int(at.y()) + 14
        if x + self.width() > parent.width():
            x = int(at.x()) - 14 - self.width()
        if y + self.height() > parent.height():
            y = int(at.y()) - 14 - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()


def link_views(latent_view, chain_view) -> None:
    """Hover and region selection go both ways between the latent view and the chain grid."""
    latent_view.image_source = chain_view.image_at
    latent_view.chain_hovered.connect(chain_view.set_hovered)
    latent_view.region_selected.connect(chain_view.mark)
    chain_view.hovered_changed.connect(latent_view.set_hovered)
    chain_view.chains_reset.connect(lambda: latent_view.mark([]))
