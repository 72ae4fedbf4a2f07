"""A second run's chains beside the grid, from the same z0 (issue 21 §7: two runs side by side).

The partner run follows the chain view: when the chain starts over it starts from the same
codes z0 (whatever drew them), and when the chain steps it catches up to the same t, in a job
of its own with its own lock and random stream. Its frames show as a panel beside the grid.
"""
from __future__ import annotations

import threading

import numpy as np
from PyQt6.QtCore import QObject

from ..tasks.chains import ChainHistory, chain_task
from ..tasks.loading import load_run_task
from .mosaic import Panel, as_grid


class ChainPartner(QObject):
    """The run shown beside the chain view's grid (None: no partner)."""

    def __init__(self, session, chain_view, parent=None):
        super().__init__(parent)
        self.session, self.chain_view = session, chain_view
        self.run = None
        self.lock = threading.RLock()
        self.history = ChainHistory()
        self.chain_id = None  # the chain view's chain this history follows
        self.job = None
        chain_view.partner = self
        chain_view.changed.connect(self.follow)
        session.run_changed.connect(lambda _run: self.set_run(self.run))  # checked again

    # --- choosing ----------------------------------------------------------------------------
    def open(self, path) -> None:
        """Load the run folder ``path`` (in a worker) and show its chains beside the grid."""
        self.session.jobs.start("Open comparison run", load_run_task, host=self.session.host,
                                path=path, model=None, device=self.session.device,
                                key="partner-run", on_return=self.set_run)

    def set_run(self, run) -> None:
        main = self.session.run
        if run is not None and main is not None and \
                run.model.latent_dim != main.model.latent_dim:
            self.session.message.emit(
                f"Cannot show {run.name} beside {main.name}: their latent sizes differ "
                f"({run.model.latent_dim} and {main.model.latent_dim}), so no z0 is shared")
            run = None
        self.run = run
        self._restart()

    def clear(self) -> None:
        self.set_run(None)

    # --- following the chain -------------------------------------------------------------------
    def _restart(self) -> None:
        if self.job is not None:
            self.job.abort()
            self.job = None
        self.history.clear()
        self.chain_id = None
        self.chain_view.schedule()  # the panel goes, or comes back as the partner catches up
        self.follow()

    def follow(self) -> None:
        """Start from the chain's z0, or catch up with its last t."""
        cv, h = self.chain_view, self.chain_view.history
        if self.run is None or self.session.run is None or not len(h) or h.t[0] != 0:
            return
        if self.chain_id != cv.chain_id:
            if self.job is not None:
                self.job.abort()
                self.job = None
            self.history.clear()
            self.chain_id = cv.chain_id
            self._launch(h.z[0], h.last_t, start=True)
        elif self.job is None and self.history.last_t < h.last_t:
            self._launch(self.history.z[-1], h.last_t - self.history.last_t, start=False)

    def _launch(self, z0: np.ndarray, steps: int, start: bool) -> None:
        run, chain_id = self.run, self.chain_id
        mode = self.chain_view.settings.bn_mode
        mode = mode if run.has_bn_stats(mode) else "batch"
        noise = run.model.noise_std if run.denoising else None
        self.job = self.session.jobs.start(
            "Comparison chain", chain_task, run=run, lock=self.lock, chain_id=chain_id,
            z0=z0, n=len(z0), steps=steps, start_t=0 if start else self.history.last_t,
            bn_mode=mode, noise_std=noise, generator=run.generator(self.chain_view.chain_seed),
            start_frame=start, key="partner-chain", on_yield=self._frame,
            on_finish=lambda: self._done(chain_id))

    def _frame(self, frame) -> None:
        if frame.chain_id == self.chain_id and (not len(self.history)
                                                or frame.t > self.history.last_t):
            self.history.append(frame, None)
            self.chain_view.schedule()

    def _done(self, chain_id) -> None:
        if chain_id == self.chain_id and not self.session.jobs.running("partner-chain"):
            self.job = None
            self.follow()  # the chain went on meanwhile

    # --- showing -------------------------------------------------------------------------------
    def panels(self, t: int, cols: int) -> list[Panel]:
        """The partner's frame at step ``t`` (or the latest before it) as a grid panel."""
        h = self.history
        if self.run is None or not len(h):
            return []
        k = max((i for i, ti in enumerate(h.t) if ti <= t), default=0)
        return [Panel(as_grid(h.x[k], cols), f"{self.run.name} · t = {h.t[k]}", h.n)]
