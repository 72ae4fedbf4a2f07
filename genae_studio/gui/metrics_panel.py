"""Chain metrics against t: latent MMD to P^(Z) and to P(Z), and the Frechet distance.

The same measures as ``genae-studio eval`` (genae_studio.evaluate), on the chains in the chain
view. A reference (codes and features of held-out images, and the dataset's feature network,
trained once and cached) is built in a worker per run, dataset and batch-norm mode; each time a
chain job ends, the stored steps are measured in another worker and the curves redrawn.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

REFERENCE_N = 500  # held-out images the chains are compared with
MAX_POINTS = 40  # stored steps measured per update (evenly spaced, always the first and last)
FEATURE_STEPS = 600  # as eval's default: the same cached feature network
CURVES = (("mmd_data", (31, 119, 180)), ("mmd_prior", (150, 150, 150)),
          ("fd", (230, 110, 20)))  # MMD² to P^(Z), MMD² to P(Z), Frechet distance


def reference_job(job, run, lock, host, data, bn_mode: str, n: int | None = None,
                  feature_steps: int | None = None):
    """The evaluate.Reference of ``data``'s held-out images for ``run``."""
    from ..data import resolve_dataset
    from ..evaluate import build_reference
    from ..features import FeatureSettings, feature_extractor

    n, feature_steps = n or REFERENCE_N, feature_steps or FEATURE_STEPS
    job.progress(0, 0, f"feature network for {data.name} (trained once, then cached)")
    train_set = resolve_dataset(data.name, host.datasets, split="train",
                                image_size=run.model.image_size)
    extractor = feature_extractor(train_set, FeatureSettings(steps=feature_steps),
                                  heldout=data.dataset, device=run.device)
    job.check()
    job.progress(0, 0, f"encoding {min(n, len(data.dataset))} held-out images")
    with lock:
        return build_reference(run, data.dataset, n=n, extractor=extractor, bn_mode=bn_mode)


def measure_job(job, reference, t: list[int], z: list[np.ndarray], x: list[np.ndarray]):
    """Yield (t, row of evaluate.COLUMNS) for each given step (x uint8)."""
    from ..evaluate import step_metrics

    for k, (tk, zk, xk) in enumerate(zip(t, z, x, strict=True)):
        job.check()
        job.progress(k, len(t), f"measuring step {tk}")
        yield tk, step_metrics(reference, zk, xk)


