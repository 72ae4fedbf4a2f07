"""Chain metrics against t: latent MMD² to P^(Z) and to P(Z), and the Frechet distance.

The same measures as ``genae-studio eval`` (genae_studio.evaluate), on a batch of chains of
the panel's own (default 500, in a worker), separate from the grid's N: at the grid's N = 64
the statistics are mostly noise. The panel's chains start from the grid's seed and are
measured at the grid's stored steps; each value gets a bootstrap 95% band over the chains
(genae_studio.confidence_bands).

The reference (codes and features of held-out images, and the dataset's feature network,
trained once and cached) is built in a worker per run, dataset and batch-norm mode
(genae_studio.tasks.chain_metrics). Training the feature network reports its progress and
stops within a batch when cancelled (Esc, the status bar's button, or closing the window).

The panel's chains start from the grid's sampler of z0 (the prior, the GMM, ...). *Keep*
keeps the current curves on the plots, so that another sampler's (or another run's) are drawn
over them, each with its legend entry and its values on hover. The *Traces* tab is the MCMC
trace view of the grid's own chains (genae_studio.gui.trace_view).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPalette
from PyQt6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..tasks.chain_metrics import ChainState, measure_task, pick_steps, reference_task
from . import theme
from .trace_view import TraceView

CHAINS_N = 500  # chains the panel measures (its own batch, not the grid's N)
CURVES = (("mmd_data", (31, 119, 180)), ("mmd_prior", (150, 150, 150)),
          ("fd", (230, 110, 20)))  # MMD² to P^(Z), MMD² to P(Z), Frechet distance
KEPT_COLOURS = [(44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                (227, 119, 194), (23, 190, 207)]  # kept curves, dashed, in this order
MAX_KEPT = len(KEPT_COLOURS)
OVERLAID = ("mmd_data", "fd")  # the kept measures (MMD² to the prior would crowd the plot)


class Kept:
    """Curves kept for comparison: their name (run · sampler), values per t and colour."""

    def __init__(self, name: str, values: dict, colour):
        self.name, self.values, self.colour = name, values, colour
        self.items: dict = {}  # measure -> the PlotDataItem drawing it


class MetricsPanel(QWidget):
    """Latent MMD² and Frechet distance against t, with bootstrap 95% bands."""

    def __init__(self, session, chain_view, parent=None):
        super().__init__(parent)
        self.session, self.chain_view = session, chain_view
        self.reference = None
        self.reference_key = None
        self.values: dict[int, dict] = {}  # t -> row, for the current chains
        self.bands: dict[int, dict] = {}  # t -> {column: (low, high)}
        self.chains: ChainState | None = None  # the panel's own chains
        self.chains_key = None
        self.measured_n = 0
        self.generation = 0  # bumped when the curves are cleared: late results are dropped
        self.chain_id = None
        self.job = None
        self.building = None  # the key of the reference being built
        self.measured_seed = 0
        self.measured_label = ""  # run · sampler of the current curves
        self.kept: list[Kept] = []
        self._progress_text = False
        self._notice = ""  # a cancellation the user has not yet seen replaced by results
        self._reference_error = None
        self._build()
        session.run_changed.connect(lambda _run: self.invalidate("another run was opened"))
        session.data_changed.connect(lambda _data: (self.invalidate("the data changed"),
                                                    self._chain_finished()))
        session.chain.events.bn_mode.connect(
            lambda mode: self.invalidate(f"the batch-norm mode changed to {mode}"))
        chain_view.chains_reset.connect(self._chains_reset)
        chain_view.chain_finished.connect(self._chain_finished)
        chain_view.changed.connect(self._move_cursor)
        session.jobs.changed.connect(self._jobs_changed)

    def _build(self) -> None:
        self.live_box = QCheckBox("after each run", checked=True)
        self.live_box.setToolTip("Measure whenever the grid's chain stops")
        self.n_spin = QSpinBox(minimum=10, maximum=5000, value=CHAINS_N, singleStep=100,
                               suffix=" chains")
        self.n_spin.setToolTip("Chains measured by this panel, in a batch of their own "
                               "(separate from the grid's N): more chains, narrower bands")
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Measure the chains now at the grid's stored steps [M]; "
                                       "while measuring: cancel [Esc]")
        self.measure_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.measure_button.clicked.connect(self._measure_clicked)
        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Keep these curves on the plots: measure another sampler "
                                    "(chain settings, z0) or another run, and both are drawn, "
                                    "with a legend and their values on hover")
        self.keep_button.clicked.connect(self.keep)
        self.clear_kept_button = QPushButton("Clear kept")
        self.clear_kept_button.setToolTip("Remove the kept curves")
        self.clear_kept_button.clicked.connect(self.clear_kept)
        for b in (self.keep_button, self.clear_kept_button):
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            b.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.n_spin)
        top.addWidget(self.live_box)
        top.addStretch(1)
        top.addWidget(self.keep_button)
        top.addWidget(self.clear_kept_button)
        top.addWidget(self.measure_button)
        self.info = theme.dim(QLabel(wordWrap=True))
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setToolTip("Bands: bootstrap 95% intervals over the measured chains")
        self.plots.setMinimumHeight(250)  # two readable plots, labels apart
        self.mmd_plot = self.plots.addPlot(row=0, col=0)
        self.fd_plot = self.plots.addPlot(row=1, col=0)
        self.fd_plot.setXLink(self.mmd_plot)
        self.curves, self.band_items = {}, {}
        titles = ((self.mmd_plot, "latent MMD²: <span style='color:#1f77b4'>to P^(Z), "
                   "data</span>, <span style='color:#969696'>to P(Z), prior</span>"),
                  (self.fd_plot, "<span style='color:#e66e14'>Frechet distance</span> to "
                   "held-out images"))
        for plot, title in titles:
            plot.setTitle(title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.getAxis("left").setWidth(52)
            plot.setMinimumHeight(110)
        self.fd_plot.setLabel("bottom", "chain step t")
        for plot in (self.mmd_plot, self.fd_plot):  # empty plots: t from 0, no "×0.001"
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.setXRange(0, 10, padding=0.02)
            plot.setYRange(0, 1, padding=0.05)
            plot.enableAutoRange()  # the values' range once there are values
        for key, colour in CURVES:
            plot = self.fd_plot if key == "fd" else self.mmd_plot
            low, high = pg.PlotDataItem([], [], pen=None), pg.PlotDataItem([], [], pen=None)
            band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(*colour, 60))
            for item in (low, high, band):
                plot.addItem(item)
            self.band_items[key] = (low, high, band)
            self.curves[key] = plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o",
                                         symbolSize=5, symbolBrush=colour, symbolPen=None)
        # One legend below both plots, never over the data: the current series (solid, the
        # titles give its colours) and each kept series (dashed, one colour on both plots).
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=2)
        self.plots.addItem(self.legend, row=2, col=0)
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 40, 40), style=
                                                               Qt.PenStyle.DashLine))
                        for _ in range(2)]
        self.mmd_plot.addItem(self.cursors[0])
        self.fd_plot.addItem(self.cursors[1])
        theme.style_view(self.plots)
        self.readout = theme.dim(QLabel(" "))  # the values at the t under the mouse
        self.readout.setToolTip("Hover a plot to read the values at the nearest measured t")
        self.plots.scene().sigMouseMoved.connect(self.hover)
        self.readout.setWordWrap(True)
        curves = QWidget()
        lay = QVBoxLayout(curves)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(self.plots, 1)
        lay.addWidget(self.readout)
        self.trace_view = TraceView(self.session, self.chain_view)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(curves, "Curves")
        self.tabs.addTab(self.trace_view, "Traces")
        self.tabs.setTabToolTip(1, "MCMC traces of the grid's chains, with ESS and R-hat")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.tabs)
        self._say("Measures its own chains when the grid's chain stops (M: now). The first "
                  "use per dataset trains a feature network (cached; Esc cancels).")

    def _say(self, text: str, progress: bool = False) -> None:
        """Show ``text``; ``progress``: it describes a running job and goes when it ends."""
        self.info.setText(text)
        self._progress_text = progress

    def _cancelled(self, what: str, why: str) -> None:
        """A running job of the old state was cancelled: said here and in the log; the
        notice stays ahead of a later job's progress until a measurement ends."""
        text = f"{what} cancelled: {why}."
        self._notice = text
        self._say(text + " Measure (M) starts again.")
        self.session.log.emit(f"chain metrics: {text}")

    # --- state ---------------------------------------------------------------------------------
    def invalidate(self, why: str = "") -> None:
        """The run, data or batch-norm mode changed: the reference and curves are stale; a
        running measurement or reference is cancelled, and that is said."""
        jobs = self.session.jobs
        if why and jobs.running("metrics"):
            self._cancelled("The measurement", why)
        elif why and jobs.running("metrics-ref"):
            self._cancelled("The reference", why)
        elif self.values and why:
            self._say(f"Curves cleared: {why}. Measure (M) measures again.")
        self.cancel()
        self.reference = self.reference_key = self.building = None
        self.clear()

    def cancel(self) -> None:
        self.session.jobs.cancel("metrics")
        self.session.jobs.cancel("metrics-ref")

    @property
    def busy(self) -> bool:
        jobs = self.session.jobs
        return jobs.running("metrics") or jobs.running("metrics-ref")

    def clear(self) -> None:
        self.generation += 1
        self.values, self.bands = {}, {}
        self.chains = self.chains_key = None
        if hasattr(self, "readout"):
            self.readout.setText(" ")
        self._redraw()

    def _key(self):
        s = self.session
        if s.run is None or s.data is None:
            return None
        return (id(s.run), s.data.name, s.chain.bn_mode)

    def _jobs_changed(self) -> None:
        self.measure_button.setText("Cancel" if self.busy else "Measure")
        jobs = self.session.jobs
        job = jobs.job("metrics-ref")
        if job is None:
            job = jobs.job("metrics")
        p = jobs.last_progress.get(job) if job is not None and not job.aborted else None
        notice = f"{self._notice} " if self._notice else ""
        if p is not None and p.text:
            self._say(notice + p.text[0].upper() + p.text[1:] + " … (Esc cancels)",
                      progress=True)
        elif not self.busy and self._progress_text:  # the job it described has ended
            if self.values:
                self._notice = ""
                self._say(self._summary())
            else:
                self._say(notice + "Measures its own chains when the grid's chain stops "
                          "(M: now).")

    # --- measuring -----------------------------------------------------------------------------
    def _chain_finished(self) -> None:
        cv = self.chain_view
        if cv.chain_id != self.chain_id:  # a new chain: its curves start empty
            self.clear()
            self.chain_id = cv.chain_id
        # Not for step 0 alone: opening a run must not start the feature network's training.
        if self.live_box.isChecked() and self.isVisible() and len(cv.history) > 1:
            self.measure()

    def _measure_clicked(self) -> None:
        if self.busy:
            self.cancel()
        else:
            self.measure()

    def measure(self) -> None:
        """Measure the panel's chains at the grid's stored steps (reference first if needed)."""
        s, cv = self.session, self.chain_view
        key = self._key()
        if key is None or not len(cv.history):
            self._say(self._nothing_to_measure())
            return
        if self.reference is None or self.reference_key != key:
            if self.building == key:
                return  # measures when the reference is ready
            self.building = key
            self._say("Preparing the reference: the dataset's feature network (trained once, "
                      "then cached) and held-out codes…", progress=True)
            s.with_bn(key[2], lambda: self.session.jobs.start(
                "Metrics reference", reference_task, run=s.run, lock=s.lock, host=s.host,
                data=s.data, bn_mode=key[2],
                key="metrics-ref", on_return=lambda ref: self._reference_ready(ref, key),
                on_error=lambda exc: setattr(self, "_reference_error", exc),
                on_finish=lambda: self._reference_done(key)),
                lambda: self._reference_done(key))
            return
        if cv.chain_id != self.chain_id:
            self.clear()
            self.chain_id = cv.chain_id
        run = s.run
        noise = s.chain.noise_std if run.denoising else None
        n, seed = self.n_spin.value(), cv.chain_seed
        start = cv.start  # the grid's sampler of z0 (None: N(0, I), drawn by the chain)
        chains_key = (key, n, seed, noise, cv.start_label)
        if chains_key != self.chains_key:
            self.clear()
            self.chains_key = chains_key
        h = cv.history
        wanted = [h.t[i] for i in pick_steps(len(h))]
        missing = [t for t in wanted if t not in self.values]
        if not missing:
            self._redraw()
            return
        state = self.chains
        if state is not None and state.t >= min(missing):
            state = None  # an earlier step is wanted: run the chains again from z0
        self._say(f"Measuring t = {', '.join(map(str, missing[:4]))}"
                  f"{'…' if len(missing) > 4 else ''} ({len(missing)} of the grid's stored steps) "
                  f"on {n} chains of this panel's own, against {len(self.reference.codes)} "
                  "held-out images…", progress=True)
        generation = self.generation
        self.job = s.jobs.start(
            "Chain metrics", measure_task, run=run, lock=s.lock, reference=self.reference,
            state=state, n=n, wanted=missing, bn_mode=s.chain.bn_mode,
            noise_std=noise, seed=seed, sampler=start.sampler if start is not None else None,
            key="metrics",
            on_yield=lambda item, g=generation: self._measured(item, g),
            on_finish=self._finished)

    def _reference_done(self, key) -> None:
        if self.building == key:
            self.building = None
        if self.reference is None and key == self._key():  # failed or cancelled
            error, self._reference_error = self._reference_error, None
            if error is not None:  # the window shows it and writes it to the log
                self._say(f"The reference failed: {error}. Measure (M) tries again.")
            else:
                self._say("The reference was cancelled (Esc). Measure (M) starts it again.")

    def _reference_ready(self, reference, key) -> None:
        if key != self._key():
            return  # the run, data or mode changed meanwhile
        self.reference, self.reference_key = reference, key
        self.measure()

    def _measured(self, item, generation) -> None:
        if generation != self.generation:
            return  # its chains were reset or its state changed: cancelled, and said so
        if isinstance(item, ChainState):
            self.chains = item
            return
        self.values[item.t] = item.row
        self.bands[item.t] = item.bands
        self.measured_n = item.n
        self.measured_seed = self.chains_key[2] if self.chains_key else 0
        self.measured_label = self.series_name()
        self._redraw()

    def _finished(self) -> None:
        self.job = None
        if self.values:
            self._say(self._summary())

    def _summary(self) -> str:
        ref = len(self.reference.codes) if self.reference is not None else 0
        return (f"{self.measured_n} chains from {self.chain_view.start_label} (seed "
                f"{self.measured_seed}) vs {ref} held-out images: "
                "unbiased MMD², FD in the dataset's feature net; bands: bootstrap 95% over the "
                "chains")

    def _nothing_to_measure(self) -> str:
        s = self.session
        if s.run is None:
            return "Nothing to measure: no run is open."
        if s.data is None:
            return "Waiting for the held-out data to load; then Measure (M)."
        return "The chains have no step yet: Step (S) or Run (R), then Measure (M)."

    def _chains_reset(self) -> None:
        """Reset: the panel's chains start from the new seed; a measurement of the old ones
        is cancelled, and that is said."""
        if self.session.jobs.running("metrics"):
            self._cancelled("The measurement of the previous chains", "the chains were reset")
            self.session.jobs.cancel("metrics")
        self.clear()
        self.chain_id = self.chain_view.chain_id

    def _redraw(self) -> None:
        ts = sorted(self.values)
        for key, curve in self.curves.items():
            pts = [t for t in ts if self.values[t].get(key) is not None]
            curve.setData(pts, [self.values[t][key] for t in pts])
            low, high, _band = self.band_items[key]
            with_band = [t for t in pts if key in self.bands.get(t, {})]
            low.setData(with_band, [self.bands[t][key][0] for t in with_band])
            high.setData(with_band, [self.bands[t][key][1] for t in with_band])
        self._draw_kept()
        self._move_cursor()

    # --- kept curves: samplers and runs on the same axes -------------------------------------
    def series_name(self) -> str:
        """What the current curves are: run · sampler of z0."""
        run = self.session.run
        return f"{run.name if run is not None else '?'} · {self.chain_view.start_label}"

    def keep(self) -> None:
        """Keep the current curves (their MMD² to P^(Z) and FD) for comparison; the oldest
        kept curves go beyond MAX_KEPT."""
        if not self.values:
            return
        name = self.measured_label or self.series_name()
        self.kept = [k for k in self.kept if k.name != name]  # measured again: replaced
        if len(self.kept) >= MAX_KEPT:
            self._remove_items(self.kept.pop(0))
        used = {k.colour for k in self.kept}
        colour = next(c for c in KEPT_COLOURS if c not in used)
        values = {t: {k: row.get(k) for k in OVERLAID} for t, row in self.values.items()}
        self.kept.append(Kept(name, values, colour))
        self.session.log.emit(f"chain metrics: kept the curves of {name}")
        self._redraw()

    def clear_kept(self) -> None:
        for kept in self.kept:
            self._remove_items(kept)
        self.kept = []
        self._redraw()

    def _remove_items(self, kept: Kept) -> None:
        for key, item in kept.items.items():
            (self.fd_plot if key == "fd" else self.mmd_plot).removeItem(item)
        kept.items = {}

    def _draw_kept(self) -> None:
        """The kept curves (dashed) and the legends: current and kept series by name."""
        for kept in self.kept:
            for key in OVERLAID:
                plot = self.fd_plot if key == "fd" else self.mmd_plot
                if key not in kept.items:
                    kept.items[key] = plot.plot(
                        [], [], pen=pg.mkPen(kept.colour, width=2, style=Qt.PenStyle.DashLine),
                        symbol="t", symbolSize=6, symbolBrush=kept.colour, symbolPen=None)
                ts = sorted(t for t, row in kept.values.items() if row.get(key) is not None)
                kept.items[key].setData(ts, [kept.values[t][key] for t in ts])
        legend = self.legend
        legend.clear()
        if self.values:
            legend.addItem(self.curves["fd"], f"{self.measured_label or self.series_name()} "
                                              "(solid)")
        for kept in self.kept:
            legend.addItem(kept.items["fd"], kept.name)
        pal = theme.palette(self)
        theme.style_legend(legend, pal.color(QPalette.ColorRole.Base),
                           pal.color(QPalette.ColorRole.Text))
        self.keep_button.setEnabled(bool(self.values))
        self.clear_kept_button.setEnabled(bool(self.kept))

    def legend_names(self) -> list[str]:
        """The names in the legend below the plots, in order."""
        return [label.text for _sample, label in self.legend.items]

    def kept_curve(self, name: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(t, values) drawn for the kept series ``name`` and measure ``key``."""
        kept = next(k for k in self.kept if k.name == name)
        x, y = kept.items[key].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def _move_cursor(self) -> None:
        """The grid's t on the plots; hidden (and the plots left alone) without values, and
        untouched unless t moved: a moved line repaints the plots and their axes."""
        shown = bool(self.values)
        t = self.chain_view.t
        for line in self.cursors:
            if line.isVisible() != shown:
                line.setVisible(shown)
            if shown and line.value() != t:
                line.setValue(t)

    def hover(self, scene_pos) -> None:
        """The values (and bands) at the measured t nearest to the mouse, below the plots."""
        if not self.values and not self.kept:
            return
        for plot in (self.mmd_plot, self.fd_plot):
            box = plot.getViewBox()
            if box.sceneBoundingRect().contains(scene_pos):
                self.readout.setText(self.readout_at(box.mapSceneToView(scene_pos).x()))
                return

    def readout_at(self, x: float) -> str:
        """The values at the measured t nearest to ``x``: the current curves (with bands),
        then each kept series at its own nearest t."""
        lines = []
        if self.values:
            t = min(self.values, key=lambda v: abs(v - x))
            parts = []
            for key, name in (("mmd_data", "MMD² to P^(Z)"), ("mmd_prior", "MMD² to P(Z)"),
                              ("fd", "FD")):
                value = self.values[t].get(key)
                if value is None:
                    continue
                band = self.bands.get(t, {}).get(key)
                parts.append(f"{name} {value:.4g}" + (f" [{band[0]:.4g}, {band[1]:.4g}]"
                                                      if band else ""))
            lines.append(f"t = {t}: " + "; ".join(parts)
                         + (f" ({self.measured_label})" if self.kept else ""))
        for kept in self.kept:
            t = min(kept.values, key=lambda v: abs(v - x))
            row = kept.values[t]
            parts = [f"{name} {row[key]:.4g}" for key, name in
                     (("mmd_data", "MMD² to P^(Z)"), ("fd", "FD")) if row.get(key) is not None]
            lines.append(f"{kept.name}, t = {t}: " + "; ".join(parts))
        return "\n".join(lines)

    def table(self) -> list[dict]:
        """The measured numbers, one row per t: each measure and its bootstrap 95% band
        (``series``: run · sampler), then the kept series' rows (their MMD² to P^(Z) and FD)."""
        rows = []
        for t in sorted(self.values):
            row = {"series": self.measured_label, "t": int(t), "chains": self.measured_n,
                   "seed": self.measured_seed}
            for key, value in self.values[t].items():
                row[key] = None if value is None else float(value)
            for key, (low, high) in self.bands.get(t, {}).items():
                row[f"{key}_low"], row[f"{key}_high"] = float(low), float(high)
            rows.append(row)
        for kept in self.kept:
            rows.extend({"series": kept.name, "t": int(t), "kept": True,
                         **{k: None if v is None else float(v) for k, v in row.items()}}
                        for t, row in sorted(kept.values.items()))
        return rows

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(t, values) currently drawn for one of "mmd_data", "mmd_prior", "fd"."""
        x, y = self.curves[key].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def band(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, low, high) of the drawn band of one curve."""
        low, high, _ = self.band_items[key]
        t, lo = low.getData()
        _, hi = high.getData()
        return tuple(np.asarray(a if a is not None else []) for a in (t, lo, hi))
