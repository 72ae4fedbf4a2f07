"""The studio's main window: pickers, the chain view, docks, menus, status and errors."""
from __future__ import annotations

import time
from html import escape
from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, Qt
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QFrame,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import blame
from ..errors import GenaeError
from ..plugins import PluginHost
from ..runs import read_config
from ..tasks.latent_cloud import fit_latent_task
from . import theme
from .chain_view import ChainView
from .dock_tabs import hide_stale_tab_bars
from .explore import link_views
from .export_actions import Exports
from .interpolation_panel import InterpolationPanel
from .latent_view import LatentView
from .menus import Menus
from .metrics_panel import MetricsPanel
from .partner import ChainPartner
from .pickers import Pickers
from .run_panel import RunPanel
from .session import Session
from .status import JobStatus, NoticeBanner
from .train_panel import TrainPanel
from .workers import Jobs, call_soon


class MainWindow(QMainWindow):
    """Chain view in the middle; latent space and chain metrics on the right; interpolation,
    training and the log below. Composed of objects: the session, the jobs, the views and
    panels, ``exports``, ``pickers`` (the toolbar) and ``menus``."""

    def __init__(self, host: PluginHost, settings: QSettings | None = None, *,
                 checkpoint: Path | None = None, data: str | None = None,
                 device: str | None = None, debug: bool = False):
        super().__init__()
        self.debug = debug  # tracebacks of user errors in the Log too
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
                escape(str(f), quote=False) for f in host.failures))
        call_soon(self, lambda: self._open_initial(checkpoint, data))

    # --- building --------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.session
        self.banner = NoticeBanner(self._show_log)
        self.chain_view = ChainView(s)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 0)
        lay.addWidget(self.banner)
        lay.addWidget(self.chain_view, 1)
        self.setCentralWidget(central)

        self.latent_view = LatentView()
        _polish_latent_view(self.latent_view)
        self.interp_panel = InterpolationPanel(s)
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
        self.run_panel = RunPanel(s)  # the runs of this session, settings and loss history
        self.run_dock = self._dock("Run", self.run_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.partner = ChainPartner(s, self.chain_view, self)  # a second run beside the grid
        self.run_panel.beside.connect(lambda path: self.partner.open(path) if path
                                      else self.partner.clear())
        # The docks' sizes follow the window's: the chain grid is square and needs the
        # height more than the width. On a short screen (1366 x 768, 1280 x 800) the latent
        # view, the chain metrics and training are tabs of the right column, each as tall as
        # the window allows; on a tall one the metrics sit below the latent view.
        width, height = default_size(self.screen())
        if height >= TALL:
            self.splitDockWidget(self.latent_dock, self.metrics_dock, Qt.Orientation.Vertical)
        else:
            self.tabifyDockWidget(self.latent_dock, self.metrics_dock)
        self.tabifyDockWidget(self.latent_dock, self.train_dock)
        self.tabifyDockWidget(self.latent_dock, self.run_dock)
        self.tabifyDockWidget(self.interp_dock, self.log_dock)
        self.interp_dock.raise_()
        self.latent_dock.raise_()
        self.resize(width, height)
        self.resizeDocks([self.latent_dock], [min(620, max(440, int(0.42 * width)))],
                         Qt.Orientation.Horizontal)
        if height >= TALL:
            self.resizeDocks([self.latent_dock, self.metrics_dock], [520, 380],
                             Qt.Orientation.Vertical)
        self.resizeDocks([self.interp_dock], [270 if height >= TALL else 200],
                         Qt.Orientation.Vertical)
        self._default_state = self.saveState()

        self.exports = Exports(
            parent=self, settings=self.settings, jobs=self.jobs, chain_view=self.chain_view,
            plots={"latent": self.latent_view.plot, "metrics": self.metrics_panel.plots,
                   "losses": self.train_panel.plot},
            interpolation_view=self.interp_panel.view, report_error=self.report_error,
            log=self.log, show_message=lambda text: self.statusBar().showMessage(text, 5000))
        self.pickers = Pickers(self)
        self.menus = Menus(self)
        # The status bar: model, run and data (gives way first), the running jobs, and the
        # device, which a message or a job never covers (it is the last permanent widget).
        self.status_label = QLabel()
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.job_status = JobStatus(self.jobs)
        self.statusBar().addPermanentWidget(self.job_status)
        self.device_status = QLabel()
        self.device_status.setSizePolicy(QSizePolicy.Policy.Minimum,
                                         QSizePolicy.Policy.Preferred)
        self.statusBar().addPermanentWidget(self.device_status)
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

    # --- wiring ----------------------------------------------------------------------------
    def _connect(self) -> None:
        s = self.session
        s.status_changed.connect(self._update_status)
        s.run_changed.connect(self._run_changed)
        s.data_changed.connect(self._data_changed)
        s.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        s.log.connect(self.log)
        s.data_failed.connect(self.pickers.data_failed)
        self.jobs.error.connect(self.report_error)
        self.chain_view.changed.connect(self._chains_changed)
        self.chain_view.chain_finished.connect(lambda: self._settled("Chain"))
        self.latent_view.view_changed.connect(self._latent_view_changed)
        link_views(self.latent_view, self.chain_view)
        self.interp_panel.created.connect(self._interpolated)
        self.train_panel.trained.connect(self._trained)
        self.chain_view.selected_changed.connect(
            lambda index: self.menus.gif_selected_action.setEnabled(index is not None))
        self.menus.gif_selected_action.setEnabled(False)
        theme.style_all(self)
        self._update_status()

    def _open_initial(self, checkpoint: Path | None, data: str | None) -> None:
        if data:
            self.session.data_name = data
        if checkpoint is None:  # the run open when the studio was last closed
            last = next(iter(self.pickers.recent()), None)
            if last and Path(last, "config.json").is_file():
                checkpoint = Path(last)
        if checkpoint is not None:
            self.session.open_run(checkpoint)
            return
        bundled = self.session.bundled()
        model = str(self.settings.value("model", "vae"))
        if bundled:
            self.session.open_run(model=model if model in bundled else bundled[0])
        else:
            from ..env import resources_dir

            self.session.note = (f"There is no bundled run yet (none in "
                                 f"{resources_dir() / 'runs'}).")
            self.session.run_changed.emit(None)
            self.session.load_data(data)  # the gallery still shows the data

    def _run_changed(self, run) -> None:
        self.latent_view.clear("Encoding held-out data and fitting the latent view…" if run
                               else "No run: nothing to project.")
        self.chain_view.set_projection(None)
        if run is None:
            self.pickers.model_combo.setCurrentIndex(-1)  # the box says what the status bar says
            return
        self.banner.hide()  # a run opened: earlier errors and notices are settled
        self.pickers.model_combo.setCurrentText(run.name)
        self.train_panel.model_combo.setCurrentText(run.name)
        self.setWindowTitle(f"genae-studio — {run.name} ({run.path})")
        if run.path is not None:
            self.pickers.remember_run(Path(run.path))
        self.log(f"opened {run.name} run {run.path} on {run.device}")

    def _data_changed(self, data) -> None:
        run = self.session.run
        if data is None:
            return
        self.pickers.show_data_name(data.name)
        if self.banner.kind == "error" and self.banner.source == "Load data" \
                and data.name == self.session.data_name:
            self.banner.hide()  # the user's next choice worked
        if run is None:
            return
        self.latent_view.clear("Encoding held-out data and fitting the latent view…")

        def fit(bn_mode: str) -> None:
            if run is self.session.run and data is self.session.data:
                self.jobs.start("Fit latent view", fit_latent_task, run=run,
                                lock=self.session.lock, data=data, bn_mode=bn_mode, key="pca",
                                on_return=lambda cloud: self._cloud_ready(cloud, run))

        mode = self.session.chain.bn_mode
        self.session.with_bn(mode, lambda: fit(mode), lambda: fit("batch"))

    def _cloud_ready(self, cloud, run) -> None:
        if run is not self.session.run:
            return
        self.latent_view.set_cloud(cloud)
        self.chain_view.set_projection(cloud.project, cloud.score)
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
            self.chain_view.set_projection(cloud.project, cloud.score)  # reprojects
            call_soon(self, lambda: _fit_once(self.latent_view.plot))

    def _chains_changed(self) -> None:
        cv = self.chain_view
        self.latent_view.set_chains(cv.history.trajectories(), cv.index, cv.selected,
                                    cv.history.scores(), cv.history.t)

    def _interpolated(self, res) -> None:
        k = res.z.shape[-1]
        before, after = res.z.reshape(-1, res.z.shape[-2], k), \
            res.z_after.reshape(-1, res.z.shape[-2], k)
        self.latent_view.set_interpolation_method(res.method)
        for b, a in zip(before, after, strict=True):
            self.latent_view.add_path(b, a)

    def _trained(self, path: Path, summary: str = "") -> None:
        """A training ended: its run is offered, not opened (the user's chain stays)."""
        self.log(f"training wrote {path}" + (f": {summary}" if summary else ""))
        try:
            data = read_config(path).data
        except GenaeError:
            data = {}
        if data.get("skipped"):
            self.log(f"warning: {data['skipped']} unreadable images skipped (first: "
                     f"{data.get('first_skipped')})")
        self.banner.show_message(
            f"<b>{escape(summary or 'Training ended')}.</b> The run is saved in "
            f"{escape(str(path))}; your open run and chains stay until you open it.", "info",
            source="Training", action=("Open the new run", lambda: self.open_trained(path)))

    def open_trained(self, path: Path) -> None:
        self.session.data_name = None  # the new run's own data
        self.session.open_run(path)

    def _settled(self, job_name: str) -> None:
        """A job that failed before has worked since: its error banner goes."""
        if self.banner.isVisible() and self.banner.kind == "error" and \
                self.banner.source == job_name and not self.jobs.failed_last(job_name):
            self.banner.hide()

    def _update_status(self) -> None:
        self.status_label.setText(self.session.status_text())
        self.status_label.setToolTip(self.session.status_text())
        self.device_status.setText(f"Device: {self.session.device_label()}")

    def _stop(self) -> None:
        """Esc: stop the chain, the metrics (feature-network training too) and interpolation.

        Training is left alone: it has its own Stop (and the status bar's cancel button)."""
        self.chain_view.stop()
        self.metrics_panel.cancel()
        self.jobs.cancel("interpolate")
        self.jobs.cancel("precise-bn")
        self.exports.cancel()

    def _measure(self) -> None:
        self.metrics_dock.show()
        self.metrics_dock.raise_()
        self.metrics_panel.measure()

    def _start_training(self) -> None:
        """Ctrl+T: the Training panel, its settings shown and Start focused; nothing starts
        before the user has seen what will be trained."""
        self.train_dock.show()
        self.train_dock.raise_()
        self.train_panel.start_button.setFocus()
        self.statusBar().showMessage("Check the training settings, then Start training "
                                     "(Enter)", 8000)

    def _edit_seed(self) -> None:
        self.chain_view.edit_seed()

    # --- errors and log --------------------------------------------------------------------
    def report_error(self, job_name: str, exc: Exception) -> None:
        """Show a worker's exception in the window: banner, status bar and log. A user's
        error (a GenaeError: a folder that is no run, data that does not fit) is one line;
        a bug keeps its traceback in the log, and --debug keeps every traceback."""
        user_error = isinstance(exc, GenaeError)
        text = str(exc) if user_error else f"{type(exc).__name__}: {exc}"
        if not user_error:  # a plugin's bug is the plugin's: one line naming it
            text = blame.describe(exc) or text
        fits_not = getattr(exc, "fits_not", None)
        action = ("Train a model on it", lambda: self.train_on(fits_not)) if fits_not else None
        self.banner.show_message(f"<b>{job_name} failed:</b> {escape(text, quote=False)}",
                                 source=job_name, action=action)
        self.statusBar().showMessage(f"{job_name} failed: {text}", 10000)
        trace = getattr(exc, "traceback_text", "") if self.debug or not user_error else ""
        self.log(f"error in {job_name}: {text}\n{trace}".rstrip())

    def train_on(self, data: str) -> None:
        """The Training panel, set to train a model on ``data`` (the user starts it)."""
        self.train_panel.data_combo.setCurrentText(data)
        self._start_training()

    def log(self, text: str) -> None:
        self.log_view.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {text}")

    def _show_log(self) -> None:
        self.log_dock.show()
        self.log_dock.raise_()

    # --- settings, layout, about -----------------------------------------------------------
    def _restore(self) -> None:
        st = self.settings
        if st.value("geometry") is not None:
            self.restoreGeometry(st.value("geometry"))
        if st.value("window_state") is not None:
            self.restoreState(st.value("window_state"))
        self.chain_view.restore(_group(st, "chain"))
        self.train_panel.restore(_group(st, "train"))
        self.menus.fill_recent()

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

    # --- drag and drop of run folders and datasets -----------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.pickers.open_path(paths[0])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        focus = self.focusWidget()
        if focus is None or isinstance(focus, (QComboBox, QAbstractSpinBox, QLineEdit)):
            self.chain_view.setFocus()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        call_soon(self, lambda: hide_stale_tab_bars(self))

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


TALL = 900  # window height from which the chain metrics get their own place below the latent view


def default_size(screen) -> tuple[int, int]:
    """1480 x 940, or less on a smaller screen (the window fits 1280 x 800 and 1366 x 768)."""
    if screen is None:
        return 1480, 940
    free = screen.availableGeometry()
    return min(1480, free.width()), min(940, free.height() - 30)  # 30: the title bar


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


def _group(settings: QSettings, group: str) -> dict:
    settings.beginGroup(group)
    try:
        return {k: settings.value(k) for k in settings.childKeys()}
    finally:
        settings.endGroup()


