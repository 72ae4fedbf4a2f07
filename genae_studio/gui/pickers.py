"""The toolbar's pickers (model, data, device, Open run) and what they, File ▸ Open and drops
onto the window do: open a run (a folder or a bundled model's run) or load held-out data, and
keep the pickers showing what is loaded. An object the main window holds (``window.pickers``).
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QComboBox, QFileDialog, QLabel

from ..tasks.system import cuda_available

OPEN_FOLDER, OPEN_FILE = "Open folder…", "Open file…"


class Pickers:
    """The toolbar of ``window`` (a MainWindow: its session, settings, banner, log and the
    Training dock) and the open-run and open-data actions."""

    def __init__(self, window):
        self.window = window
        self.session = window.session
        self.settings = window.settings
        self._build_toolbar()

    def _build_toolbar(self) -> None:
        bar = self.window.addToolBar("Pickers")
        bar.setObjectName("pickers")
        bar.setMovable(False)
        self.model_combo = QComboBox(minimumContentsLength=10, placeholderText="(no run)")
        self.model_combo.setToolTip("Model: opens its bundled run (every loaded plugin's "
                                    "models are listed)")
        self._fill_models()
        self.model_combo.activated.connect(
            lambda i: self.model_picked(self.model_combo.itemText(i)))
        self.data_combo = QComboBox(minimumContentsLength=14)
        self.data_combo.setToolTip("Held-out data for the latent view and the gallery")
        self.data_combo.addItems([n for n, spec in self.session.host.datasets.items()
                                  if spec.detect is None])
        self.data_combo.insertSeparator(self.data_combo.count())
        self.data_combo.addItems([OPEN_FOLDER, OPEN_FILE])
        self.data_combo.activated.connect(
            lambda i: self.data_picked(self.data_combo.itemText(i)))
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
        self.open_action = QAction("Open run…", self.window, shortcut=QKeySequence.StandardKey.Open,
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

    def model_picked(self, name: str) -> None:
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
        self.window.train_panel.model_combo.setCurrentText(name)
        self.window.train_dock.show()
        self.window.train_dock.raise_()
        self.window.banner.show_message(f"There is no bundled run for {name!r}. Train one in the "
                                 "Training panel (now set to it) or open a run folder.", "info")

    def data_picked(self, text: str) -> None:
        if text in (OPEN_FOLDER, OPEN_FILE):
            self.open_data_dialog(folder=text == OPEN_FOLDER)
            return
        self.session.load_data(text, explicit=True)

    def open_data_dialog(self, folder: bool = True) -> None:
        """A dataset folder or file; its format is a choice of the dialog's file-type list
        (the command line's --data-format), detected unless the user picks one."""
        formats = data_formats(self.session.host)
        title = "Open a dataset folder" if folder else "Open a dataset file"
        dialog = QFileDialog(self.window, title)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)  # the format list everywhere
        dialog.setFileMode(QFileDialog.FileMode.Directory if folder
                           else QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(list(formats))
        if self.dialog_answer(dialog):
            name = formats.get(dialog.selectedNameFilter())
            self.session.load_data(dialog.selectedFiles()[0], explicit=True, data_format=name)
        elif self.session.data is not None:
            self.data_combo.setCurrentText(self.session.data.name)

    def dialog_answer(self, dialog: QFileDialog) -> bool:
        """Run a file dialog (tests replace this)."""
        return bool(dialog.exec())

    def open_run_dialog(self) -> None:
        start = str(self.session.run.path.parent) if self.session.run and \
            self.session.run.path else ""
        path = QFileDialog.getExistingDirectory(self.window, "Open a run folder", start)
        if path:
            self.session.open_run(path)

    def remember_run(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.settings.setValue("recent_runs", recent[:8])
        self.window.menus.fill_recent()

    def recent(self) -> list[str]:
        value = self.settings.value("recent_runs", [])
        return [value] if isinstance(value, str) else list(value or [])

    def open_path(self, path: Path) -> None:
        """A run folder opens as the run; anything else is tried as a dataset."""
        if path.is_dir() and (path / "config.json").is_file():
            self.session.open_run(path)
        else:
            self.session.load_data(str(path), explicit=True)

    def show_data_name(self, name: str) -> None:
        self.data_combo.blockSignals(True)
        if self.data_combo.findText(name) < 0:
            self.data_combo.insertItem(self.data_combo.count() - 3, name)
        self.data_combo.setCurrentText(name)
        self.data_combo.blockSignals(False)

    def data_failed(self, name: str, shown: str) -> None:
        """A data choice failed: the pickers go back to what is (or will be) loaded."""
        if shown:
            self.show_data_name(shown)
            self.window.log(f"could not use data {name!r}; showing {shown} instead")
        else:
            self.data_combo.setCurrentIndex(-1)


DETECT = "Detect the format (*)"


def data_formats(host) -> dict[str, str | None]:
    """The Open dataset dialogs' file-type list: name filter -> data format (None: detect)."""
    out: dict[str, str | None] = {DETECT: None}
    for name, spec in host.datasets.items():
        if spec.detect is not None:
            out[f"{name}: {spec.description.rstrip('.')} (*)"] = name
    return out
