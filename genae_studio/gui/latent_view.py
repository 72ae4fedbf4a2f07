"""The latent view: a 2-D view of encoded held-out data and prior samples, with chain
trajectories coloured by the data score.

The views (genae_studio.latent: means, joint, discriminant; auto picks the one whose axes hold
the most encoded-data variance) and the data score are fitted once per run and dataset by
genae_studio.tasks.latent_cloud, in a worker; chain points and interpolation paths are
projected with them, never refitted.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QEvent, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QFontMetricsF, QPalette
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from pyqtgraph.graphicsItems.LegendItem import ItemSample

from ..latent import (
    CHOICES,
    DESCRIPTIONS,
    LOW_SHARE,
    LatentProjection,
    best_view,
    ellipse,
    score_band,
)
from ..tasks.latent_cloud import LatentCloud
from . import theme
from .explore import HoverPreview, SelectViewBox, inside, nearest
from .workers import call_soon

CATEGORICAL = [(31, 119, 180), (60, 60, 60), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
DATA_COLOUR = (40, 110, 200, 110)
PRIOR_COLOUR = (120, 120, 120, 70)
TRAJ_COLOUR = (235, 120, 20, 55)
POINT_COLOUR = (220, 40, 30, 230)
SCORE_MAP = "plasma"  # P(looks like encoded data): dark = prior-like, yellow = data-like
WARNING_STYLE = ("QLabel { color: #7a1010; background: #fdecea; border: 1px solid #e0a0a0; "
                 "border-radius: 3px; padding: 3px; }")
SELECT_COLOUR = (230, 40, 120)
PATH_COLOUR = (20, 150, 60)
HOVER_COLOUR = (0, 170, 230)
MARK_COLOUR = (0, 140, 160)
PLOT_MIN_HEIGHT = 150  # the view, its axis titles and the legend below it stay readable
LEGEND_COLUMNS = 3  # at most; fewer where the plot is narrow
SIDE_WIDTH = 180  # the numbers and the data-score plot beside the view


def polylines(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lines, steps, 2) -> x, y with a NaN after each line (for connect='finite')."""
    lines, steps, _ = points.shape
    buf = np.full((lines, steps + 1, 2), np.nan, np.float32)
    buf[:, :steps] = points
    buf = buf.reshape(-1, 2)
    return buf[:, 0], buf[:, 1]


def _score_key() -> str:
    """Coloured dots for P(data) = 0, 0.5 and 1 in the score's colour map."""
    colours = pg.colormap.get(SCORE_MAP).map(np.array([0.0, 0.5, 1.0]), mode="byte")
    return " ".join(f"<span style='color: rgb({c[0]},{c[1]},{c[2]})'>●</span> {v}"
                    for c, v in zip(colours, ("0", "0.5", "1"), strict=True))


def fit_view(plot) -> None:
    """Fit the view to its items once (padding 5%), then keep it: auto-range would move the
    axes with every chain step (and re-render them, the costliest part of a repaint)."""
    box = plot.getViewBox()
    box.autoRange(padding=0.05)
    box.disableAutoRange()


def _light_grid(plot) -> None:
    """Grid lines at the major and minor ticks, not the finest level: re-rendering the axes
    (their grid spans the plot) after a range change took about half the time."""
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(maxTickLevel=1)


class CompactSample(ItemSample):
    """A legend sample 14 px tall instead of 20: the legend's rows as tall as their text."""

    HEIGHT = 14

    def __init__(self, item):
        super().__init__(item)
        self.setFixedHeight(self.HEIGHT)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, 20, self.HEIGHT)

    def paint(self, painter, *args) -> None:
        painter.translate(0, (self.HEIGHT - 20) / 2)  # ItemSample draws around y = 10
        super().paint(painter, *args)


class LayoutLegend(pg.LegendItem):
    """A legend placed by its plot's layout: it is not dragged about the plot."""

    def __init__(self, **kwargs):
        super().__init__(sampleType=CompactSample, **kwargs)

    def mouseDragEvent(self, ev) -> None:
        ev.ignore()


