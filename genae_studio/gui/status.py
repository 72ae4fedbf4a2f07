"""Status widgets: the notice banner (errors and information) and the running jobs in the
status bar."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from .workers import Jobs


class NoticeBanner(QFrame):
    """A dismissable line at the top of the window for errors (kind "error") and notices
    (kind "info")."""

    STYLES = {"error": "background: #fde2e1; color: #7a1010; border: 1px solid #f0a8a5;",
              "info": "background: #e6f0fb; color: #123c69; border: 1px solid #a9c6ea;"}

    def __init__(self, on_details, parent=None):
        super().__init__(parent)
        self.label = QLabel(wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details = QToolButton(text="Details")
        details.setToolTip("Show the log with the full traceback")
        details.clicked.connect(on_details)
        close = QToolButton(text="✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        self.action_button = QToolButton()  # the notice's offer ("Open it"), when it has one
        self.action_button.setToolTip("Do what the notice offers")
        self.action_button.clicked.connect(self._act)
        self.details = details
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.action_button)
        lay.addWidget(details)
        lay.addWidget(close)
        self.kind = ""
        self.source = ""  # the job whose failure is shown
        self._action = None
        self.hide()

    def show_message(self, text: str, kind: str = "error", source: str = "",
                     action: tuple[str, object] | None = None) -> None:
        """``action``: (button text, callable) offered beside the text; the notice goes
        when it is used."""
        self.kind, self.source = kind, source
        self.setStyleSheet(f"NoticeBanner {{ {self.STYLES[kind]} border-radius: 4px; }}")
        self.label.setText(text)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.details.setVisible(kind == "error")
        self.show()

    def _act(self) -> None:
        action, self._action = self._action, None
        self.hide()
        if action is not None:
            action()


class JobStatus(QWidget):
    """The running jobs in the status bar: name, progress and a cancel button."""

    def __init__(self, jobs: Jobs, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.label = QLabel()
        self.bar = QProgressBar(maximumWidth=140, maximumHeight=14, textVisible=False)
        self.cancel = QToolButton(text="✕")
        self.cancel.setToolTip("Cancel the running jobs (training stops and keeps its "
                               "checkpoint)")
        self.cancel.clicked.connect(lambda: jobs.cancel())
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.cancel):
            lay.addWidget(w)
        jobs.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        active = self.jobs.active()
        self.setVisible(bool(active))
        if not active:
            return
        job = active[-1]
        p = self.jobs.last_progress.get(job)
        text = p.text if p is not None and p.text else job.name.lower()
        more = f" (+{len(active) - 1})" if len(active) > 1 else ""
        self.label.setText(f"{text}{more}")
        if p is not None and p.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * p.done / p.total))
        else:
            self.bar.setRange(0, 0)  # busy
