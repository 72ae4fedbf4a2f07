"""The interpolation panel: the gallery, the 2x2 target and the result rows, before and after
k chain steps (the paper's Figure 2); the work is genae_studio.tasks.interpolation's."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..tasks.interpolation import InterpResult, interpolation_task
from . import theme
from .gallery import GALLERY_SIZE, FourTarget, Gallery, gallery_filters, matches
from .mosaic import MosaicView, Panel
from .session import Session


class InterpolationPanel(QWidget):
    """Gallery, 2x2 target and result view; ``created(InterpResult)`` for the latent view."""

    created = pyqtSignal(object)

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.images: np.ndarray | None = None  # every loaded held-out image
        self.data = None
        self.result: InterpResult | None = None
        self.enlarged: QDialog | None = None
        self._build()
        session.data_changed.connect(self._data_changed)
        session.run_changed.connect(self._run_changed)

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
        # One short line: on a 768-pixel screen the gallery keeps the room for its images.
        hint = theme.dim(QLabel("Drag an image onto another (Figure 2)"))
        hint.setToolTip("Drag one test image onto another: an interpolation between their "
                        "codes, before and after k chain steps (the paper's Figure 2). Drop "
                        "four images on the 2x2 target for the four-corner grid.")
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

    def _run_changed(self, run) -> None:
        """Another model: its interpolation is not this one's; it goes, said, not left."""
        self.session.jobs.cancel("interpolate")
        old = self.result
        self.result = None
        self.view.clear_images()
        self.enlarge_button.setEnabled(False)
        name = f" of the {old.run_name} run" if old is not None and old.run_name else ""
        self.view.set_placeholder(
            f"The interpolation{name} was cleared: another run is open. Drag a gallery "
            "image onto another one" if old is not None else
            "Drag a gallery image onto another one")
        if self.enlarged is not None:
            self.enlarged.close()

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
        images, mode = self.images[batch], self.session.chain.bn_mode
        args = dict(picks=[where[int(i)] for i in picks], points=self.points_spin.value(),
                    steps=self.steps_spin.value(), method=self.method_combo.currentText(),
                    bn_mode=mode, four=four)
        self.session.with_bn(mode, lambda: self.session.jobs.start(
            "Interpolate", interpolation_task, run=run, lock=self.session.lock, images=images,
            **args,
            key="interpolate",
            on_return=lambda res, picks=list(picks): self._show(res, picks, run)))

    def _panels(self, res: InterpResult) -> list[Panel]:
        k = res.steps
        if res.four:
            return [Panel(res.before, f"{res.run_name}: before ({res.method})"),
                    Panel(res.after, f"after {k} chain steps")]
        rows = np.concatenate([res.before, res.after])
        a, b = res.picks
        return [Panel(rows, f"{res.run_name}: {res.method} #{a} → #{b}: decoded (top), "
                            f"after {k} chain steps (bottom)")]

    def _show(self, res: InterpResult, picks: list[int] | None = None, run=None) -> None:
        if run is not None and run is not self.session.run:
            return  # cancelled with its run; a result that slipped through is not shown
        res.run_name = getattr(run, "name", "")
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


def _fmt(value) -> str:
    return f"{value:.2g}" if isinstance(value, float | np.floating) else str(value)
