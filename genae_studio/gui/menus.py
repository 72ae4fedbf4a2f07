"""The main window's menus, shortcuts and the about box: an object the window holds
(``window.menus``); every action is a window-wide QAction."""
from __future__ import annotations

from html import escape

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMessageBox

from ..tasks.system import library_versions
from .help import HelpDialog


class Menus:
    """The menu bar of ``window`` (a MainWindow: its views, docks and the slots they call)."""

    def __init__(self, window):
        self.window = window
        self.help_dialog: HelpDialog | None = None
        self._build_menus()

    def _build_menus(self) -> None:
        w = self.window
        cv, ex_, pickers = w.chain_view, w.exports, w.pickers
        menu = w.menuBar().addMenu("&File")
        menu.addAction(pickers.open_action)
        menu.addAction(self._action("Open dataset folder…", pickers.open_data_dialog))
        menu.addAction(self._action("Open dataset file…",
                                    lambda: pickers.open_data_dialog(folder=False)))
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
        ex.addAction(self._action("Chain metrics numbers as CSV or JSON…",
                                  lambda: ex_.metrics_table(w.metrics_panel.table())))
        ex.addAction(self._action("Training losses plot as SVG or PNG…",
                                    lambda: ex_.plot("losses")))
        ex.addSeparator()
        ex.addAction(self._action("All chains as animated GIF…", ex_.gif, "Ctrl+G"))
        self.gif_selected_action = self._action("Selected chain as animated GIF…",
                                                lambda: ex_.gif(selected=True))
        ex.addAction(self.gif_selected_action)
        ex.addAction(self._action("Chain arrays as .npz…", ex_.npz))
        menu.addSeparator()
        menu.addAction(self._action("Quit", w.close, QKeySequence.StandardKey.Quit))

        menu = w.menuBar().addMenu("&Chain")
        for text, slot, key in (("Step", lambda: cv.run_steps(1), "S"),
                                ("Run k steps", cv.run_steps, "R"),
                                ("Stop (every job but training)", w._stop, "Esc"),
                                ("Reset (new z0, next seed)",
                                 lambda: cv.reset(cv.settings.seed + 1), "Ctrl+R"),
                                ("Restart from the seed in the box",
                                 lambda: cv.reset(cv.settings.seed), "Ctrl+Shift+R"),
                                ("Edit the seed", w._edit_seed, "Ctrl+L"),
                                (None, None, None),
                                ("Previous step", lambda: cv.step_t(-1), "Left"),
                                ("Next step", lambda: cv.step_t(1), "Right"),
                                ("First step", lambda: cv.set_t_index(0), "Home"),
                                ("Last step", lambda: cv.set_t_index(-1), "End"),
                                ("Compare t=0 | t", cv.compare_box.toggle, "C"),
                                ("Clear selection", lambda: cv.select(None), "Backspace"),
                                (None, None, None),
                                ("Measure chain metrics", w._measure, "M")):
            if text is None:
                menu.addSeparator()
            else:
                menu.addAction(self._action(text, slot, key))

        menu = w.menuBar().addMenu("&Training")
        menu.addAction(self._action("Start training", w._start_training, "Ctrl+T"))
        menu.addAction(self._action("Stop training (keeps the checkpoint)",
                                    w.train_panel.stop, "Ctrl+Shift+T"))

        self.view_menu = w.menuBar().addMenu("&View")
        for dock in (w.latent_dock, w.interp_dock, w.train_dock, w.log_dock,
                     w.metrics_dock, w.run_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self._action("Reset layout", w.reset_layout))

        menu = w.menuBar().addMenu("&Help")
        menu.addAction(self._action("What am I looking at?", self.show_help, "F1"))
        menu.addAction(self._action("Keyboard shortcuts", self.show_shortcuts, "Ctrl+/"))
        menu.addAction(self._action("About genae-studio", self.about))

    def _action(self, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} [{QKeySequence(shortcut).toString()}]")
        return action

    def fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.window.pickers.recent()[:8]:
            self.recent_menu.addAction(self._action(
                p, lambda p=p: self.window.session.open_run(p)))

    def about(self) -> QMessageBox:
        box = QMessageBox(self.window)
        box.setWindowTitle("About genae-studio")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_text())
        box.open()  # not modal for the event loop: the window stays responsive
        return box

    def show_help(self) -> HelpDialog:
        """F1: what each view shows, and the mouse and keys (one window, raised again)."""
        dialog = self.help_dialog
        if dialog is None:
            self.help_dialog = dialog = HelpDialog(self.window, self.shortcut_rows())
        dialog.show()
        dialog.raise_()
        return dialog

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(action, key) of every window-wide shortcut, as Help ▸ Keyboard shortcuts lists."""
        rows = []
        for menu_action in self.window.menuBar().actions():
            for action in _walk(menu_action.menu()):
                key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if key:
                    rows.append((action.text().replace("&", ""), key))
        return rows

    def show_shortcuts(self) -> QMessageBox:
        box = QMessageBox(self.window)
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
