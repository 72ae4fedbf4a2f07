"""The studio's main window: pickers, the chain view, docks, menus, status and errors."""
from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import GenaeError
from ..plugins import PluginHost
from ..runs import read_config
from . import export, theme
from .chain_view import ChainView
from .gallery import InterpolationPanel
from .latent_view import LatentView, fit_latent_job
from .metrics_panel import MetricsPanel
from .session import Session
from .status import ErrorBanner, JobStatus
from .train_panel import TrainPanel
from .workers import Jobs, call_soon

OPEN_FOLDER, OPEN_FILE = "Open folder…", "Open file…"
PLOT_FILTERS = "SVG (*.svg);;PNG (*.png)"


class MainWindow(QMainWindow):
    """Chain view in the middle; latent space and chain metrics on the right; interpolation,
    training and the log below."""

    def __init__(self, host: PluginHost, settings: QSettings | None = None, *,
                 checkpoint: Path | None = None, data: str | None = None,
                 device: str | None = None):
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.jobs = Jobs(self)
        self.session = Session(host, self.jobs, self)
        self.session.device = device or str(self.settings.value("device", "auto"))
        self.setWindowTitle("genae-studio")
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self._restore()
        for failure in host.failures:
            self.log(f"warning: {failure} (skipped)")
        if host.failures:
            self.banner.show_message("Skipped plugins: " + "; ".join(
                _escape(str(f)) for f in host.failures))
        call_soon(self, lambda: self._open_initial(checkpoint, data))

    # --- building --------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.session
        self.banner = ErrorBanner(self._show_log)
        self.chain_view = ChainView(s)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 0)
        lay.addWidget(self.banner)
        lay.addWidget(self.chain_view, 1)
        self.setCentralWidget(central)

        self.latent_view = LatentView()
        _polish_latent_view(self.latent_view)
        self.interp_panel = InterpolationPanel(s, lambda: self.chain_view.bn_combo.currentText())
        self.train_panel = TrainPanel(s)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(5000)
        self.metrics_panel = MetricsPanel(s, self.chain_view)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.latent_dock = self._dock("Latent space", self.latent_view,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.metrics_dock = self._dock("Chain metrics", self.metrics_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.interp_dock = self._dock("Interpolation", self.interp_panel,
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.train_dock = self._dock("Training", _scrolling(self.train_panel),
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self.log_dock = self._dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.latent_dock, self.metrics_dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.latent_dock, self.train_dock)
        self.tabifyDockWidget(self.interp_dock, self.log_dock)
        self.interp_dock.raise_()
        self.latent_dock.raise_()
        # The docks' sizes follow the window's: the chain grid is square and needs the
        # height more than the width; on a short screen (1280 x 800) it keeps most of it.
        width, height = default_size(self.screen())
        self.resize(width, height)
        self.resizeDocks([self.latent_dock], [min(620, max(440, int(0.42 * width)))],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.latent_dock, self.metrics_dock], [520, 380],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.interp_dock], [270 if height >= 900 else 215],
                         Qt.Orientation.Vertical)
        self._default_state = self.saveState()

        self._build_toolbar()
        self._build_menus()
        self.status_label = QLabel()
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.job_status = JobStatus(self.jobs)
        self.statusBar().addPermanentWidget(self.job_status)
        # The chain view, not an editor, holds the focus at first: single-key shortcuts work.
        self.chain_view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFocusProxy(self.chain_view)
        for button in self.findChildren(QPushButton) + self.findChildren(QToolButton):
            # A click leaves the focus where it was; a button that disables itself (Run,
            # Start training) would otherwise hand it to the next editor. Tab still reaches it.
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Pickers")
        bar.setObjectName("pickers")
        bar.setMovable(False)
        self.model_combo = QComboBox(minimumContentsLength=10, placeholderText="(no run)")
        self.model_combo.setToolTip("Model: opens its bundled run (every loaded plugin's "
                                    "models are listed)")
        self._fill_models()
        self.model_combo.activated.connect(
            lambda i: self._model_picked(self.model_combo.itemText(i)))
        self.data_combo = QComboBox(minimumContentsLength=14)
        self.data_combo.setToolTip("Held-out data for the latent view and the gallery")
        self.data_combo.addItems([n for n, spec in self.session.host.datasets.items()
                                  if spec.detect is None])
        self.data_combo.insertSeparator(self.data_combo.count())
        self.data_combo.addItems([OPEN_FOLDER, OPEN_FILE])
        self.data_combo.activated.connect(
            lambda i: self._data_picked(self.data_combo.itemText(i)))
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.device_combo.setToolTip("Where models run: auto picks cuda, then mps, then cpu")
        if not _cuda_available():
            self.device_combo.model().item(2).setEnabled(False)
            self.device_combo.setItemData(2, "CUDA is not available here",
                                          Qt.ItemDataRole.ToolTipRole)
        self.device_combo.setCurrentText(self.session.device)
        self.device_combo.activated.connect(
            lambda i: self.session.set_device(self.device_combo.itemText(i)))
        self.open_action = QAction("Open run…", self, shortcut=QKeySequence.StandardKey.Open,
                                   toolTip="Open a run folder (or drop one onto the window)",
                                   triggered=self.open_run_dialog)
        for label, widget in (("Model ", self.model_combo), (None, self.open_action),
                              ("  Data ", self.data_combo), ("  Device ", self.device_combo)):
            if isinstance(widget, QAction):
                bar.addAction(widget)
                continue
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)

    def _fill_models(self) -> None:
        bundled = set(self.session.bundled())
        self.model_combo.clear()
        for spec in self.session.host.models.values():
            self.model_combo.addItem(spec.name)
            note = "bundled run available" if spec.name in bundled else \
                "no bundled run: train one or open a run folder"
            self.model_combo.setItemData(self.model_combo.count() - 1,
                                         f"{spec.description}\nplugin {spec.plugin}; {note}",
                                         Qt.ItemDataRole.ToolTipRole)

    def _build_menus(self) -> None:
        cv = self.chain_view
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        menu.addAction(self._action("Open dataset folder…", self._open_data_dialog))
        menu.addAction(self._action("Open dataset file…",
                                    lambda: self._open_data_dialog(folder=False)))
        self.recent_menu = menu.addMenu("Recent runs")
        menu.addSeparator()
        ex = menu.addMenu("Export")
        ex.addAction(self._action("Grid as PNG…", self.export_grid, "Ctrl+E"))
        ex.addAction(self._action("Chain strip as PNG…", self.export_strip))
        ex.addAction(self._action("Interpolation as PNG…", self.export_interp))
        ex.addSeparator()
        ex.addAction(self._action("Latent plot as SVG or PNG…", self.export_latent))
        ex.addAction(self._action("Chain metrics plot as SVG or PNG…", self.export_metrics))
        ex.addAction(self._action("Training losses plot as SVG or PNG…", self.export_losses))
        ex.addSeparator()
        ex.addAction(self._action("All chains as animated GIF…", self.export_gif, "Ctrl+G"))
        self.gif_selected_action = self._action("Selected chain as animated GIF…",
                                                lambda: self.export_gif(selected=True))
        ex.addAction(self.gif_selected_action)
        ex.addAction(self._action("Chain arrays as .npz…", self.export_npz))
        menu.addSeparator()
        menu.addAction(self._action("Quit", self.close, QKeySequence.StandardKey.Quit))

        menu = self.menuBar().addMenu("&Chain")
        for text, slot, key in (("Step", lambda: cv.run_steps(1), "S"),
                                ("Run k steps", cv.run_steps, "R"),
                                ("Stop (every job but training)", self._stop, "Esc"),
                                ("Reset (new z0, next seed)",
                                 lambda: cv.reset(cv.seed_spin.value() + 1), "Ctrl+R"),
                                ("Restart from the seed in the box",
                                 lambda: cv.reset(cv.seed_spin.value()), "Ctrl+Shift+R"),
                                ("Edit the seed", self._edit_seed, "Ctrl+L"),
                                (None, None, None),
                                ("Previous step", lambda: cv.step_t(-1), "Left"),
                                ("Next step", lambda: cv.step_t(1), "Right"),
                                ("First step", lambda: cv.set_t_index(0), "Home"),
                                ("Last step", lambda: cv.set_t_index(-1), "End"),
                                ("Compare t=0 | t", cv.compare_box.toggle, "C"),
                                ("Clear selection", lambda: cv.select(None), "Backspace"),
                                (None, None, None),
                                ("Measure chain metrics", self._measure, "M")):
            if text is None:
                menu.addSeparator()
            else:
                menu.addAction(self._action(text, slot, key))

        menu = self.menuBar().addMenu("&Training")
        menu.addAction(self._action("Start training", self._start_training, "Ctrl+T"))
        menu.addAction(self._action("Stop training (keeps the checkpoint)",
                                    self.train_panel.stop, "Ctrl+Shift+T"))

        self.view_menu = self.menuBar().addMenu("&View")
        for dock in (self.latent_dock, self.interp_dock, self.train_dock, self.log_dock,
                     self.metrics_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self._action("Reset layout", self.reset_layout))

        menu = self.menuBar().addMenu("&Help")
        menu.addAction(self._action("Keyboard shortcuts", self.show_shortcuts, "Ctrl+/"))
        menu.addAction(self._action("About genae-studio", self.about, "F1"))

    def _action(self, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} [{QKeySequence(shortcut).toString()}]")
        return action

    # --- wiring ----------------------------------------------------------------------------
    def _connect(self) -> None:
        s = self.session
        s.status_changed.connect(self._update_status)
        s.run_changed.connect(self._run_changed)
        s.data_changed.connect(self._data_changed)
        s.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        s.data_failed.connect(self._data_failed)
        self.jobs.error.connect(self.report_error)
        self.chain_view.changed.connect(self._chains_changed)
        self.chain_view.chain_finished.connect(lambda: self._settled("Chain"))
        self.latent_view.view_changed.connect(self._latent_view_changed)
        self.interp_panel.created.connect(self._interpolated)
        self.train_panel.trained.connect(self._trained)
        self.chain_view.selected_changed.connect(
            lambda index: self.gif_selected_action.setEnabled(index is not None))
        self.gif_selected_action.setEnabled(False)
        theme.style_all(self)
        self._update_status()

    def _open_initial(self, checkpoint: Path | None, data: str | None) -> None:
        if data:
            self.session.data_name = data
        if checkpoint is not None:
            self.session.open_run(checkpoint)
            return
        bundled = self.session.bundled()
        model = str(self.settings.value("model", "vae"))
        if bundled:
            self.session.open_run(model=model if model in bundled else bundled[0])
        else:
            from ..api import resources_dir

            self.session.note = (f"There is no bundled run yet (none in "
                                 f"{resources_dir() / 'runs'}).")
            self.session.run_changed.emit(None)
            self.session.load_data(data)  # the gallery still shows the data

    def _run_changed(self, run) -> None:
        self.latent_view.clear("Encoding held-out data and fitting the latent view…" if run
                               else "No run: nothing to project.")
        self.chain_view.set_projection(None)
        if run is None:
            self.model_combo.setCurrentIndex(-1)  # the box says what the status bar says
            return
        self.banner.hide()  # a run opened: earlier errors and notices are settled
        self.model_combo.setCurrentText(run.name)
        self.train_panel.model_combo.setCurrentText(run.name)
        self.setWindowTitle(f"genae-studio — {run.name} ({run.path})")
        if run.path is not None:
            self._remember_run(Path(run.path))
        self.log(f"opened {run.name} run {run.path} on {run.device}")

    def _show_data_name(self, name: str) -> None:
        self.data_combo.blockSignals(True)
        if self.data_combo.findText(name) < 0:
            self.data_combo.insertItem(self.data_combo.count() - 3, name)
        self.data_combo.setCurrentText(name)
        self.data_combo.blockSignals(False)

    def _data_failed(self, name: str, shown: str) -> None:
        """A data choice failed: the pickers go back to what is (or will be) loaded."""
        if shown:
            self._show_data_name(shown)
            self.log(f"could not use data {name!r}; showing {shown} instead")
        else:
            self.data_combo.setCurrentIndex(-1)

    def _data_changed(self, data) -> None:
        run = self.session.run
        if data is None:
            return
        self._show_data_name(data.name)
        if self.banner.kind == "error" and self.banner.source == "Load data" \
                and data.name == self.session.data_name:
            self.banner.hide()  # the user's next choice worked
        if run is None:
            return
        self.latent_view.clear("Encoding held-out data and fitting the latent view…")

        def fit(bn_mode: str) -> None:
            if run is self.session.run and data is self.session.data:
                self.jobs.start("Fit latent view", fit_latent_job, run, self.session.lock,
                                data, bn_mode, key="pca",
                                on_return=lambda cloud: self._cloud_ready(cloud, run))

        mode = self.chain_view.bn_combo.currentText()
        self.session.with_bn(mode, lambda: fit(mode), lambda: fit("batch"))

    def _cloud_ready(self, cloud, run) -> None:
        if run is not self.session.run:
            return
        self.latent_view.set_cloud(cloud)
        self.chain_view.set_projection(cloud.project)
        # Fit the view once, then keep it: auto-range would move the axes with every chain
        # step, and repainting the axes is most of what blocks the GUI thread while a chain
        # runs. Pyqtgraph's "A" button (or the context menu) fits it again.
        call_soon(self, lambda: _fit_once(self.latent_view.plot))
        views = "; ".join(f"{m}: {100 * v.held:.1f}% held, AUC {v.auc:.2f}"
                          for m, v in cloud.views.items())
        self.log(f"latent views fitted on {len(cloud.data_xy)} encoded held-out images and "
                 f"{len(cloud.prior_xy)} prior samples ({views}); "
                 f"{cloud.view.active_units} of {cloud.view.latent_dim} units active; "
                 f"data score accuracy {cloud.score.cv_accuracy:.3f}")

    def _latent_view_changed(self) -> None:
        cloud = self.latent_view.cloud
        if cloud is not None:
            self.chain_view.set_projection(cloud.project)  # reprojects the stored chain
            call_soon(self, lambda: _fit_once(self.latent_view.plot))

    def _chains_changed(self) -> None:
        cv = self.chain_view
        self.latent_view.set_chains(cv.history.trajectories(), cv.index, cv.selected,
                                    cv.history.z, cv.history.t)

    def _interpolated(self, res) -> None:
        k = res.z.shape[-1]
        before, after = res.z.reshape(-1, res.z.shape[-2], k), \
            res.z_after.reshape(-1, res.z.shape[-2], k)
        self.latent_view.set_interpolation_method(res.method)
        for b, a in zip(before, after, strict=True):
            self.latent_view.add_path(b, a)

    def _trained(self, path: Path) -> None:
        self.log(f"training wrote {path}; opening it")
        try:
            data = read_config(path).data
        except GenaeError:
            data = {}
        if data.get("skipped"):
            self.log(f"warning: {data['skipped']} unreadable images skipped (first: "
                     f"{data.get('first_skipped')})")
        self.session.data_name = None
        self.session.open_run(path)

    def _settled(self, job_name: str) -> None:
        """A job that failed before has worked since: its error banner goes."""
        if self.banner.isVisible() and self.banner.kind == "error" and \
                self.banner.source == job_name and not self.jobs.failed_last(job_name):
            self.banner.hide()

    def _update_status(self) -> None:
        self.status_label.setText(self.session.status_text())

    def _stop(self) -> None:
        """Esc: stop the chain, the metrics (feature-network training too) and interpolation.

        Training is left alone: it has its own Stop (and the status bar's cancel button)."""
        self.chain_view.stop()
        self.metrics_panel.cancel()
        self.jobs.cancel("interpolate")
        self.jobs.cancel("precise-bn")

    def _measure(self) -> None:
        self.metrics_dock.show()
        self.metrics_dock.raise_()
        self.metrics_panel.measure()

    def _start_training(self) -> None:
        self.train_dock.show()
        self.train_dock.raise_()
        self.train_panel.start()

    def _edit_seed(self) -> None:
        self.chain_view.seed_spin.setFocus()
        self.chain_view.seed_spin.selectAll()

    # --- pickers ---------------------------------------------------------------------------
    def _model_picked(self, name: str) -> None:
        from ..api import bundled_run_dir

        run = self.session.run
        if run is not None and run.name == name and run.path is not None and \
                Path(run.path).resolve() == bundled_run_dir(name).resolve():
            return  # its bundled run is already open
        if name in self.session.bundled():
            self.settings.setValue("model", name)
            self.session.open_run(model=name)
            return
        if run is not None:
            self.model_combo.setCurrentText(run.name)
        self.train_panel.model_combo.setCurrentText(name)
        self.train_dock.show()
        self.train_dock.raise_()
        self.banner.show_message(f"There is no bundled run for {name!r}. Train one in the "
                                 "Training panel (now set to it) or open a run folder.", "info")

    def _data_picked(self, text: str) -> None:
        if text in (OPEN_FOLDER, OPEN_FILE):
            self._open_data_dialog(folder=text == OPEN_FOLDER)
            return
        self.session.load_data(text, explicit=True)

    def _open_data_dialog(self, folder: bool = True) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a dataset file", "", "Datasets (*.mat *.npz *-ubyte *-ubyte.gz "
                "*.png *.jpg *.jpeg);;All files (*)")
        if path:
            self.session.load_data(path, explicit=True)
        elif self.session.data is not None:
            self.data_combo.setCurrentText(self.session.data.name)

    def open_run_dialog(self) -> None:
        start = str(self.session.run.path.parent) if self.session.run and \
            self.session.run.path else ""
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", start)
        if path:
            self.session.open_run(path)

    def _remember_run(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self._recent() if p != str(path)]
        self.settings.setValue("recent_runs", recent[:8])
        self._fill_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent_runs", [])
        return [value] if isinstance(value, str) else list(value or [])

    # --- drag and drop of run folders and datasets -----------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    def open_path(self, path: Path) -> None:
        """A run folder opens as the run; anything else is tried as a dataset."""
        if path.is_dir() and (path / "config.json").is_file():
            self.session.open_run(path)
        else:
            self.session.load_data(str(path), explicit=True)

    # --- errors and log --------------------------------------------------------------------
    def report_error(self, job_name: str, exc: Exception) -> None:
        """Show a worker's exception in the window: banner, status bar and log."""
        text = str(exc) if isinstance(exc, GenaeError) else f"{type(exc).__name__}: {exc}"
        self.banner.show_message(f"<b>{job_name} failed:</b> {_escape(text)}",
                                 source=job_name)
        self.statusBar().showMessage(f"{job_name} failed: {text}", 10000)
        self.log(f"error in {job_name}: {text}\n{getattr(exc, 'traceback_text', '')}".rstrip())

    def log(self, text: str) -> None:
        self.log_view.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {text}")

    def _show_log(self) -> None:
        self.log_dock.show()
        self.log_dock.raise_()

    # --- exports ---------------------------------------------------------------------------
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

    # --- settings, layout, about -----------------------------------------------------------
    def _restore(self) -> None:
        st = self.settings
        if st.value("geometry") is not None:
            self.restoreGeometry(st.value("geometry"))
        if st.value("window_state") is not None:
            self.restoreState(st.value("window_state"))
        self.chain_view.restore(_group(st, "chain"))
        self.train_panel.restore(_group(st, "train"))
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent()[:8]:
            self.recent_menu.addAction(self._action(p, lambda p=p: self.session.open_run(p)))

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("geometry", self.saveGeometry())
        st.setValue("window_state", self.saveState())
        st.setValue("device", self.session.device)
        for group, state in (("chain", self.chain_view.state()),
                             ("train", self.train_panel.state())):
            for key, value in state.items():
                st.setValue(f"{group}/{key}", value)
        st.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)

    def about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About genae-studio")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_text())
        box.open()  # not modal for the event loop: the window stays responsive
        return box

    def showEvent(self, event) -> None:
        super().showEvent(event)
        focus = self.focusWidget()
        if focus is None or isinstance(focus, (QComboBox, QAbstractSpinBox, QLineEdit)):
            self.chain_view.setFocus()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(action, key) of every window-wide shortcut, as Help ▸ Keyboard shortcuts lists."""
        rows = []
        for menu_action in self.menuBar().actions():
            for action in _walk(menu_action.menu()):
                key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if key:
                    rows.append((action.text().replace("&", ""), key))
        return rows

    def show_shortcuts(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        table = "".join(f"<tr><td><b>{_escape(key)}</b></td><td>&nbsp;&nbsp;{_escape(text)}"
                        "</td></tr>" for text, key in self.shortcut_rows())
        box.setText("<p>These keys work anywhere in the window unless you are typing in a "
                    f"box (click the chain grid to leave it).</p><table>{table}</table>")
        box.open()
        return box

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            call_soon(self, lambda: theme.style_all(self))  # plots follow the palette
        super().changeEvent(event)

    def closeEvent(self, event) -> None:
        """Never blocks: every job is cancelled and the window goes at once. Training stops
        after its batch and keeps its checkpoint; run_studio waits for it before exiting."""
        self.save_settings()
        self.jobs.shutdown(0)
        super().closeEvent(event)


def about_text() -> str:
    import platform

    import numpy
    import pyqtgraph
    import sklearn
    import torch
    from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

    from .. import __version__

    rows = [("genae-studio", __version__), ("Python", platform.python_version()),
            ("PyTorch", torch.__version__), ("NumPy", numpy.__version__),
            ("scikit-learn", sklearn.__version__), ("pyqtgraph", pyqtgraph.__version__),
            ("PyQt6", PYQT_VERSION_STR), ("Qt", QT_VERSION_STR)]
    table = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in rows)
    return ("<h3>genae-studio</h3><p>Generative autoencoders sampled with Markov chains "
            "(Creswell et al. 2017): step through chains, watch latent trajectories, "
            f"interpolate and train.</p><table>{table}</table>")


def default_size(screen) -> tuple[int, int]:
    """1480 x 940, or less on a smaller screen (the window fits 1280 x 800 and 1366 x 768)."""
    if screen is None:
        return 1480, 940
    free = screen.availableGeometry()
    return min(1480, free.width()), min(940, free.height() - 30)  # 30: the title bar


def with_suffix(path: Path, filters: str) -> Path:
    """``path`` with the first suffix of the chosen filter ("PNG (*.png)") when it has none."""
    import re

    if path.suffix:
        return path
    match = re.search(r"\*(\.[\w.-]+)", filters)
    return path.with_suffix(match.group(1)) if match else path


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area: a tall panel no longer sets the window's minimum height."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _fit_once(plot) -> None:
    """Fit the view to its items once (the legend is below the axis, not over the data)."""
    box = plot.getViewBox()
    box.autoRange(padding=0.05)
    box.disableAutoRange()


def _polish_latent_view(view) -> None:
    """The latent view's secondary text follows the palette; its colour box shows whole names."""
    view.colour_note.setStyleSheet("")
    theme.dim(view.colour_note)
    view.colour_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)


def _walk(menu) -> list[QAction]:
    """The actions of a menu and its submenus."""
    out = []
    for action in menu.actions() if menu is not None else []:
        out.extend(_walk(action.menu()) if action.menu() is not None else [action])
    return out


def _group(settings: QSettings, group: str) -> dict:
    settings.beginGroup(group)
    try:
        return {k: settings.value(k) for k in settings.childKeys()}
    finally:
        settings.endGroup()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