def _pen(colour, width: float = 1.0, style=None):
    pen = pg.mkPen(colour, width=width)
    if style is not None:
        pen.setStyle(style)
    return pen


class LatentView(QWidget):
    """The 2-D view: data cloud, prior cloud, chain trajectories, current points, paths; beside
    it the view's numbers and the data score of the chains against t."""

    view_changed = pyqtSignal()  # another method was chosen: projections must be redone
    chain_hovered = pyqtSignal(object)  # the chain under the mouse, or None
    region_selected = pyqtSignal(object)  # the chains (list of int) in a Shift+drag rectangle

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cloud: LatentCloud | None = None
        self.paths: list[tuple[np.ndarray, np.ndarray]] = []  # (z before, z after)
        self._curve_key = None  # the stored steps the score curve was drawn for
        self._traj: np.ndarray | None = None  # (steps, n, 2) chain points, as last drawn
        self._index = 0  # the stored step shown
        self._t_steps: list[int] = []  # t of each stored step
        self.hovered: int | None = None  # the chain highlighted by a hover (here or the grid)
        self.marked: list[int] = []  # chains selected with a rectangle
        #: (chain, stored step) -> its decoded uint8 (C, H, W) image, or None (the grid's own)
        self.image_source = None
        lut = pg.colormap.get(SCORE_MAP).getLookupTable(0.0, 1.0, 256, alpha=False)
        self._score_brushes = [pg.mkBrush(int(r), int(g), int(b)) for r, g, b in lut]
        self._build()

    def _build(self) -> None:
        self.method_combo = QComboBox()
        self.method_combo.addItems(CHOICES)
        for k, method in enumerate(CHOICES):
            self.method_combo.setItemData(k, DESCRIPTIONS[method], Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setToolTip("How the 2-D view is fitted; auto picks the method whose "
                                     "axes hold the most encoded-data variance")
        self.method_combo.currentIndexChanged.connect(self._method_chosen)
        self.colour_combo = QComboBox(minimumContentsLength=10)
        self.colour_combo.setToolTip("Colour the encoded data by its label or an attribute")
        self.colour_combo.currentTextChanged.connect(lambda _t: self._draw_cloud())
        self.show_data = QCheckBox("data", checked=True)
        self.show_prior = QCheckBox("prior", checked=True)
        self.show_chains = QCheckBox("chains", checked=True)
        for box, tip in ((self.show_data, "Encoded held-out data, samples of P^(Z)"),
                         (self.show_prior, "Samples of the prior P(Z) = N(0, I)"),
                         (self.show_chains, "Chain trajectories z0 → zT. Hover a chain "
                                            "point to see its image; Shift+drag a rectangle "
                                            "to select chains (F1: help)")):
            box.setToolTip(tip)
            box.toggled.connect(self._visibility)
        clear = QPushButton("Clear paths")
        clear.setToolTip("Remove the interpolation paths")
        clear.clicked.connect(self.clear_paths)
        row = QHBoxLayout()
        row.addWidget(QLabel("view"))
        row.addWidget(self.method_combo)
        row.addWidget(QLabel("colour by"))
        row.addWidget(self.colour_combo)
        row.addStretch(1)
        row2 = QHBoxLayout()  # two rows: the dock fits beside the chain view on small screens
        for w in (self.show_data, self.show_prior, self.show_chains):
            row2.addWidget(w)
        row2.addStretch(1)
        row2.addWidget(clear)
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.hide()
        self.colour_note = QLabel(wordWrap=True)

        self.plot = pg.PlotWidget(background="w", viewBox=SelectViewBox())
        self.plot.setAspectLocked(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        _light_grid(self.plot)
        self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        # The legend sits below the x axis, in the plot's own layout: it never covers the
        # data or the axis titles, and exports (SVG, PNG) keep it. Its columns follow the
        # plot's width (_fit_to_size).
        self.legend: LayoutLegend | None = None
        self.plot.getPlotItem().layout.setRowSpacing(3, 6)  # the x axis's title, then it
        self._legend_columns = LEGEND_COLUMNS
        self.plot.installEventFilter(self)
        self.prior = pg.ScatterPlotItem(size=4, pen=None, brush=PRIOR_COLOUR,
                                        name="prior P(Z)")
        self.data = pg.ScatterPlotItem(size=4, pen=None, brush=DATA_COLOUR,
                                       name="encoded data P̂(Z)")
        self.lines = pg.PlotDataItem(connect="finite", pen=_pen(TRAJ_COLOUR, 1),
                                     name="chains z0 → zT")
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen((40, 40, 40), width=0.6),
                                         brush=POINT_COLOUR,
                                         name="z_t, coloured by P(data)")
        self.starts = pg.ScatterPlotItem(size=5, symbol="x", pen=pg.mkPen(TRAJ_COLOUR[:3]),
                                         brush=None)
        self.selected_line = pg.PlotDataItem(pen=_pen(SELECT_COLOUR, 2.5), symbol="o",
                                             symbolSize=4, symbolBrush=SELECT_COLOUR,
                                             symbolPen=None, name="selected chain")
        self.selected_point = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k", width=1.5),
                                                 brush=SELECT_COLOUR)
        self.path_before = pg.PlotDataItem(connect="finite", pen=_pen(PATH_COLOUR, 2),
                                           symbol="o", symbolSize=5, symbolBrush=PATH_COLOUR,
                                           symbolPen=None, name="interpolation (slerp)")
        self.path_after = pg.PlotDataItem(  # markers only: after k steps it is no path
            pen=None, symbol="d", symbolSize=7, symbolBrush=(255, 255, 255),
            symbolPen=PATH_COLOUR, name="after k chain steps")
        for item in (self.prior, self.data, self.lines, self.starts, self.points,
                     self.path_before, self.path_after, self.selected_line,
                     self.selected_point):
            self.plot.addItem(item)  # not named: _sync_legend lists what is shown
        # 2-sigma ellipses: the chains' spread at t moves from the prior's towards the data's.
        self.data_ellipse = pg.PlotDataItem(pen=_pen(DATA_COLOUR[:3], 2, Qt.PenStyle.DashLine))
        self.prior_ellipse = pg.PlotDataItem(pen=_pen((110, 110, 110), 2,
                                                      Qt.PenStyle.DashLine))
        self.chain_ellipse = pg.PlotDataItem(pen=_pen(POINT_COLOUR[:3], 2),
                                             name="2σ ellipses: data, prior, z_t")
        for item in (self.data_ellipse, self.prior_ellipse, self.chain_ellipse):
            self.plot.addItem(item)
        # Exploring: the chain under the mouse (or under it in the grid) and the chains in a
        # Shift+drag rectangle.
        self.hover_line = pg.PlotDataItem(pen=_pen(HOVER_COLOUR, 2.5))
        self.hover_point = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k", width=1),
                                              brush=HOVER_COLOUR)
        self.marked_points = pg.ScatterPlotItem(size=11, pen=pg.mkPen(MARK_COLOUR, width=2),
                                                brush=None)
        for item in (self.marked_points, self.hover_line, self.hover_point):
            self.plot.addItem(item)
        self.preview = HoverPreview(self.plot)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.getViewBox().sigRegion.connect(self.select_region)
        self.path_method = "slerp"
        self._legend_shown: tuple = ()
        self._sync_legend()
        self.message = pg.TextItem(color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot.addItem(self.message)
        self.message.setPos(0, 0)
        self.info = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        # As tall empty as filled: clearing it does not resize (and re-render) the plot below.
        self.info.setMinimumHeight(7 * self.info.fontMetrics().lineSpacing())
        self.info.setToolTip(
            "Active units: latent units whose posterior mean varies across the data "
            "(variance > 0.01). Held: the share of the encoded data's variance (posterior "
            "means) on the two axes. AUC: how well the two axes tell prior samples from "
            "encoded data (cross-validated; 0.5 = not at all). Data score: a classifier of "
            "prior samples against encoded data on the active units and their squares.")
        self.score_plot = pg.PlotWidget(background="w")
        self.score_plot.setMinimumSize(110, 90)
        self.score_plot.setYRange(0, 1, padding=0.02)
        self.score_plot.enableAutoRange(y=False)
        self.score_plot.setMouseEnabled(x=False, y=False)
        self.score_plot.setLabel("left", "P(data)")
        self.score_plot.setLabel("bottom", "t")
        self.score_plot.getAxis("bottom").enableAutoSIPrefix(False)  # steps, never "×0.001"
        self.score_plot.setXRange(0, 10, padding=0.02)  # until a chain has steps
        self.score_plot.enableAutoRange(x=True)
        self.score_plot.setToolTip("The data score of the chains against t: mean over chains "
                                   "(line) and 10–90% of chains (band); dashed: encoded data's "
                                   "level, dotted: the prior's")
        self.score_plot.showGrid(x=True, y=True, alpha=0.15)
        _light_grid(self.score_plot)
        self.score_mean = pg.PlotDataItem(pen=_pen((235, 120, 20), 2), symbol="o",
                                          symbolSize=4, symbolBrush=(235, 120, 20),
                                          symbolPen=None)
        self.score_low = pg.PlotDataItem(pen=_pen((235, 120, 20, 90), 1))
        self.score_high = pg.PlotDataItem(pen=_pen((235, 120, 20, 90), 1))
        self.score_band = pg.FillBetweenItem(self.score_low, self.score_high,
                                             brush=(235, 120, 20, 60))
        self.data_level = pg.InfiniteLine(angle=0, pen=_pen(DATA_COLOUR[:3], 1.5,
                                                            Qt.PenStyle.DashLine))
        self.prior_level = pg.InfiniteLine(angle=0, pen=_pen((110, 110, 110), 1.5,
                                                             Qt.PenStyle.DotLine))
        for item in (self.score_band, self.score_low, self.score_high, self.score_mean,
                     self.data_level, self.prior_level):
            self.score_plot.addItem(item)
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.info)
        side.addWidget(QLabel("P(data) vs t: mean, 10–90% band", wordWrap=True))
        side.addWidget(self.score_plot, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMaximumWidth(SIDE_WIDTH)
        middle = QHBoxLayout()
        middle.addWidget(self.plot, 1)
        middle.addWidget(side_widget)
        self.clear("The view is fitted once a run and its data are loaded…")
        # Until the first fit; a later clear keeps the last fit's range until the next fit
        # (each range change re-renders the axes and their grid: the model switch's cost).
        self.plot.setRange(xRange=(-4, 4), yRange=(-4, 4))

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.warning)
        lay.addLayout(middle, 1)
        lay.addWidget(self.colour_note)

    # --- the cloud -------------------------------------------------------------------------
    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def clear(self, message: str = "") -> None:
        self.cloud = None
        self.paths = []
        self._curve_key = None
        for item in (self.data, self.prior, self.points, self.starts, self.selected_point):
            item.setData([], [])
        for item in (self.lines, self.selected_line, self.path_before, self.path_after,
                     self.data_ellipse, self.prior_ellipse, self.chain_ellipse,
                     self.score_mean, self.score_low, self.score_high):
            item.setData([], [])
        self._traj, self.hovered, self.marked = None, None, []
        self._draw_explore()
        self.preview.hide()
        self._set_axes(None)
        self.warning.hide()
        self.info.setText("")
        self.set_message(message)
        self._sync_legend()

    def set_cloud(self, cloud: LatentCloud) -> None:
        self.cloud = cloud
        cloud.method = CHOICES[max(0, self.method_combo.currentIndex())]
        self.set_message("")
        choices = ["none"] + (["label"] if cloud.labels is not None else []) \
            + sorted(cloud.attributes)
        previous = self.colour_combo.currentText()
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        self.colour_combo.addItems(choices)
        if previous in choices:
            self.colour_combo.setCurrentText(previous)
        elif "label" in choices:
            self.colour_combo.setCurrentText("label")
        self.colour_combo.blockSignals(False)
        auto = best_view(cloud.views)
        self.method_combo.setItemText(0, f"auto: {auto.method}")
        for k, method in enumerate(CHOICES):
            view = auto if method == "auto" else cloud.views[method]
            self.method_combo.setItemData(
                k, f"{DESCRIPTIONS[method]}\naxes hold {100 * view.held:.1f}% of encoded-data "
                f"variance; separation AUC {view.auc:.2f}", Qt.ItemDataRole.ToolTipRole)
        self.data_level.setPos(cloud.score.data_level)
        self.prior_level.setPos(cloud.score.prior_level)
        self._show_view()

    def set_method(self, method: str) -> None:
        """Show the view fitted with ``method`` (one of genae_studio.latent.CHOICES)."""
        self.method_combo.setCurrentIndex(CHOICES.index(method))

    def _method_chosen(self, index: int) -> None:
        if self.cloud is None:
            return
        self.cloud.method = CHOICES[index]
        self._show_view()
        self.view_changed.emit()

    def _show_view(self) -> None:
        cloud = self.cloud
        view = cloud.view
        self._set_axes(view)
        self.prior.setData(pos=cloud.prior_xy)
        self.data_ellipse.setData(*ellipse(cloud.data_xy))
        self.prior_ellipse.setData(*ellipse(cloud.prior_xy))
        self._draw_cloud()
        self._draw_paths()
        if view.low:
            self.warning.setText(
                f"⚠ The axes hold only {100 * view.held:.1f}% of the encoded data's variance "
                f"(under {100 * LOW_SHARE:.0f}%): this view shows little of the data. Try "
                "another view.")
        self.warning.setVisible(view.low)
        score = cloud.score
        self.info.setText(
            f"<b>Active units</b> <span style='font-size: 14pt'>{view.active_units}</span>"
            f" of {view.latent_dim}<br><b>{view.method}</b>: held {100 * view.held:.1f}%, "
            f"AUC {view.auc:.2f}<br><b>Data score</b> accuracy {score.cv_accuracy:.2f}<br>"
            f"prior {score.prior_level:.2f} → data {score.data_level:.2f}<br>"
            f"z_t colour: {_score_key()}")
        fit_view(self.plot)

    def _set_axes(self, view: LatentProjection | None) -> None:
        """Axis titles with the share of variance each axis holds; the short form where the
        long one does not fit (the axis's tooltip keeps the long one)."""
        box = self.plot.getViewBox()
        for k, (name, room) in enumerate((("bottom", box.width()), ("left", box.height()))):
            axis = self.plot.getAxis(name)
            full = view.axis_label(k) if view is not None else ("PC1", "PC2")[k]
            short = f"{view.axis_names[k]} ({100 * view.explained[k]:.1f}%)" \
                if view is not None else full
            fits = QFontMetricsF(axis.label.font()).horizontalAdvance(full) <= room - 4
            text = full if fits or room <= 0 else short
            if axis.labelText != text:
                self.plot.setLabel(name, text)
                axis.resizeEvent()  # centre the new title
            axis.setToolTip(full)

    def _draw_cloud(self) -> None:
        cloud = self.cloud
        if cloud is None:
            return
        key = self.colour_combo.currentText()
        values = cloud.labels if key == "label" else cloud.attributes.get(key)
        if values is None or key == "none":
            self.data.setData(pos=cloud.data_xy, brush=DATA_COLOUR)
            self.colour_note.setText("")
            return
        values = np.asarray(values)
        if key == "label" or (values.dtype.kind in "iub" and len(np.unique(values)) <= 10):
            codes = np.unique(values, return_inverse=True)[1]
            brushes = [pg.mkBrush(*CATEGORICAL[k % 10], 160) for k in range(codes.max() + 1)]
            self.data.setData(pos=cloud.data_xy, brush=[brushes[c] for c in codes])
            names = cloud.label_names if key == "label" and cloud.label_names else None
            uniq = np.unique(values)
            parts = [f"<span style='color: rgb{CATEGORICAL[k % 10]}'>■</span> "
                     f"{names[int(v)] if names and 0 <= int(v) < len(names) else v}"
                     for k, v in enumerate(uniq)]
            self.colour_note.setText(f"{key}: " + "  ".join(parts))
        else:
            lo, hi = float(values.min()), float(values.max())
            cmap = pg.colormap.get("viridis")
            scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros(len(values))
            colours = cmap.map(scaled, mode="byte")
            colours[:, 3] = 170
            self.data.setData(pos=cloud.data_xy, brush=[pg.mkBrush(*c) for c in colours])
            self.colour_note.setText(f"{key}: viridis from {lo:.2g} (dark) to {hi:.2g} "
                                     "(yellow)")

    def _visibility(self) -> None:
        for item in (self.data, self.data_ellipse):
            item.setVisible(self.show_data.isChecked())
        for item in (self.prior, self.prior_ellipse):
            item.setVisible(self.show_prior.isChecked())
        for item in (self.lines, self.points, self.starts, self.chain_ellipse):
            item.setVisible(self.show_chains.isChecked())

    def _sync_legend(self) -> None:
        """List what the view shows: the selected chain and interpolation paths only while
        there are any (a short legend leaves the plot its height)."""
        entries = [(self.prior, "prior P(Z)"), (self.data, "encoded P̂(Z)"),
                   (self.lines, "chains z0 → zT"), (self.points, "z_t by P(data)"),
                   (self.data_ellipse, "2σ data"), (self.prior_ellipse, "2σ prior"),
                   (self.chain_ellipse, "2σ z_t")]
        if self._selected_shown():
            entries.append((self.selected_line, "selected chain"))
        if self.paths:
            entries += [(self.path_before, f"interpolation ({self.path_method})"),
                        (self.path_after, "after k steps")]
        shown = (self._legend_columns, tuple((id(item), name) for item, name in entries))
        if shown == self._legend_shown:
            return
        self._legend_shown = shown
        layout = self.plot.getPlotItem().layout
        if self.legend is not None:  # a new legend: pyqtgraph's does not re-flow in place
            layout.removeItem(self.legend)
            if self.legend.scene() is not None:
                self.legend.scene().removeItem(self.legend)
        self.legend = LayoutLegend(colCount=self._legend_columns, labelTextSize="8pt",
                                   verSpacing=0, horSpacing=8)
        for item, name in entries:
            self.legend.addItem(item, name)
        for _sample, label in self.legend.items:  # rows as tall as the text
            label.item.document().setDocumentMargin(1)
        pal = self.plot.palette()
        theme.style_legend(self.legend, pal.color(QPalette.ColorRole.Base),
                           pal.color(QPalette.ColorRole.Text))
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout.addItem(self.legend, 4, 1, Qt.AlignmentFlag.AlignLeft)
        # The plot item's size depends on its legend: fit it to the widget again.
        self.plot.getPlotItem().setGeometry(self.plot.range)

    def _legend_width(self, columns: int) -> float:
        """The legend's width with ``columns`` columns (entries fill rows left to right)."""
        cells = [sample.width() + label.item.boundingRect().width() + 22
                 for sample, label in self.legend.items]
        return sum(max(cells[c::columns], default=0) for c in range(columns)) + 4

    def eventFilter(self, obj, event) -> bool:
        if obj is self.plot and event.type() == QEvent.Type.Resize:
            call_soon(self, self._fit_to_size)  # once the layout has settled
        if obj is self.plot and event.type() == QEvent.Type.Leave:
            self._hover(None)
        return False

    def _fit_to_size(self) -> None:
        """As many legend columns as the plot's width holds; axis titles that fit."""
        room = self.plot.viewport().width() - self.plot.getAxis("left").width() - 8
        columns = next((c for c in range(LEGEND_COLUMNS, 1, -1)
                        if self._legend_width(c) <= room), 1)
        if columns != self._legend_columns:
            self._legend_columns = columns
            self._sync_legend()
        self._set_axes(self.cloud.view if self.cloud is not None else None)

    def _selected_shown(self) -> bool:
        x, _y = self.selected_line.getData()
        return x is not None and len(x) > 0

    def set_interpolation_method(self, method: str) -> None:
        """The legend names the interpolation method actually used."""
        self.path_method = method
        self._sync_legend()

    def legend_names(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]

    # --- chains ----------------------------------------------------------------------------
    def set_chains(self, traj: np.ndarray | None, index: int, selected: int | None,
                   scores: np.ndarray | None = None,
                   t_steps: list[int] | None = None) -> None:
        """Draw every chain's trajectory ``traj`` (steps, n, 2) and mark step ``index``; with
        the data ``scores`` (steps, n) of the stored steps ``t_steps`` (computed in the chain's
        worker), colour the points by P(data) and plot its mean and band against t."""
        self._traj, self._index = traj, index
        self._t_steps = list(t_steps) if t_steps is not None else []
        self._draw_explore()
        if traj is None or not len(traj):
            for item in (self.lines, self.selected_line, self.chain_ellipse, self.score_mean,
                         self.score_low, self.score_high):
                item.setData([], [])
            self._curve_key = None
            for item in (self.points, self.starts, self.selected_point):
                item.setData([], [])
            self._sync_legend()
            return
        index = min(index, len(traj) - 1)
        x, y = polylines(traj[:index + 1].transpose(1, 0, 2))
        self.lines.setData(x, y)
        self.starts.setData(pos=traj[0])
        if scores is not None and len(scores) == len(traj):
            shade = np.clip((scores[index] * 255).round().astype(int), 0, 255)
            self.points.setData(pos=traj[index], brush=[self._score_brushes[k] for k in shade])
            key = (scores.shape, tuple(t_steps or ()), float(scores[-1].sum()))
            if key != self._curve_key:  # the curve changes with the stored steps, not with t
                self._curve_key = key
                band = score_band(scores)
                t = np.asarray(t_steps if t_steps is not None else range(len(scores)), float)
                self.score_mean.setData(t, band["mean"])
                self.score_low.setData(t, band["low"])
                self.score_high.setData(t, band["high"])
        else:
            self.points.setData(pos=traj[index], brush=POINT_COLOUR)
        self.chain_ellipse.setData(*ellipse(traj[index]))
        if selected is not None and selected < traj.shape[1]:
            path = traj[:, selected]
            self.selected_line.setData(path[:, 0], path[:, 1])
            self.selected_point.setData(pos=path[index:index + 1])
        else:
            self.selected_line.setData([], [])
            self.selected_point.setData([], [])
        self._sync_legend()

    def score_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(t, mean P(data)) currently drawn."""
        t, mean = self.score_mean.getData()
        return (np.asarray(t) if t is not None else np.empty(0),
                np.asarray(mean) if mean is not None else np.empty(0))

    # --- interpolation paths ---------------------------------------------------------------
    def add_path(self, z_before: np.ndarray, z_after: np.ndarray) -> None:
        """An interpolation: (points, K) codes before and after the chain steps."""
        self.paths.append((np.asarray(z_before), np.asarray(z_after)))
        self._draw_paths()

    def clear_paths(self) -> None:
        self.paths = []
        self._draw_paths()

    def _draw_paths(self) -> None:
        self._sync_legend()
        if self.cloud is None or not self.paths:
            self.path_before.setData([], [])
            self.path_after.setData([], [])
            return
        before = [self.cloud.project(b) for b, _ in self.paths]
        after = [self.cloud.project(a) for _, a in self.paths]
        xb = np.concatenate([np.vstack([b, [[np.nan, np.nan]]]) for b in before])
        xa = np.concatenate([np.vstack([a, [[np.nan, np.nan]]]) for a in after])
        self.path_before.setData(xb[:, 0], xb[:, 1])
        self.path_after.setData(xa[:, 0], xa[:, 1])

    def path_count(self) -> int:
        return len(self.paths)

    # --- exploring -------------------------------------------------------------------------
    def _chain_points(self) -> np.ndarray | None:
        """(n, 2): every chain's point at the step shown."""
        traj = self._traj
        if traj is None or not len(traj) or not self.show_chains.isChecked():
            return None
        return traj[min(self._index, len(traj) - 1)]

    def point_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(chain, stored step) of the chain point nearest to view point (x, y) within a few
        screen pixels: the points at the step shown first, then the trajectories' points."""
        current = self._chain_points()
        if current is None:
            return None
        pixel = tuple(self.plot.getViewBox().viewPixelSize())
        index = min(self._index, len(self._traj) - 1)
        chain = nearest(current, x, y, pixel)
        if chain is not None:
            return chain, index
        steps = self._traj[:index + 1]
        hit = nearest(steps.reshape(-1, 2), x, y, pixel)
        return None if hit is None else (hit % steps.shape[1], hit // steps.shape[1])

    def _mouse_moved(self, scene_pos) -> None:
        box = self.plot.getViewBox()
        if not box.sceneBoundingRect().contains(scene_pos):
            self._hover(None)
            return
        pos = box.mapSceneToView(scene_pos)
        hit = self.point_at(pos.x(), pos.y())
        self._hover(hit, self.plot.mapFromScene(scene_pos))

    def _hover(self, hit: tuple[int, int] | None, at=None) -> None:
        """Show the decoded image of (chain, step) ``hit`` beside ``at``; None hides it."""
        image = self.image_source(*hit) if hit is not None and self.image_source else None
        if image is None:
            self.preview.hide()
        else:
            t = self._t_steps[hit[1]] if hit[1] < len(self._t_steps) else hit[1]
            self.preview.show_image(image, f"chain {hit[0]} · t = {t}", at)
        chain = hit[0] if hit is not None else None
        if chain != self.hovered:
            self.set_hovered(chain)
            self.chain_hovered.emit(chain)

    def set_hovered(self, chain: int | None) -> None:
        """Highlight chain ``chain``'s trajectory and point (None: no highlight)."""
        self.hovered = chain
        self._draw_explore()

    def select_region(self, rect) -> None:
        """Select the chains whose point at the step shown lies in ``rect`` (view
        coordinates); an empty rectangle clears the selection."""
        self.mark(inside(self._chain_points(), rect))
        self.region_selected.emit(list(self.marked))

    def mark(self, chains: list[int]) -> None:
        self.marked = [int(c) for c in chains]
        self._draw_explore()

    def _draw_explore(self) -> None:
        traj, chain = self._traj, self.hovered
        n = traj.shape[1] if traj is not None and len(traj) else 0
        index = min(self._index, len(traj) - 1) if n else 0
        if chain is not None and chain < n:
            path = traj[:index + 1, chain]
            self.hover_line.setData(path[:, 0], path[:, 1])
            self.hover_point.setData(pos=path[-1:])
        else:
            self.hover_line.setData([], [])
            self.hover_point.setData([], [])
        marked = [c for c in self.marked if c < n]
        self.marked_points.setData(pos=traj[index, marked] if marked else np.empty((0, 2)))
