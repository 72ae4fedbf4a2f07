"""The Run panel: the runs opened in this session, the open run's settings and its losses."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..tasks.run_info import SECTIONS, RunSummary, run_summary
from .session import Session
from .train_panel import CURVE_COLOURS


class RunPanel(QWidget):
    """Lists the runs opened in this session (double-click reopens one), and shows the open
    run's settings (model, data, training, versions) and its losses per epoch. *Beside the
    grid* shows the chosen run's chains next to the open run's, from the same z0."""

    beside = pyqtSignal(object)  # the path of the run to show beside the grid, None: none

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.summaries: dict[str, RunSummary] = {}  # by title, in the order opened
        self.shown: RunSummary | None = None
        self.runs = QListWidget()
        self.runs.setToolTip("Runs opened in this session: double-click one to open it again")
        self.runs.itemActivated.connect(self._reopen)
        self.runs.setMaximumHeight(90)
        self.settings = QTreeWidget()
        self.settings.setHeaderLabels(["setting", "value"])
        self.settings.setAlternatingRowColors(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(120)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss (training, per epoch)")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.getViewBox().setDefaultPadding(0.08)  # the first epoch's marker stays whole
        legend = self.plot.addLegend()
        legend.anchor((1, 0.5), (1, 0.5), offset=(-8, 0))  # the curves start high and end low
        self.note = QLabel(wordWrap=True)
        self.beside_button = QPushButton("Beside the grid")
        self.beside_button.setToolTip("Show the chosen run's chains beside the open run's, "
                                      "from the same z0 (their latent sizes must match)")
        self.beside_button.clicked.connect(self._beside)
        self.alone_button = QPushButton("Grid alone")
        self.alone_button.setToolTip("Show only the open run's chains")
        self.alone_button.clicked.connect(lambda: self.beside.emit(None))
        buttons = QHBoxLayout()
        buttons.addWidget(self.beside_button)
        buttons.addWidget(self.alone_button)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.settings)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("Runs opened in this session"))
        lay.addWidget(self.runs)
        lay.addLayout(buttons)
        lay.addWidget(self.note)
        lay.addWidget(split, 1)
        session.run_changed.connect(self.show_run)
        self.show_run(session.run)

    def show_run(self, run) -> None:
        """Show ``run`` (None: no run) and add it to the list of this session's runs."""
        if run is None:
            self.shown = None
            self.settings.clear()
            self.plot.clear()
            self.note.setText("No run is open.")
            return
        summary = run_summary(run)
        self.shown = summary
        if summary.title not in self.summaries:
            item = QListWidgetItem(summary.title)
            item.setData(Qt.ItemDataRole.UserRole, summary.path)
            self.runs.addItem(item)
        self.summaries[summary.title] = summary
        for k in range(self.runs.count()):  # the open run is the current row
            if self.runs.item(k).text() == summary.title:
                self.runs.setCurrentRow(k)
        self._fill_settings(summary)
        self._plot_losses(summary)

    def _fill_settings(self, summary: RunSummary) -> None:
        self.settings.clear()
        sections = {name: QTreeWidgetItem([name]) for name in SECTIONS}
        for section, key, value in summary.rows:
            QTreeWidgetItem(sections[section], [key, value])
        for name in SECTIONS:
            if sections[name].childCount():
                self.settings.addTopLevelItem(sections[name])
                sections[name].setExpanded(name != "versions")
        self.settings.resizeColumnToContents(0)

    def _plot_losses(self, summary: RunSummary) -> None:
        self.plot.clear()
        if not summary.epochs:
            self.note.setText(f"{summary.name}: no loss history in the run folder.")
            return
        self.note.setText(f"{summary.name}: {len(summary.epochs)} epochs of losses.")
        positive = all(v > 0 for values in summary.losses.values() for v in values
                       if np.isfinite(v))
        self.plot.setLogMode(False, positive)
        for k, (name, values) in enumerate(summary.losses.items()):
            colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
            self.plot.plot(summary.epochs, values, pen=pg.mkPen(colour, width=1.5), name=name,
                           symbol="o", symbolSize=4, symbolBrush=colour, symbolPen=None)

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The plotted loss curves: name -> (epochs, values)."""
        out = {}
        for item in self.plot.listDataItems():
            x, y = item.getOriginalDataset()
            out[item.name()] = (np.asarray(x), np.asarray(y))
        return out

    def _beside(self) -> None:
        item = self.runs.currentItem()
        path = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if path:
            self.beside.emit(path)

    def _reopen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path and (self.shown is None or path != self.shown.path):
            self.session.open_run(path)
