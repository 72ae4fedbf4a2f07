"""What the toolbar's pickers, File ▸ Open and drops onto the window do, as a mixin of
MainWindow: open a run (a folder or a bundled model's run) or load held-out data, and keep the
pickers showing what is loaded."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from .menus import OPEN_FILE, OPEN_FOLDER


class Pickers:
    """Model, data and run choices of MainWindow (which provides the session and the views)."""

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
        """A dataset folder or file; its format is a choice of the dialog's file-type list
        (the command line's --data-format), detected unless the user picks one."""
        formats = data_formats(self.session.host)
        dialog = QFileDialog(self, "Open a dataset folder" if folder else "Open a dataset file")
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


DETECT = "Detect the format (*)"


def data_formats(host) -> dict[str, str | None]:
    """The Open dataset dialogs' file-type list: name filter -> data format (None: detect)."""
    out: dict[str, str | None] = {DETECT: None}
    for name, spec in host.datasets.items():
        if spec.detect is not None:
            out[f"{name}: {spec.description.rstrip('.')} (*)"] = name
    return out
