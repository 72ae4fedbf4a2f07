"""A grid of many small images drawn as one mosaic in one pyqtgraph ImageItem.

Panels (e.g. t = 0 beside t = T) sit side by side with a gap; clicks map back to cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import QGraphicsRectItem

from ..imaging import grid

PAD = 2
GAP = 16  # between panels
TITLE_PX = 20  # screen pixels above the mosaic for panel titles
LABEL_PX = 18  # and below it for cell labels
BACKGROUND = 255
HIGHLIGHT = QColor(230, 40, 120)
HOVER = QColor(0, 170, 230)  # the cell under the mouse, or the chain hovered in the latent view
MARK = QColor(0, 140, 160)  # cells of chains selected with a rectangle in the latent view


def tile(images: np.ndarray, pad: int = PAD, fill: int = BACKGROUND) -> np.ndarray:
    """uint8 (rows, cols, C, H, W) -> (H', W', 3) mosaic: ``imaging.grid``, always in colour."""
    mosaic = grid(images, pad, fill)
    return np.repeat(mosaic, 3, axis=2) if mosaic.shape[-1] == 1 else mosaic


def as_grid(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """uint8 (n, C, H, W) -> (rows, cols, C, H, W), blank cells at the end."""
    n = len(images)
    cols = cols or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // cols))
    out = np.full((rows * cols, *images.shape[1:]), BACKGROUND, np.uint8)
    out[:n] = images
    return out.reshape(rows, cols, *images.shape[1:])


def _highlight_box(colour: QColor = HIGHLIGHT, style=Qt.PenStyle.SolidLine
                   ) -> QGraphicsRectItem:
    box = QGraphicsRectItem()
    pen = QPen(colour, 2, style)
    pen.setCosmetic(True)  # 2 screen pixels at any zoom
    box.setPen(pen)
    return box


@dataclass
class Panel:
    """One block of the mosaic: a grid of images and a title above it."""

    images: np.ndarray  # uint8 (rows, cols, C, H, W)
    title: str = ""
    count: int | None = None  # real cells (the rest are padding); None: all


def compose(panels: list[Panel], pad: int = PAD, gap: int = GAP) -> np.ndarray:
    """Panels side by side (top-aligned) as one (H, W, 3) uint8 array."""
    tiles = [tile(p.images, pad) for p in panels]
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    x = 0
    for t in tiles:
        out[:t.shape[0], x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


class MosaicView(pg.GraphicsLayoutWidget):
    """Shows panels of images; emits ``cellClicked(panel, index)`` and draws a selection box."""

    cellClicked = pyqtSignal(int, int)
    cellHovered = pyqtSignal(int)  # the index of the cell under the mouse, -1 for none
    follows_palette = False  # images on white, like a figure in a paper, in any theme

    def __init__(self, parent=None, *, titles: bool = True, cell_labels: bool = False):
        super().__init__(parent)
        self.setBackground("w")
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self._titles: list[pg.TextItem] = []
        self._labels: list[pg.TextItem] = []
        self._boxes: list[QGraphicsRectItem] = []
        self._hover_boxes: list[QGraphicsRectItem] = []
        self._mark_boxes: list[QGraphicsRectItem] = []
        self._hovered = -1
        self._hover_index: int | None = None
        self._marked: list[int] = []
        self._show_titles = titles
        self._cell_labels = cell_labels
        self._layout: list[tuple[int, int, int, int, int, int, int]] = []
        self._margins = (0, 0)
        self.mosaic: np.ndarray | None = None
        self.placeholder = pg.TextItem(color=(120, 120, 120), anchor=(0.5, 0.5))
        self.view.addItem(self.placeholder)
        self.placeholder.setVisible(False)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(self._moved)
        self.view.sigResized.connect(self._fit)

    def set_placeholder(self, text: str) -> None:
        """A grey hint shown while there are no images."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(self.mosaic is None and bool(text))

    # --- content ---------------------------------------------------------------------------
    def clear_images(self) -> None:
        self.mosaic = None
        self.image.clear()
        self._layout = []
        self.placeholder.setVisible(bool(self.placeholder.toPlainText()))
        for item in self._titles + self._labels:
            item.setVisible(False)
        self.select(None)
        self._outline(self._hover_boxes, [], HOVER)
        self._outline(self._mark_boxes, [], MARK)

    def set_panels(self, panels: list[Panel], labels: list[str] | None = None) -> None:
        """Draw the panels; ``labels`` (one per cell of the first panel) go under the cells."""
        self.mosaic = compose(panels)
        self.placeholder.setVisible(False)
        titles = self._show_titles and any(p.title for p in panels)
        # uint8 without levels: pyqtgraph wraps the array in a QImage as it is, where levels
        # (0, 255) rescaled every pixel first (about 6 ms a redraw for the same picture).
        self.image.setImage(self.mosaic, levels=None, autoLevels=False)
        layout, x = [], 0
        for p in panels:
            rows, cols, _, h, w = p.images.shape
            count = rows * cols if p.count is None else p.count
            layout.append((x, 0, rows, cols, h, w, count))
            x += cols * (w + PAD) + PAD + GAP
        self._layout = layout
        self._margins = (TITLE_PX if titles else 0, LABEL_PX if labels else 0)
        self._fit()
        self._place_titles([p.title for p in panels] if titles else [])
        self._place_labels(labels or [])

    def _fit(self) -> None:
        """Show the whole mosaic with room (in screen pixels) for titles and labels."""
        if self.mosaic is None:
            self.view.setRange(QRectF(-1, -1, 2, 2), padding=0)
            return
        size = self.view.boundingRect()
        top, bottom = self._margins
        height, width = self.mosaic.shape[:2]
        scale = max(1e-6, min(size.width() / width, (size.height() - top - bottom) / height))
        self.view.setRange(QRectF(0, -top / scale, width, height + (top + bottom) / scale),
                           padding=0)

    def _shown(self, pool: list, count: int, make) -> list:
        """The first ``count`` items of ``pool`` (grown with ``make()`` and added to the view
        as needed), shown; the rest hidden."""
        while len(pool) < count:
            pool.append(make())
            self.view.addItem(pool[-1])
        for k, item in enumerate(pool):
            item.setVisible(k < count)
        return pool[:count]

    def _place_titles(self, titles: list[str]) -> None:
        items = self._shown(self._titles, len(titles),
                            lambda: pg.TextItem(color=(40, 40, 40), anchor=(0, 1)))
        for k, item in enumerate(items):
            item.setText(titles[k])
            item.setPos(self._layout[k][0], self._layout[k][1])

    def _place_labels(self, labels: list[str]) -> None:
        items = self._shown(self._labels, len(labels),
                            lambda: pg.TextItem(color=(60, 60, 60), anchor=(0.5, 0)))
        x0, top, rows, cols, h, w, _ = self._layout[0] if self._layout else (0,) * 7
        for k, item in enumerate(items):
            r, c = divmod(k, max(cols, 1))
            item.setText(labels[k])
            item.setPos(x0 + PAD + c * (w + PAD) + w / 2, top + (r + 1) * (h + PAD))

    # --- selection -------------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        """Outline cell ``index`` in every panel (None: no outline)."""
        self._outline(self._boxes, [] if index is None else [index], HIGHLIGHT)
        # The hover and region outlines follow the new layout too.
        self._outline(self._hover_boxes, [] if self._hover_index is None
                      else [self._hover_index], HOVER, Qt.PenStyle.DashLine)
        self._outline(self._mark_boxes, self._marked, MARK, Qt.PenStyle.DotLine)

    def hover(self, index: int | None) -> None:
        """Outline cell ``index`` (dashed) as the hovered one (None: no outline)."""
        self._hover_index = index
        self._outline(self._hover_boxes, [] if index is None else [index], HOVER,
                      Qt.PenStyle.DashLine)

    def mark(self, indices: list[int]) -> None:
        """Outline the cells ``indices`` (dotted): the chains selected with a rectangle."""
        self._marked = list(indices)
        self._outline(self._mark_boxes, self._marked, MARK, Qt.PenStyle.DotLine)

    def outlined(self, kind: str = "select") -> list[QRectF]:
        """The rectangles of the shown outlines of ``kind`` (select, hover or mark)."""
        pool = {"select": self._boxes, "hover": self._hover_boxes, "mark": self._mark_boxes}
        return [box.rect() for box in pool[kind] if box.isVisible()]

    def _outline(self, pool: list, indices: list[int], colour: QColor,
                 style=Qt.PenStyle.SolidLine) -> None:
        rects = [self.cell_rect(p, i) for i in indices for p in range(len(self._layout))]
        rects = [r for r in rects if r is not None]
        boxes = self._shown(pool, len(rects), lambda: _highlight_box(colour, style))
        for box, rect in zip(boxes, rects, strict=True):
            box.setRect(rect)

    def cell_rect(self, panel: int, index: int) -> QRectF | None:
        x0, top, rows, cols, h, w, count = self._layout[panel]
        if not 0 <= index < count:
            return None
        r, c = divmod(index, cols)
        return QRectF(x0 + PAD + c * (w + PAD) - 1, top + PAD + r * (h + PAD) - 1, w + 2, h + 2)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(panel, index) under view coordinates, or None."""
        for k, (x0, top, rows, cols, h, w, count) in enumerate(self._layout):
            c, r = int((x - x0 - PAD) // (w + PAD)), int((y - top - PAD) // (h + PAD))
            if 0 <= c < cols and 0 <= r < rows and r * cols + c < count:
                return k, r * cols + c
        return None

    def cell_center(self, panel: int, index: int):
        """Scene position of a cell's centre (for tests and tooltips)."""
        rect = self.cell_rect(panel, index)
        return self.view.mapViewToScene(rect.center())

    def _moved(self, scene_pos) -> None:
        hit = None
        if self._layout and self.view.sceneBoundingRect().contains(scene_pos):
            pos = self.view.mapSceneToView(scene_pos)
            hit = self.cell_at(pos.x(), pos.y())
        index = hit[1] if hit is not None else -1
        if index != self._hovered:
            self._hovered = index
            self.cellHovered.emit(index)

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        if self._hovered != -1:
            self._hovered = -1
            self.cellHovered.emit(-1)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._layout:
            return
        pos = self.view.mapSceneToView(event.scenePos())
        hit = self.cell_at(pos.x(), pos.y())
        if hit is not None:
            self.cellClicked.emit(*hit)
