"""File ▸ Export: ask for a file name (a name without a suffix gets the chosen filter's), write
it in a worker (genae_studio.tasks.export: atomic, with progress; Esc or the status bar's ✕
cancels) and report the result. Plots are rendered on the GUI thread (Qt paints only there) and
only their bytes are written by the worker.

One object the main window holds (``window.exports``), given what it needs at construction.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QFileDialog, QWidget

from ..tasks import export as tasks
from .export import plot_bytes
from .workers import Job, Jobs

PLOT_FILTERS = "SVG (*.svg);;PNG (*.png)"


class Exports:
    """The window's exports; each runs as a job named "Export"."""

    def __init__(self, *, parent: QWidget, settings: QSettings, jobs: Jobs, chain_view,
                 plots: dict[str, QWidget], interpolation_view,
                 report_error: Callable[[str, Exception], None], log: Callable[[str], None],
                 show_message: Callable[[str], None]):
        self.parent, self.settings, self.jobs = parent, settings, jobs
        self.chain_view, self.plots, self.interpolation_view = chain_view, plots, \
            interpolation_view
        self.report_error, self.log, self.show_message = report_error, log, show_message
        self.running: list[Job] = []

    def ask(self, title: str, name: str, filt: str) -> Path | None:
        """The file to write, from a save dialog (None: the user cancelled)."""
        folder = str(self.settings.value("export_dir", str(Path.home())))
        path, chosen = QFileDialog.getSaveFileName(self.parent, title, str(Path(folder) / name),
                                                   filt)
        if not path:
            return None
        path = with_suffix(Path(path), chosen or filt)
        self.settings.setValue("export_dir", str(path.parent))
        return path

    def _refuse(self, text: str) -> None:
        self.report_error("Export", ValueError(text))

    def _write(self, title: str, name: str, filt: str, task, **kwargs) -> Job | None:
        """Ask for the file, then run ``task(path=..., **kwargs)`` in a worker; ``kwargs``
        may be a callable of the path (a plot rendered once the suffix is known)."""
        path = self.ask(title, name, filt)
        if path is None:
            return None
        try:
            args = kwargs["render"](path) if "render" in kwargs else kwargs
        except (OSError, ValueError) as exc:
            self.report_error("Export", exc)
            return None
        what = title[len("Export "):]
        job = self.jobs.start("Export", task, path=path, **args, key=f"export:{path}",
                              on_return=lambda p: self._done(p, what),
                              on_finish=lambda: self._finished(job))
        self.running.append(job)
        return job

    def _done(self, path: Path, what: str) -> None:
        self.show_message(f"Wrote {path}")
        self.log(f"wrote {path} ({what})")

    def _finished(self, job: Job) -> None:
        if job in self.running:
            self.running.remove(job)

    def cancel(self) -> None:
        for job in self.running:
            job.abort()

    # --- the exports ---------------------------------------------------------------------------
    def grid(self) -> Job | None:
        cv = self.chain_view
        if cv.grid.mosaic is None:
            return self._refuse("no grid to export yet")
        return self._write("Export grid", f"chain-t{cv.t}.png", "PNG (*.png)", tasks.png_task,
                           mosaic=cv.grid.mosaic.copy())

    def strip(self) -> Job | None:
        cv = self.chain_view
        if cv.strip.mosaic is None or not cv.strip.isVisible():
            return self._refuse("click a sample first to show its strip")
        return self._write("Export strip", f"chain-{cv.selected}.png", "PNG (*.png)",
                           tasks.png_task, mosaic=cv.strip.mosaic.copy())

    def interpolation(self) -> Job | None:
        mosaic = self.interpolation_view.mosaic
        if mosaic is None:
            return self._refuse("no interpolation yet")
        return self._write("Export interpolation", "interpolation.png", "PNG (*.png)",
                           tasks.png_task, mosaic=mosaic.copy())

    def plot(self, which: str) -> Job | None:
        """One of the plots ("latent", "metrics", "losses") as SVG or PNG."""
        widget = self.plots[which]
        names = {"latent": ("latent plot", "latent.svg"),
                 "metrics": ("chain metrics plot", "chain-metrics.svg"),
                 "losses": ("training losses plot", "losses.svg")}
        what, name = names[which]
        return self._write(f"Export {what}", name, PLOT_FILTERS, tasks.bytes_task,
                           render=lambda p: {"data": plot_bytes(widget, p.suffix, p.stem)})

    def metrics_table(self, rows: list[dict]) -> Job | None:
        """The chain metrics' numbers (``rows``: MetricsPanel.table()) as CSV or JSON."""
        if not rows:
            return self._refuse("no numbers to export yet: measure the chain metrics first (M)")
        return self._write("Export chain metrics numbers", "chain-metrics.csv",
                           "CSV (*.csv);;JSON (*.json)", tasks.table_task, rows=rows)

    def gif(self, selected: bool = False) -> Job | None:
        """All chains (one grid per frame), or only the selected chain."""
        cv = self.chain_view
        if selected and cv.selected is None:
            return self._refuse("click a sample first to select its chain")
        if not len(cv.history):
            return self._refuse("no chain to export yet")
        chain = cv.selected if selected else None
        name = f"chain-{chain}.gif" if selected else "chains.gif"
        what = f"only chain {chain}" if selected else f"all {cv.history.n} chains"
        h = cv.history
        return self._write(f"Export {what} as GIF", name, "GIF (*.gif)", tasks.gif_task,
                           t=list(h.t), x=list(h.x), chain=chain)

    def npz(self) -> Job | None:
        h = self.chain_view.history
        if not len(h):
            return self._refuse("no chain to export yet")
        return self._write("Export chain arrays", "chain.npz", "NumPy (*.npz)", tasks.npz_task,
                           t=list(h.t), x=list(h.x), z=list(h.z))


def with_suffix(path: Path, filters: str) -> Path:
    """``path`` with the first suffix of the chosen filter ("PNG (*.png)") when it has none."""
    if path.suffix:
        return path
    match = re.search(r"\*(\.[\w.-]+)", filters)
    return path.with_suffix(match.group(1)) if match else path
