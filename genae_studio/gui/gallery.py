"""Drag to interpolate: a gallery of test images, a 2x2 target, and the result rows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QByteArray, QMimeData, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon, QImage, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
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

from . import theme
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

    def set_images(self, images: np.ndarray, labels=None, indices=None,
                   describe=None) -> None:
        """Show ``images``; ``indices`` are their numbers in the held-out data (default 0..)."""
        self.clear()
        indices = range(len(images)) if indices is None else indices
        for k, (i, image) in enumerate(zip(indices, images, strict=True)):
            item = QListWidgetItem(QIcon(pixmap(image)), "")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            tip = f"test image #{i}" + (f" (label {labels[k]})" if labels is not None else "")
            if describe is not None:
                tip += describe(int(i))
            item.setToolTip(tip + " — drag onto another image")
            self.addItem(item)

    def indices(self) -> list[int]:
        return [self.item(k).data(Qt.ItemDataRole.UserRole) for k in range(self.count())]

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
        self.setStyleSheet("QLabel { border: 2px dashed palette(mid); }")

    def fill(self, index: int, image: np.ndarray) -> None:
        self.index = index
        self.setPixmap(pixmap(image))
        self.setStyleSheet("QLabel { border: 2px solid #5a8; }")  # green on light and dark

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
        self.bn_mode = bn_mode  # callable -> a batch-norm mode (the chain view's choice)
        self.images: np.ndarray | None = None  # every loaded held-out image
        self.data = None
        self.result: InterpResult | None = None
        self.enlarged: QDialog | None = None
        self._build()
        session.data_changed.connect(self._data_changed)

    def _build(self) -> None:
        self.gallery = Gallery()
        self.gallery.pairDropped.connect(lambda a, b: self.interpolate([a, b]))
        self.filter_combo = QComboBox(minimumContentsLength=16)
        self.filter_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.filter_combo.setToolTip("Show only test images with this label or attribute "
                                     "value, e.g. sunglasses = 1 (the paper's Figure 2)")
        self.filter_combo.currentIndexChanged.connect(lambda _i: self._fill_gallery())
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
        clear.setToolTip("Empty the four corners of the 2x2 target")
        clear.clicked.connect(self.four.clear)
        self.enlarge_button = QPushButton("Enlarge")
        self.enlarge_button.setToolTip("Show the result in a large window (also: double-click "
                                       "it)")
        self.enlarge_button.clicked.connect(self.enlarge)
        self.enlarge_button.setEnabled(False)
        hint = theme.dim(QLabel("Drag one test image onto another: an interpolation between "
                                "their codes, before and after k chain steps (the paper's "
                                "Figure 2). Drop four images on the 2x2 target for the "
                                "four-corner grid."))
        hint.setWordWrap(True)
        self.view = MosaicView()
        self.view.setMinimumHeight(120)
        self.view.set_placeholder("Drag a gallery image onto another one")
        self.view.setToolTip("The interpolation; double-click to enlarge")
        self.view.scene().sigMouseClicked.connect(
            lambda event: self.enlarge() if event.double() else None)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(hint)
        filter_row = QHBoxLayout()
        filter_row.addWidget(QLabel("show"))
        filter_row.addWidget(self.filter_combo, 1)
        ll.addLayout(filter_row)
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
        row.addWidget(self.enlarge_button)
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
        self.data = data
        self.filter_combo.blockSignals(True)
        self.filter_combo.clear()
        if data is None:
            self.filter_combo.blockSignals(False)
            self.images = None
            self.gallery.clear()
            return
        self.images = data.images
        for text, rule in gallery_filters(data):
            self.filter_combo.addItem(text, rule)
        self.filter_combo.blockSignals(False)
        self._fill_gallery()

    def _fill_gallery(self) -> None:
        data = self.data
        if data is None:
            return
        rule = self.filter_combo.currentData()
        keep = np.flatnonzero(matches(data, rule))[:GALLERY_SIZE]
        labels = data.labels[keep] if data.labels is not None else None
        self.gallery.set_images(data.images[keep], labels, keep, self._describe)

    def _describe(self, index: int) -> str:
        attrs = self.data.attributes if self.data is not None else {}
        parts = [f"{k} {_fmt(v[index])}" for k, v in sorted(attrs.items())]
        return ("\n" + ", ".join(parts)) if parts else ""

    def interpolate(self, picks: list[int], four: bool = False) -> None:
        run = self.session.run
        if run is None or self.images is None:
            return
        # One encoder batch (batch norm): the gallery's images and the picked ones.
        batch = np.array(sorted(set(self.gallery.indices()) | set(picks)), dtype=np.int64)
        where = {int(i): k for k, i in enumerate(batch)}
        images, mode = self.images[batch], self.bn_mode()
        args = ([where[int(i)] for i in picks], self.points_spin.value(),
                self.steps_spin.value(), self.method_combo.currentText(), mode, four)
        self.session.with_bn(mode, lambda: self.session.jobs.start(
            "Interpolate", interpolation_job, run, self.session.lock, images, *args,
            key="interpolate", on_return=lambda res, picks=list(picks): self._show(res, picks)))

    def _panels(self, res: InterpResult) -> list[Panel]:
        k = res.steps
        if res.four:
            return [Panel(res.before, f"before ({res.method})"),
                    Panel(res.after, f"after {k} chain steps")]
        rows = np.concatenate([res.before, res.after])
        a, b = res.picks
        return [Panel(rows, f"{res.method} #{a} → #{b}: decoded (top), "
                            f"after {k} chain steps (bottom)")]

    def _show(self, res: InterpResult, picks: list[int] | None = None) -> None:
        if picks is not None:
            res.picks = list(picks)  # numbers in the held-out data, not in the batch
        self.result = res
        self.view.set_panels(self._panels(res))
        self.enlarge_button.setEnabled(True)
        if self.enlarged is not None and self.enlarged.isVisible():
            self.enlarged.view.set_panels(self._panels(res))
        self.created.emit(res)

    def enlarge(self) -> QDialog | None:
        """The result in a large, resizable window (the four-corner faces at a useful size)."""
        if self.result is None:
            return None
        if self.enlarged is None:
            self.enlarged = QDialog(self)
            self.enlarged.setWindowTitle("Interpolation")
            self.enlarged.view = MosaicView()
            lay = QVBoxLayout(self.enlarged)
            lay.setContentsMargins(4, 4, 4, 4)
            lay.addWidget(self.enlarged.view)
            screen = self.screen().availableGeometry() if self.screen() else None
            side = int(0.85 * min(screen.width(), screen.height())) if screen else 800
            self.enlarged.resize(int(side * (2.05 if self.result.four else 1.6)), side)
        self.enlarged.view.set_panels(self._panels(self.result))
        self.enlarged.show()
        self.enlarged.raise_()
        return self.enlarged


def gallery_filters(data) -> list[tuple[str, tuple | None]]:
    """(text, rule) choices for the gallery: all, each label, each attribute's values."""
    out: list[tuple[str, tuple | None]] = [("all images", None)]
    if data.labels is not None:
        names = getattr(data.dataset, "label_names", None)
        for v in np.unique(data.labels):
            name = names[int(v)] if names and 0 <= int(v) < len(names) else str(v)
            out.append((f"label = {name}", ("label", "eq", int(v))))
    for key, values in sorted(data.attributes.items()):
        values = np.asarray(values)
        uniq = np.unique(values)
        if values.dtype.kind in "iub" and len(uniq) <= 10:
            out += [(f"{key} = {v}", (key, "eq", v.item())) for v in uniq if v >= 0]
        elif values.dtype.kind == "f":
            mid = float(np.median(values))
            out += [(f"{key} < {mid:.2g} (lower half)", (key, "lt", mid)),
                    (f"{key} ≥ {mid:.2g} (upper half)", (key, "ge", mid))]
    return out


def matches(data, rule) -> np.ndarray:
    """Boolean mask of the images that satisfy a gallery_filters rule (None: all)."""
    n = len(data.images)
    if rule is None:
        return np.ones(n, bool)
    key, op, value = rule
    values = np.asarray(data.labels if key == "label" else data.attributes[key])[:n]
    return {"eq": values == value, "lt": values < value, "ge": values >= value}[op]


def _fmt(value) -> str:
    return f"{value:.2g}" if isinstance(value, float | np.floating) else str(value)
