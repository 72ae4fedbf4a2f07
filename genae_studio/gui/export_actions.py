"""The main window's exports, as a mixin of MainWindow: ask for a file name (a name without a
suffix gets the chosen filter's), write it atomically (gui.export), report the result."""
from __future__ import annotations

import re
from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from . import export

PLOT_FILTERS = "SVG (*.svg);;PNG (*.png)"


class ExportActions:
    """File ▸ Export of MainWindow (which provides settings, the views, log and errors)."""

    def _ask(self, title: str, name: str, filt: str) -> Path | None:
        folder = str(self.settings.value("export_dir", str(Path.home())))
        path, chosen = QFileDialog.getSaveFileName(self, title, str(Path(folder) / name), filt)
        if not path:
            return None
        path = with_suffix(Path(path), chosen or filt)
        self.settings.setValue("export_dir", str(path.parent))
        return path

    def _export(self, title: str, name: str, filt: str, write) -> None:
        path = self._ask(title, name, filt)
        if path is None:
            return
        try:
            write(path)
        except (OSError, ValueError) as exc:
            self.report_error("Export", exc)
            return
        self.statusBar().showMessage(f"Wrote {path}", 5000)
        self.log(f"wrote {path} ({title[len('Export '):]})")

    def export_grid(self) -> None:
        mosaic = self.chain_view.grid.mosaic
        if mosaic is None:
            self.report_error("Export", ValueError("no grid to export yet"))
            return
        self._export("Export grid", f"chain-t{self.chain_view.t}.png", "PNG (*.png)",
                     lambda p: export.save_mosaic(mosaic, p))

    def export_strip(self) -> None:
        mosaic = self.chain_view.strip.mosaic
        if mosaic is None or not self.chain_view.strip.isVisible():
            self.report_error("Export", ValueError("click a sample first to show its strip"))
            return
        self._export("Export strip", f"chain-{self.chain_view.selected}.png", "PNG (*.png)",
                     lambda p: export.save_mosaic(mosaic, p))

    def export_latent(self) -> None:
        self._export("Export latent plot", "latent.svg", PLOT_FILTERS,
                     lambda p: export.save_plot(self.latent_view.plot, p))

    def export_metrics(self) -> None:
        self._export("Export chain metrics plot", "chain-metrics.svg", PLOT_FILTERS,
                     lambda p: export.save_plot(self.metrics_panel.plots, p))

    def export_losses(self) -> None:
        self._export("Export training losses plot", "losses.svg", PLOT_FILTERS,
                     lambda p: export.save_plot(self.train_panel.plot, p))

    def export_interp(self) -> None:
        mosaic = self.interp_panel.view.mosaic
        if mosaic is None:
            self.report_error("Export", ValueError("no interpolation yet"))
            return
        self._export("Export interpolation", "interpolation.png", "PNG (*.png)",
                     lambda p: export.save_mosaic(mosaic, p))

    def export_gif(self, selected: bool = False) -> None:
        """All chains (one grid per frame), or only the selected chain."""
        cv = self.chain_view
        if selected and cv.selected is None:
            self.report_error("Export", ValueError("click a sample first to select its chain"))
            return
        chain = cv.selected if selected else None
        name = f"chain-{chain}.gif" if selected else "chains.gif"
        what = f"only chain {chain}" if selected else f"all {cv.history.n} chains"
        self._export(f"Export {what} as GIF", name, "GIF (*.gif)",
                     lambda p: export.save_chain_gif(cv.history, p, chain=chain))

    def export_npz(self) -> None:
        self._export("Export chain arrays", "chain.npz", "NumPy (*.npz)",
                     lambda p: export.save_chain_npz(self.chain_view.history, p))


def with_suffix(path: Path, filters: str) -> Path:
    """``path`` with the first suffix of the chosen filter ("PNG (*.png)") when it has none."""
    if path.suffix:
        return path
    match = re.search(r"\*(\.[\w.-]+)", filters)
    return path.with_suffix(match.group(1)) if match else path
