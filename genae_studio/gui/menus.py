"""The main window's toolbar (model, data and device pickers), menus, shortcuts and the about
box, as a mixin of MainWindow: every action is a window-wide QAction."""
from __future__ import annotations

from html import escape

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QComboBox, QLabel, QMessageBox

from ..studio.system import cuda_available, library_versions

OPEN_FOLDER, OPEN_FILE = "Open folder…", "Open file…"


class WindowMenus:
    """Toolbar, menus and help of MainWindow (which provides the slots they call)."""

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
        if not cuda_available():
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
        cv, ex_ = self.chain_view, self.exports
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        menu.addAction(self._action("Open dataset folder…", self._open_data_dialog))
        menu.addAction(self._action("Open dataset file…",
                                    lambda: self._open_data_dialog(folder=False)))
        self.recent_menu = menu.addMenu("Recent runs")
        menu.addSeparator()
        ex = menu.addMenu("Export")
        ex.addAction(self._action("Grid as PNG…", ex_.grid, "Ctrl+E"))
        ex.addAction(self._action("Chain strip as PNG…", ex_.strip))
        ex.addAction(self._action("Interpolation as PNG…", ex_.interpolation))
        ex.addSeparator()
        ex.addAction(self._action("Latent plot as SVG or PNG…",
                                    lambda: ex_.plot("latent")))
        ex.addAction(self._action("Chain metrics plot as SVG or PNG…",
                                    lambda: ex_.plot("metrics")))
        ex.addAction(self._action("Training losses plot as SVG or PNG…",
                                    lambda: ex_.plot("losses")))
        ex.addSeparator()
        ex.addAction(self._action("All chains as animated GIF…", ex_.gif, "Ctrl+G"))
        self.gif_selected_action = self._action("Selected chain as animated GIF…",
                                                lambda: ex_.gif(selected=True))
        ex.addAction(self.gif_selected_action)
        ex.addAction(self._action("Chain arrays as .npz…", ex_.npz))
        menu.addSeparator()
        menu.addAction(self._action("Quit", self.close, QKeySequence.StandardKey.Quit))

        menu = self.menuBar().addMenu("&Chain")
        for text, slot, key in (("Step", lambda: cv.run_steps(1), "S"),
                                ("Run k steps", cv.run_steps, "R"),
                                ("Stop (every job but training)", self._stop, "Esc"),
                                ("Reset (new z0, next seed)",
                                 lambda: cv.reset(cv.settings.seed + 1), "Ctrl+R"),
                                ("Restart from the seed in the box",
                                 lambda: cv.reset(cv.settings.seed), "Ctrl+Shift+R"),
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

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent()[:8]:
            self.recent_menu.addAction(self._action(p, lambda p=p: self.session.open_run(p)))

    def about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About genae-studio")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_text())
        box.open()  # not modal for the event loop: the window stays responsive
        return box

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
        table = "".join(f"<tr><td><b>{escape(key)}</b></td><td>&nbsp;&nbsp;{escape(text)}"
                        "</td></tr>" for text, key in self.shortcut_rows())
        box.setText("<p>These keys work anywhere in the window unless you are typing in a "
                    f"box (click the chain grid to leave it).</p><table>{table}</table>")
        box.open()
        return box


def about_text() -> str:
    import pyqtgraph
    from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

    rows = [*library_versions(), ("pyqtgraph", pyqtgraph.__version__),
            ("PyQt6", PYQT_VERSION_STR), ("Qt", QT_VERSION_STR)]
    table = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in rows)
    return ("<h3>genae-studio</h3><p>Generative autoencoders sampled with Markov chains "
            "(Creswell et al. 2017): step through chains, watch latent trajectories, "
            f"interpolate and train.</p><table>{table}</table>")


def _walk(menu) -> list[QAction]:
    """The actions of a menu and its submenus."""
    out = []
    for action in menu.actions() if menu is not None else []:
        out.extend(_walk(action.menu()) if action.menu() is not None else [action])
    return out
