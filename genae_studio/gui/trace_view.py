"""The MCMC trace view: one statistic of each of the grid's chains against t (the latent norm,
the latent view's first axis or the data score), with ESS, R-hat and nested R-hat from
genae_studio.evaluation.diagnostics, computed in a worker when the chain stops."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..tasks.samplers import STATISTICS, diagnostics_task, trace_of
from . import theme

SHOWN = 8  # chains drawn by default (the diagnostics use all of the grid's chains)
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


class TraceView(QWidget):
    """Traces of the grid's chains and their diagnostics."""

    def __init__(self, session, chain_view, parent=None):
        super().__init__(parent)
        self.session, self.chain_view = session, chain_view
        self.diagnostics: dict | None = None
        self._build()
        chain_view.changed.connect(self.redraw)
        chain_view.chain_finished.connect(self.diagnose)
        chain_view.chains_reset.connect(self._reset)

    def _build(self) -> None:
        self.statistic_combo = QComboBox()
        for key, text in STATISTICS.items():
            self.statistic_combo.addItem(text, key)
        self.statistic_combo.setToolTip("The scalar summary of each chain's code z_t drawn "
                                        "against t")
        self.statistic_combo.currentIndexChanged.connect(lambda _i: self._statistic_changed())
        self.shown_spin = QSpinBox(minimum=1, maximum=64, value=SHOWN, suffix=" chains shown")
        self.shown_spin.setToolTip("Chains drawn (the diagnostics use every chain of the grid; "
                                   "a selected chain is drawn thick)")
        self.shown_spin.valueChanged.connect(lambda _n: self.redraw())
        top = QHBoxLayout()
        top.addWidget(self.statistic_combo)
        top.addWidget(self.shown_spin)
        top.addStretch(1)
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "chain step t")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setMinimumHeight(160)
        self.mean_curve = self.plot.plot([], [], pen=pg.mkPen((128, 128, 128), width=2,
                                                               style=Qt.PenStyle.DashLine))
        self.curves: list = []
        theme.style_view(self.plot)
        self.diag_label = theme.dim(QLabel(wordWrap=True))
        self.diag_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.diag_label)
        self.diag_label.setText("Diagnostics appear when the chain stops (ESS, R-hat).")

    @property
    def statistic(self) -> str:
        return self.statistic_combo.currentData()

    def trace(self) -> np.ndarray | None:
        """(chains, steps) of the chosen statistic of the grid's stored chain, or None."""
        return trace_of(self.chain_view.history, self.statistic)

    def _reset(self) -> None:
        self.diagnostics = None
        self.session.jobs.cancel("trace-diagnostics")
        self.diag_label.setText("Diagnostics appear when the chain stops (ESS, R-hat).")

    def redraw(self) -> None:
        if not self.isVisible():
            return
        trace, t = self.trace(), np.asarray(self.chain_view.history.t, float)
        shown = 0 if trace is None else min(self.shown_spin.value(), len(trace))
        selected = self.chain_view.selected
        while len(self.curves) < shown:
            self.curves.append(self.plot.plot([], []))
        for k, curve in enumerate(self.curves):
            if k < shown:
                chain = selected if k == 0 and selected is not None else k
                width = 3 if chain == selected else 1
                curve.setPen(pg.mkPen(COLOURS[chain % len(COLOURS)], width=width))
                curve.setData(t, trace[chain])
            else:
                curve.setData([], [])
        self.mean_curve.setData(t if trace is not None else [],
                                trace.mean(axis=0) if trace is not None else [])
        self.plot.setTitle(f"{STATISTICS[self.statistic]} of {shown} of "
                           f"{0 if trace is None else len(trace)} chains; dashed: the mean "
                           "over all", size="9pt")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.redraw()

    def _statistic_changed(self) -> None:
        self.redraw()
        if self.diagnostics is not None and self.statistic not in self.diagnostics["summaries"]:
            self.diagnose()  # e.g. the data score arrived after the chain stopped
        else:
            self._show_diagnostics()

    def diagnose(self) -> None:
        """ESS, R-hat and nested R-hat of every available statistic, in a worker."""
        cv = self.chain_view
        traces = {k: tr for k in STATISTICS if (tr := trace_of(cv.history, k)) is not None}
        if not traces or len(cv.history) < 2:
            return
        chain_id = cv.chain_id
        self.session.jobs.start("Trace diagnostics", diagnostics_task, traces=traces,
                                bn_mode=cv.step_mode, key="trace-diagnostics",
                                on_return=lambda d: self._diagnosed(chain_id, d))

    def _diagnosed(self, chain_id: int, diagnostics: dict) -> None:
        if chain_id != self.chain_view.chain_id:
            return
        self.diagnostics = diagnostics
        self._show_diagnostics()

    def _show_diagnostics(self) -> None:
        d = self.diagnostics
        if d is None:
            return
        s = d["summaries"].get(self.statistic)
        if s is None:
            self.diag_label.setText(f"{STATISTICS[self.statistic]}: not available yet (it "
                                    "needs the latent view's fit).")
            return
        nested = f"{s['rhat_nested']:.3f}" if s["rhat_nested"] is not None else (
            "none: the chains share one batch-norm batch (one superchain)"
            if d["superchains"] == 1 else "not needed: the chains are independent")
        self.diag_label.setText(
            f"{d['chains']} chains × {d['draws']} stored steps, from "
            f"{self.chain_view.start_label}. {STATISTICS[self.statistic]}: "
            f"ESS {_number(s['ess'])}, R-hat {_number(s['rhat'])}, nested R-hat {nested}; "
            f"correlation of the last step with the start {_number(s['start_correlation'])}. "
            f"ESS: {d['ess_method'].split(':')[0]}.")
        self.diag_label.setToolTip(f"ESS: {d['ess_method']}\n\nNested R-hat: "
                                   f"{d.get('rhat_nested_note', 'computed per batch')}")


def _number(value) -> str:
    return "–" if value is None else f"{value:.4g}"
