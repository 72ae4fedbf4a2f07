"""The gallery of held-out images: drag one onto another, or onto the 2x2 target of the
four-corner grid; filters by label or attribute."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QByteArray, QMimeData, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon, QImage, QPixmap
from PyQt6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

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


def gallery_filters(data) -> list[tuple[str, tuple | None]]:
    """(text, rule) choices for the gallery: all, each label, each attribute's values, in the
    dataset's own words where it has them (``label_names``; ``value_names``: attribute ->
    names of its values)."""
    out: list[tuple[str, tuple | None]] = [("all images", None)]
    if data.labels is not None:
        names = getattr(data.dataset, "label_names", None)
        for v in np.unique(data.labels):
            name = names[int(v)] if names and 0 <= int(v) < len(names) else str(v)
            out.append((f"label: {name}", ("label", "eq", int(v))))
    value_names = getattr(data.dataset, "value_names", None) or {}
    for key, values in sorted(data.attributes.items()):
        values = np.asarray(values)
        uniq = np.unique(values)
        names = value_names.get(key)
        if values.dtype.kind in "iub" and len(uniq) <= 10:
            for v in uniq:
                if v < 0:
                    continue
                if names and int(v) < len(names):
                    text = f"{key}: {names[int(v)]}"
                elif set(uniq.tolist()) <= {0, 1}:
                    text = f"{key}: {'yes' if v else 'no'}"
                else:
                    text = f"{key}: value {v}"
                out.append((text, (key, "eq", v.item())))
        elif values.dtype.kind == "f":
            mid = float(np.median(values))
            out += [(f"{key}: lower half (below {mid:.2f})", (key, "lt", mid)),
                    (f"{key}: upper half ({mid:.2f} and above)", (key, "ge", mid))]
    return out


def matches(data, rule) -> np.ndarray:
    """Boolean mask of the images that satisfy a gallery_filters rule (None: all)."""
    n = len(data.images)
    if rule is None:
        return np.ones(n, bool)
    key, op, value = rule
    values = np.asarray(data.labels if key == "label" else data.attributes[key])[:n]
    return {"eq": values == value, "lt": values < value, "ge": values >= value}[op]
