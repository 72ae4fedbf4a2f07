"""Drag to interpolate: a gallery of test images, a 2x2 target, and the result rows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QByteArray, QMimeData, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon, QImage, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .latent_view import encode_images
from .mosaic import MosaicView, Panel
from .session import Session

MIME = "application/x-genae-gallery-index"
GALLERY_SIZE = 48
ICON = 56
CORNERS = ("top left", "top right", "bottom left", "bottom right")


def pixmap(image: np.ndarray, size: int = ICON) -> QPixmap:
    """uint8 (C, H, W) -> a QPixmap scaled to ``size`` (nearest neighbour keeps digits crisp)."""
    arr = np.ascontiguousarray(np.repeat(image, 3, 0) if image.shape[0] == 1 else image)
    arr = np.ascontiguousarray(arr.transpose(1, 2, 0))
    h, w, _ = arr.shape
    qimage = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    mode = Qt.TransformationMode.FastTransformation if h < size \
        else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            mode)


def mime_for(index: int) -> QMimeData:
    mime = QMimeData()
    mime.setData(MIME, QByteArray(str(index).encode()))
    return mime


def index_from(mime: QMimeData) -> int | None:
    if not mime.hasFormat(MIME):
        return None
    try:
        return int(bytes(mime.data(MIME)).decode())
    except ValueError:
        return None


class Gallery(QListWidget):
    """Test images; drag one onto another to emit ``pairDropped(source, target)``."""

    pairDropped = pyqtSignal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 10, ICON + 10))
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QListWidget.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setToolTip("Drag an image onto another to interpolate between their codes")

    def set_images(self, images: np.ndarray, labels=None) -> None:
        self.clear()
        for i, image in enumerate(images):
            item = QListWidgetItem(QIcon(pixmap(image)), "")
            item.setData(Qt.ItemDataRole.UserRole, i)
            tip = f"test image #{i}" + (f" (label {labels[i]})" if labels is not None else "")
            item.setToolTip(tip + " — drag onto another image")
            self.addItem(item)

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, items) -> QMimeData:
        items = list(items)
        return mime_for(items[0].data(Qt.ItemDataRole.UserRole)) if items else QMimeData()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        source = index_from(event.mimeData())
        item = self.itemAt(event.position().toPoint())
        if source is None or item is None:
            event.ignore()
            return
        target = item.data(Qt.ItemDataRole.UserRole)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if target != source:
            self.pairDropped.emit(source, target)


class DropSlot(QLabel):
    """One corner of the 2x2 target; holds a gallery index."""

    dropped = pyqtSignal(int)

    def __init__(self, corner: str, parent=None):
        super().__init__(parent)
        self.corner = corner
        self.index: int | None = None
        self.setAcceptDrops(True)
        self.setFixedSize(ICON + 12, ICON + 12)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(f"Drop a gallery image here: the {corner} corner")
        self.clear_slot()

    def clear_slot(self) -> None:
        self.index = None
        self.setPixmap(QPixmap())
        self.setText(self.corner.replace(" ", "\n"))
        self.setStyleSheet("QLabel { border: 2px dashed #aaa; color: #888; }")

    def fill(self, index: int, image: np.ndarray) -> None:
        self.index = index
        self.setPixmap(pixmap(image))
        self.setStyleSheet("QLabel { border: 2px solid #5a8; }")

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        index = index_from(event.mimeData())
        if index is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.dropped.emit(index)


class FourTarget(QWidget):
    """The 2x2 drop target of the paper's four-corner grid; emits ``ready(indices)``."""

    ready = pyqtSignal(list)

    def __init__(self, images_of, parent=None):
        super().__init__(parent)
        self.images_of = images_of  # index -> uint8 (C, H, W)
        self.slots = [DropSlot(c, self) for c in CORNERS]
        grid = QGridLayout(self)
        grid.setSpacing(4)
        grid.setContentsMargins(0, 0, 0, 0)
        for k, slot in enumerate(self.slots):
            grid.addWidget(slot, k // 2, k % 2)
            slot.dropped.connect(lambda index, slot=slot: self.slot_dropped(slot, index))

    def slot_dropped(self, slot: DropSlot, index: int) -> None:
        slot.fill(index, self.images_of(index))
        if all(s.index is not None for s in self.slots):
            self.ready.emit([s.index for s in self.slots])

    def clear(self) -> None:
        for slot in self.slots:
            slot.clear_slot()


@dataclass
class InterpResult:
    picks: list[int]
    four: bool
    before: np.ndarray  # uint8 (rows, points, C, H, W) or (points, points, C, H, W)
    after: np.ndarray
    z: np.ndarray  # (..., K)
    z_after: np.ndarray
    steps: int
    method: str


def interpolation_job(job, run, lock, images: np.ndarray, picks: list[int], points: int,
                      steps: int, method: str, bn_mode: str, four: bool, seed: int = 0):
    """Encode the gallery (one batch, for batch norm), interpolate, apply k chain steps."""
    import torch

    from ..imaging import to_uint8

    z = encode_images(job, run, lock, images, bn_mode)
    ends = torch.from_numpy(z[picks])
    endpoints = ends if four else ends.reshape(1, 2, -1)
    job.progress(0, 0, f"interpolating, then {steps} chain steps")
    with lock:
        res = run.interpolate(endpoints, points=points, steps=steps, four=four, method=method,
                              bn_mode=bn_mode, seed=seed)
    return InterpResult(list(picks), four, to_uint8(res.before), to_uint8(res.after),
                        np.asarray(res.z), np.asarray(res.z_after), steps, method)


class InterpolationPanel(QWidget):
    """Gallery, 2x2 target and result view; ``created(InterpResult)`` for the latent view."""

    created = pyqtSignal(object)

    def __init__(self, session: Session, bn_mode, parent=None):
        super().__init__(parent)
        self.session = session
        self.bn_mode = bn_mode  # callable -> "batch" | "eval" (the chain view's choice)
        self.images: np.ndarray | None = None
        self.result: InterpResult | None = None
        self._build()
        session.data_changed.connect(self._data_changed)

    def _build(self) -> None:
        self.gallery = Gallery()
        self.gallery.pairDropped.connect(lambda a, b: self.interpolate([a, b]))
        self.points_spin = QSpinBox(minimum=2, maximum=32, value=8, prefix="points ")
        self.points_spin.setToolTip("Codes along each interpolation, endpoints included")
        self.steps_spin = QSpinBox(minimum=0, maximum=100, value=5, prefix="k = ",
                                   suffix=" steps")
        self.steps_spin.setToolTip("Chain steps applied to every interpolated code "
                                   "(the paper uses 5)")
        self.method_combo = QComboBox()
        self.method_combo.addItems(["slerp", "linear"])
        self.method_combo.setToolTip("Spherical (the paper) or linear interpolation")
        self.four = FourTarget(lambda i: self.images[i])
        self.four.ready.connect(lambda picks: self.interpolate(picks, four=True))
        clear = QPushButton("Clear corners")
        clear.clicked.connect(self.four.clear)
        hint = QLabel("Drag one test image onto another: a slerp between their codes, "
                      "before and after k chain steps (the paper's Figure 2). Drop four "
                      "images on the 2x2 target for the four-corner grid.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555")
        self.view = MosaicView()
        self.view.setMinimumHeight(120)
        self.view.set_placeholder("Drag a gallery image onto another one")

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(hint)
        ll.addWidget(self.gallery, 1)
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(4, 0, 4, 0)
        ml.addWidget(QLabel("Four corners"))
        ml.addWidget(self.four)
        ml.addWidget(clear)
        ml.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        for w in (self.points_spin, self.steps_spin, self.method_combo):
            row.addWidget(w)
        row.addStretch(1)
        rl.addLayout(row)
        rl.addWidget(self.view, 1)
        split = QSplitter()
        for w in (left, middle, right):
            split.addWidget(w)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(2, 3)
        split.setSizes([360, 160, 640])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

    def _data_changed(self, data) -> None:
        self.four.clear()
        if data is None:
            self.images = None
            self.gallery.clear()
            return
        self.images = data.images[:GALLERY_SIZE]
        labels = data.labels[:GALLERY_SIZE] if data.labels is not None else None
        self.gallery.set_images(self.images, labels)

    def interpolate(self, picks: list[int], four: bool = False) -> None:
        run = self.session.run
        if run is None or self.images is None:
            return
        self.session.jobs.start(
            "Interpolate", interpolation_job, run, self.session.lock, self.images, picks,
            self.points_spin.value(), self.steps_spin.value(), self.method_combo.currentText(),
            self.bn_mode(), four, key="interpolate", on_return=self._show)

    def _show(self, res: InterpResult) -> None:
        self.result = res
        k = res.steps
        if res.four:
            panels = [Panel(res.before, "before"), Panel(res.after, f"after {k} chain steps")]
        else:
            rows = np.concatenate([res.before, res.after])
            a, b = res.picks
            panels = [Panel(rows, f"{res.method} #{a} → #{b}: decoded (top), "
                                  f"after {k} chain steps (bottom)")]
        self.view.set_panels(panels)
        self.created.emit(res)
