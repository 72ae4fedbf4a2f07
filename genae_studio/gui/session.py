"""What the studio is looking at: the plugin host, the active run, the dataset and the device.

The session loads runs and datasets in worker jobs and announces changes with signals; views
subscribe. A lock serialises model calls from different jobs (batch-norm modes switch module
state, so two threads must not run the same model at once).
"""
from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from ..errors import GenaeError
from ..plugins import PluginHost
from ..tasks.chain_settings import ChainSettings
from ..tasks.loading import LoadedData, load_data_task, load_run_task
from .workers import Jobs


class Session(QObject):
    """The active run, dataset and device; changes are announced with signals."""

    run_changed = pyqtSignal(object)  # Run or None
    data_changed = pyqtSignal(object)  # LoadedData or None
    status_changed = pyqtSignal()
    message = pyqtSignal(str)  # a short note for the status bar
    log = pyqtSignal(str)  # a line for the Log
    data_failed = pyqtSignal(str, str)  # the name that failed, what is shown instead ("": none)

    def __init__(self, host: PluginHost, jobs: Jobs, parent=None):
        super().__init__(parent)
        self.host = host
        self.jobs = jobs
        self.run = None
        self.chain = ChainSettings()  # what the next chain runs with; views observe it
        self.data: LoadedData | None = None
        self.data_name: str | None = None  # the user's choice; None: the run's own data
        self.working_choice: str | None = None  # the data_name that loaded last
        self.device = "auto"
        self.lock = threading.RLock()
        self.note = ""  # why there is no run, shown in the chain view
        self._bn_waiting: list = []  # (run, then, on_fail) until precise statistics exist
        self._bn_run = None  # the run whose precise statistics are being prepared

    # --- runs ------------------------------------------------------------------------------
    def open_run(self, path: Path | str | None = None, model: str | None = None) -> None:
        """Open a run folder, or the bundled run of ``model``, in a worker."""
        self.jobs.start("Open run", load_run_task, host=self.host, path=path, model=model,
                        device=self.device,
                        key="run", on_return=self._run_loaded, on_error=self._run_failed)

    def bundled(self) -> list[str]:
        from ..api import bundled_models

        return bundled_models()

    def set_device(self, device: str) -> None:
        self.device = device
        if self.run is not None and self.run.path is not None:
            self.open_run(self.run.path)
        self.status_changed.emit()

    def _run_loaded(self, run) -> None:
        self.run = run
        self.chain.model = run.name
        self.note = ""
        self.data = None  # reloaded below at the run's image size
        self.data_changed.emit(None)
        self.run_changed.emit(run)
        self.status_changed.emit()
        self.message.emit(f"Opened {run.name} run {run.path}")
        self.load_data(self.data_name)

    def _run_failed(self, exc) -> None:
        if self.run is None:
            self.note = str(exc)
            self.run_changed.emit(None)
            if self.data is None:  # the gallery still shows data
                self.load_data(self.data_name)

    # --- batch norm -----------------------------------------------------------------------
    def with_bn(self, bn_mode: str, then, on_fail=None) -> None:
        """Call ``then()`` once ``bn_mode`` can be used with the open run. "precise" first
        estimates the statistics on the run's training data in a job (once per loaded model,
        and cached on disk); ``on_fail()`` if that fails or is cancelled."""
        run = self.run
        if run is None or run.has_bn_stats(bn_mode):
            then()
            return
        self._bn_waiting.append((run, then, on_fail))
        if self._bn_run is run and self.jobs.running("precise-bn"):
            return  # already being prepared
        from ..tasks.precise import precise_bn_task

        self._bn_run = run
        self.jobs.start("Precise batch norm", precise_bn_task, run=run, lock=self.lock,
                        host=self.host, data=self.data_name,
                        key="precise-bn", on_finish=lambda: self._bn_done(run))

    def _bn_done(self, run) -> None:
        if self.jobs.running("precise-bn"):
            return  # a newer preparation (another run) answers its own callers
        self._bn_run = None
        waiting, self._bn_waiting = self._bn_waiting, []
        for asked, then, on_fail in waiting:
            if asked is not self.run:
                continue  # the run changed meanwhile
            if asked.has_bn_stats("precise"):
                then()
            elif on_fail is not None:
                on_fail()

    # --- data ------------------------------------------------------------------------------
    def default_data(self) -> str:
        from ..data import default_dataset

        default = default_dataset(self.host.datasets) or ""
        if self.run is not None:
            try:
                return self.run.config.data_source() or default
            except GenaeError:  # its recorded path is gone: loading it says so
                return self.run.config.data.get("data") or default
        return default

    def load_data(self, name: str | None = None, *, explicit: bool = False,
                  data_format: str | None = None) -> None:
        """Load the test split of ``name`` (None: the run's dataset) at the run's image size,
        in ``data_format`` (None: detected)."""
        if explicit:
            self.data_name = name
        name = name or self.default_data()
        model = self.run.model if self.run is not None else None
        size = model.image_size if model is not None else None
        channels = model.channels if model is not None else None
        choice = self.data_name
        self.jobs.start("Load data", load_data_task, host=self.host, name=name, image_size=size,
                        channels=channels, data_format=data_format, key="data",
                        on_return=lambda data: self._data_loaded(data, choice),
                        on_error=lambda _exc: self._data_failed(name, choice))

    def _data_loaded(self, data: LoadedData, choice: str | None = None) -> None:
        self.data = data
        self.working_choice = choice
        self.data_changed.emit(data)
        self.status_changed.emit()

    def _data_failed(self, name: str, choice: str | None) -> None:
        """Back to the last working state: the data still loaded, else the run's own data."""
        if self.data_name != choice:
            return  # the user chose again meanwhile
        if self.data is not None:
            self.data_name = self.working_choice
            self.data_failed.emit(name, self.data.name)
        elif choice is not None:  # the choice failed with a new run: fall back to its data
            self.data_name = None
            self.data_failed.emit(name, self.default_data())
            self.load_data(None)
        else:
            self.data_failed.emit(name, "")
        self.status_changed.emit()

    # --- status ----------------------------------------------------------------------------
    def device_label(self) -> str:
        if self.run is not None:
            resolved = str(self.run.device)
            return self.device if self.device == resolved else f"{self.device} ({resolved})"
        return self.device

    def status_text(self) -> str:
        run = self.run
        model = f"{run.name}" + (f" (plugin {run.config.plugin})" if run.config.plugin
                                 else "") if run else "none"
        path = str(run.path) if run is not None and run.path else "no run"
        if self.data is not None:
            data = f"{self.data.name} (test, {len(self.data.images)} images)"
        else:
            data = self.data_name or "none"
        return f"Model: {model}   |   Run: {path}   |   Data: {data}"
