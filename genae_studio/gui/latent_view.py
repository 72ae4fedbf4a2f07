"""The latent view: a PCA of encoded held-out data and prior samples, with chain trajectories.

The PCA is fitted once per run and dataset (in a worker); chain points and interpolation paths
are projected with it, never refitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

N_PRIOR = 1000
ENCODE_BATCH = 100
CATEGORICAL = [(31, 119, 180), (60, 60, 60), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
DATA_COLOUR = (40, 110, 200, 110)
PRIOR_COLOUR = (120, 120, 120, 70)
TRAJ_COLOUR = (235, 120, 20, 55)
POINT_COLOUR = (220, 40, 30, 230)
SELECT_COLOUR = (230, 40, 120)
PATH_COLOUR = (20, 150, 60)


@dataclass
class LatentCloud:
    """A fitted 2-D PCA and the projected clouds of encoded data and prior samples."""

    mean: np.ndarray  # (K,)
    components: np.ndarray  # (2, K)
    explained: np.ndarray  # (2,) explained variance ratio
    data_xy: np.ndarray  # (N, 2)
    prior_xy: np.ndarray  # (M, 2)
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def project(self, z: np.ndarray) -> np.ndarray:
        return ((np.asarray(z, np.float32) - self.mean) @ self.components.T).astype(np.float32)


def encode_images(job, run, lock, images: np.ndarray, bn_mode: str, sample: bool = False,
                  text: str = "encoding") -> np.ndarray:
    """Codes of uint8 images in even batches (batch norm needs more than a few images)."""
    parts = np.array_split(np.arange(len(images)), max(1, round(len(images) / ENCODE_BATCH)))
    out = []
    for k, idx in enumerate(parts):
        job.check()
        with lock:
            z = run.encode(images[idx], sample=sample, bn_mode=bn_mode)
        out.append(z.float().cpu().numpy())
        job.progress(k + 1, len(parts), f"{text} {len(images)} images")
    return np.concatenate(out)


def fit_latent_job(job, run, lock, data, bn_mode: str, n_prior: int = N_PRIOR,
                   seed: int = 0) -> LatentCloud:
    """Encode held-out data (samples of P^(Z)), draw prior samples, fit the PCA on both."""
    from sklearn.decomposition import PCA

    data_z = encode_images(job, run, lock, data.images, bn_mode, sample=True,
                           text="encoding held-out")
    prior_z = np.random.default_rng(seed).standard_normal(
        (n_prior, data_z.shape[1])).astype(np.float32)
    job.progress(0, 0, "fitting the PCA")
    pca = PCA(n_components=2, random_state=0).fit(np.concatenate([data_z, prior_z]))
    cloud = LatentCloud(pca.mean_.astype(np.float32), pca.components_.astype(np.float32),
                        pca.explained_variance_ratio_, np.empty((0, 2)), np.empty((0, 2)),
                        data.labels, getattr(data.dataset, "label_names", None),
                        data.attributes)
    cloud.data_xy, cloud.prior_xy = cloud.project(data_z), cloud.project(prior_z)
    return cloud


def polylines(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lines, steps, 2) -> x, y with a NaN after each line (for connect='finite')."""
    lines, steps, _ = points.shape
    buf = np.full((lines, steps + 1, 2), np.nan, np.float32)
    buf[:, :steps] = points
    buf = buf.reshape(-1, 2)
    return buf[:, 0], buf[:, 1]


def ellipse(points: np.ndarray, nstd: float = 2.0, num: int = 73) -> tuple[np.ndarray, ...]:
    """The ``nstd``-sigma covariance ellipse of 2-D points, as x, y (empty for < 3 points)."""
    if len(points) < 3:
        return np.empty(0), np.empty(0)
    mean = points.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(points.T))
    angle = np.linspace(0, 2 * np.pi, num)
    circle = np.stack([np.cos(angle), np.sin(angle)], 1)
    curve = mean + nstd * (circle * np.sqrt(np.maximum(vals, 0))) @ vecs.T
    return curve[:, 0], curve[:, 1]


def _pen(colour, width: float = 1.0, style=None):
    pen = pg.mkPen(colour, width=width)
    if style is not None:
        pen.setStyle(style)
    return pen