def pick_steps(count: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` stored steps, evenly spaced, first and last included."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))


class MetricsPanel(QWidget):
    """Latent MMD² and Frechet distance of the chain view's stored steps, against t."""

    def __init__(self, session, chain_view, parent=None):
        super().__init__(parent)
        self.session, self.chain_view = session, chain_view
        self.reference = None
        self.reference_key = None
        self.values: dict[int, dict] = {}  # t -> row, for the current chain
        self.generation = 0  # bumped when the curves are cleared: late results are dropped
        self.chain_id = None
        self.job = None
        self.building = None  # the key of the reference being built
        self._build()
        session.run_changed.connect(lambda _run: self.invalidate())
        session.data_changed.connect(lambda _data: (self.invalidate(), self._chain_finished()))
        chain_view.bn_combo.currentTextChanged.connect(lambda _mode: self.invalidate())
        chain_view.chain_finished.connect(self._chain_finished)
        chain_view.changed.connect(self._move_cursor)

    def _build(self) -> None:
        self.live_box = QCheckBox("Measure after each run", checked=True)
        self.live_box.setToolTip("Measure the stored steps whenever the chain stops")
        self.measure_button = QPushButton("Measure now")
        self.measure_button.clicked.connect(self.measure)
        top = QHBoxLayout()
        top.addWidget(self.live_box)
        top.addStretch(1)
        top.addWidget(self.measure_button)
        self.info = QLabel(wordWrap=True)
        self.info.setStyleSheet("color: #555")
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.plots.setMinimumHeight(230)
        self.mmd_plot = self.plots.addPlot(row=0, col=0)
        self.fd_plot = self.plots.addPlot(row=1, col=0)
        self.fd_plot.setXLink(self.mmd_plot)
        self.curves = {}
        titles = ((self.mmd_plot, "latent MMD²: <span style='color:#1f77b4'>to P^(Z), "
                   "encoded data</span>, <span style='color:#969696'>to P(Z), prior</span>"),
                  (self.fd_plot, "<span style='color:#e66e14'>Frechet distance</span> to "
                   "held-out images"))
        for plot, title in titles:
            plot.setTitle(title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.getAxis("left").setWidth(48)
        self.fd_plot.setLabel("bottom", "chain step t")
        for key, colour in CURVES:
            plot = self.fd_plot if key == "fd" else self.mmd_plot
            self.curves[key] = plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o",
                                         symbolSize=5, symbolBrush=colour, symbolPen=None)
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 40, 40), style=
                                                               Qt.PenStyle.DashLine))
                        for _ in range(2)]
        self.mmd_plot.addItem(self.cursors[0])
        self.fd_plot.addItem(self.cursors[1])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(self.plots, 1)
        self.setMinimumHeight(260)
        self._say("Measures each time a chain run stops, against held-out data (as "
                  "genae-studio eval does). The first time per dataset it trains a small "
                  "feature network (cached).")

    def _say(self, text: str) -> None:
        self.info.setText(text)

    # --- state ---------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """The run, data or batch-norm mode changed: the reference and curves are stale."""
        self.session.jobs.cancel("metrics")
        self.session.jobs.cancel("metrics-ref")
        self.reference = self.reference_key = self.building = None
        self.clear()

    def clear(self) -> None:
        self.generation += 1
        self.values = {}
        for curve in self.curves.values():
            curve.setData([], [])

    def _key(self):
        s = self.session
        if s.run is None or s.data is None:
            return None
        return (id(s.run), s.data.name, self.chain_view.bn_combo.currentText())

    # --- measuring -----------------------------------------------------------------------------
    def _chain_finished(self) -> None:
        cv = self.chain_view
        if cv.chain_id != self.chain_id:  # a new chain: its curves start empty
            self.clear()
            self.chain_id = cv.chain_id
        # Not for step 0 alone: opening a run must not start the feature network's training.
        if self.live_box.isChecked() and self.isVisible() and len(cv.history) > 1:
            self.measure()

    def measure(self) -> None:
        """Measure the stored steps (building the reference first if needed)."""
        s, cv = self.session, self.chain_view
        key = self._key()
        if key is None or not len(cv.history):
            self._say("Nothing to measure: open a run and its data, then run a chain.")
            return
        if self.reference is None or self.reference_key != key:
            if self.building == key:
                return  # measures when the reference is ready
            self.building = key
            self._say("Preparing the reference: the dataset's feature network (trained once, "
                      "then cached) and held-out codes…")
            self.session.jobs.start(
                "Metrics reference", reference_job, s.run, s.lock, s.host, s.data, key[2],
                key="metrics-ref", on_return=lambda ref, key=key: self._reference_ready(ref, key),
                on_finish=lambda key=key: self._reference_done(key))
            return
        if cv.chain_id != self.chain_id:
            self.clear()
            self.chain_id = cv.chain_id
        h = cv.history
        todo = [i for i in pick_steps(len(h)) if h.t[i] not in self.values]
        if not todo:
            self._redraw()
            return
        self._say(f"Measuring {len(todo)} steps of {h.n} chains against "
                  f"{len(self.reference.codes)} held-out images…")
        generation = self.generation
        self.job = s.jobs.start(
            "Chain metrics", measure_job, self.reference, [h.t[i] for i in todo],
            [h.z[i] for i in todo], [h.x[i] for i in todo], key="metrics",
            on_yield=lambda item, g=generation: self._measured(item, g),
            on_finish=self._finished)

    def _reference_done(self, key) -> None:
        if self.building == key:
            self.building = None
        if self.reference is None and key == self._key():  # failed, not made stale
            self._say("No reference: see the log for why.")

    def _reference_ready(self, reference, key) -> None:
        if key != self._key():
            return  # the run, data or mode changed meanwhile
        self.reference, self.reference_key = reference, key
        self.measure()

    def _measured(self, item, generation) -> None:
        if generation != self.generation:
            return
        t, row = item
        self.values[t] = row
        self._redraw()

    def _finished(self) -> None:
        self.job = None
        if self.values:
            n = self.chain_view.history.n
            ref = len(self.reference.codes) if self.reference is not None else 0
            self._say(f"{n} chains vs {ref} held-out images (unbiased MMD², FD in the "
                      f"dataset's feature net){'; noisy: raise N' if n < 200 else ''}")

    def _redraw(self) -> None:
        ts = sorted(self.values)
        for key, curve in self.curves.items():
            pts = [(t, self.values[t][key]) for t in ts if self.values[t].get(key) is not None]
            curve.setData([p[0] for p in pts], [p[1] for p in pts])
        self._move_cursor()

    def _move_cursor(self) -> None:
        for line in self.cursors:
            line.setValue(self.chain_view.t)

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(t, values) currently drawn for one of "mmd_data", "mmd_prior", "fd"."""
        x, y = self.curves[key].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))