class LatentView(QWidget):
    """PCA plot: data cloud, prior cloud, chain trajectories, current points, paths."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cloud: LatentCloud | None = None
        self.paths: list[tuple[np.ndarray, np.ndarray]] = []  # (z before, z after)
        self._build()

    def _build(self) -> None:
        self.colour_combo = QComboBox()
        self.colour_combo.setToolTip("Colour the encoded data by its label or an attribute")
        self.colour_combo.currentTextChanged.connect(lambda _t: self._draw_cloud())
        self.show_data = QCheckBox("data", checked=True)
        self.show_prior = QCheckBox("prior", checked=True)
        self.show_chains = QCheckBox("chains", checked=True)
        for box, tip in ((self.show_data, "Encoded held-out data, samples of P^(Z)"),
                         (self.show_prior, "Samples of the prior P(Z) = N(0, I)"),
                         (self.show_chains, "Chain trajectories z0 → zT")):
            box.setToolTip(tip)
            box.toggled.connect(self._visibility)
        clear = QPushButton("Clear paths")
        clear.setToolTip("Remove the interpolation paths")
        clear.clicked.connect(self.clear_paths)
        row = QHBoxLayout()
        row.addWidget(QLabel("colour by"))
        row.addWidget(self.colour_combo)
        for w in (self.show_data, self.show_prior, self.show_chains):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(clear)
        self.colour_note = QLabel()
        self.colour_note.setStyleSheet("color: #555")

        self.plot = pg.PlotWidget(background="w")
        self.plot.setAspectLocked(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextColor=(30, 30, 30),
                                          brush=(255, 255, 255, 200), colCount=2)
        self.prior = pg.ScatterPlotItem(size=4, pen=None, brush=PRIOR_COLOUR,
                                        name="prior P(Z)")
        self.data = pg.ScatterPlotItem(size=4, pen=None, brush=DATA_COLOUR,
                                       name="encoded data P̂(Z)")
        self.lines = pg.PlotDataItem(connect="finite", pen=_pen(TRAJ_COLOUR, 1),
                                     name="chains z0 → zT")
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("w", width=0.5),
                                         brush=POINT_COLOUR, name="z_t at the slider's t")
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
            self.plot.addItem(item)
        # 2-sigma ellipses: the chains' spread at t moves from the prior's towards the data's.
        self.data_ellipse = pg.PlotDataItem(pen=_pen(DATA_COLOUR[:3], 2, Qt.PenStyle.DashLine))
        self.prior_ellipse = pg.PlotDataItem(pen=_pen((110, 110, 110), 2,
                                                      Qt.PenStyle.DashLine))
        self.chain_ellipse = pg.PlotDataItem(pen=_pen(POINT_COLOUR[:3], 2),
                                             name="2σ ellipses: data, prior, z_t")
        for item in (self.data_ellipse, self.prior_ellipse, self.chain_ellipse):
            self.plot.addItem(item)
        self.message = pg.TextItem(color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot.addItem(self.message)
        self.message.setPos(0, 0)
        self.clear("The PCA is fitted once a run and its data are loaded…")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.colour_note)

    # --- the cloud -------------------------------------------------------------------------
    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def clear(self, message: str = "") -> None:
        self.cloud = None
        self.paths = []
        for item in (self.data, self.prior, self.points, self.starts, self.selected_point):
            item.setData([], [])
        for item in (self.lines, self.selected_line, self.path_before, self.path_after,
                     self.data_ellipse, self.prior_ellipse, self.chain_ellipse):
            item.setData([], [])
        self._set_axes(None)
        self.plot.setRange(xRange=(-4, 4), yRange=(-4, 4))
        self.set_message(message)

    def set_cloud(self, cloud: LatentCloud) -> None:
        self.cloud = cloud
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
        self._set_axes(cloud.explained)
        self.prior.setData(pos=cloud.prior_xy)
        self.data_ellipse.setData(*ellipse(cloud.data_xy))
        self.prior_ellipse.setData(*ellipse(cloud.prior_xy))
        self._draw_cloud()
        self._draw_paths()
        self.plot.enableAutoRange()

    def _set_axes(self, explained) -> None:
        for k, axis in enumerate(("bottom", "left")):
            text = f"PC{k + 1}" + (f"  ({100 * explained[k]:.1f}% of variance)"
                                   if explained is not None else "")
            self.plot.setLabel(axis, text)

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

    # --- chains ----------------------------------------------------------------------------
    def set_chains(self, traj: np.ndarray | None, index: int, selected: int | None) -> None:
        """Draw every chain's trajectory ``traj`` (steps, n, 2) and mark step ``index``."""
        if traj is None or not len(traj):
            for item in (self.lines, self.selected_line, self.chain_ellipse):
                item.setData([], [])
            for item in (self.points, self.starts, self.selected_point):
                item.setData([], [])
            return
        index = min(index, len(traj) - 1)
        x, y = polylines(traj[:index + 1].transpose(1, 0, 2))
        self.lines.setData(x, y)
        self.starts.setData(pos=traj[0])
        self.points.setData(pos=traj[index])
        self.chain_ellipse.setData(*ellipse(traj[index]))
        if selected is not None and selected < traj.shape[1]:
            path = traj[:, selected]
            self.selected_line.setData(path[:, 0], path[:, 1])
            self.selected_point.setData(pos=path[index:index + 1])
        else:
            self.selected_line.setData([], [])
            self.selected_point.setData([], [])

    # --- interpolation paths ---------------------------------------------------------------
    def add_path(self, z_before: np.ndarray, z_after: np.ndarray) -> None:
        """An interpolation: (points, K) codes before and after the chain steps."""
        self.paths.append((np.asarray(z_before), np.asarray(z_after)))
        self._draw_paths()

    def clear_paths(self) -> None:
        self.paths = []
        self._draw_paths()

    def _draw_paths(self) -> None:
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
