"""Start the studio: the QApplication, settings and the main window."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from ..env import settings_file, widget_map_file
from ..plugins import PluginHost

ORG, APP = "genae-studio", "genae-studio"


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, or a new one named for QSettings."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    from .. import __version__

    app.setApplicationVersion(__version__)
    return app


def studio_settings() -> QSettings:
    """QSettings: $GENAE_STUDIO_SETTINGS (an .ini file) or the platform's store."""
    path = settings_file()
    return QSettings(str(path), QSettings.Format.IniFormat) if path else QSettings()


def create_window(host: PluginHost, *, checkpoint: Path | None = None, data: str | None = None,
                  device: str | None = None, settings: QSettings | None = None,
                  debug: bool = False):
    """The main window (not shown); opens ``checkpoint``, else the last run, else the bundled
    one."""
    from .main_window import MainWindow

    return MainWindow(host, settings if settings is not None else studio_settings(),
                      checkpoint=checkpoint, data=data, device=device, debug=debug)


def reserve_gui_core() -> None:
    """Keep the GUI thread responsive: torch's intra-op threads use the other cores, worker
    threads run at a lower priority, and the GIL changes hands every millisecond
    (genae_studio.tasks.system.leave_a_core_free).

    An explicit OMP_NUM_THREADS (or torch.set_num_threads) below the core count is kept.
    """
    from ..tasks.system import leave_a_core_free
    from . import workers

    leave_a_core_free()
    # Workers run at a lower priority (Linux), so a busy machine still schedules the GUI
    # thread first.
    workers.WORKER_NICENESS = 10


# genae_studio.env.WIDGET_MAP_ENV names a file the running studio keeps up to date with where
# its controls are on the screen and what it shows (JSON): the Xvfb smoke test
# (tests/gui/test_xvfb_smoke.py) reads it to aim real xdotool clicks and drags.


def widget_map(window) -> dict:
    """Screen rectangles [x, y, w, h] of the controls a smoke test uses, the centres of the
    gallery images in view, and a little state."""
    from PyQt6.QtCore import QPoint

    def rect(widget):
        if widget is None or not widget.isVisible():
            return None
        top_left = widget.mapToGlobal(QPoint(0, 0))
        return [top_left.x(), top_left.y(), widget.width(), widget.height()]

    cv, gallery = window.chain_view, window.interp_panel.gallery
    centres = []
    for k in range(min(16, gallery.count())):
        cell = gallery.visualItemRect(gallery.item(k))
        if gallery.viewport().rect().contains(cell.center()):  # only what can be seen
            centre = gallery.viewport().mapToGlobal(cell.center())
            centres.append([centre.x(), centre.y()])
    run = window.session.run
    return {"widgets": {"window": rect(window), "grid": rect(cv.grid),
                        "step": rect(cv.step_button), "model": rect(window.pickers.model_combo),
                        "gallery": rect(gallery)},
            "gallery": centres,
            "state": {"run": run.name if run is not None else None,
                      "last_t": cv.history.last_t if len(cv.history) else None,
                      "interpolated": window.interp_panel.result is not None,
                      "latent": window.latent_view.cloud is not None,
                      "jobs": [job.name for job in window.jobs.active()]}}


def _keep_widget_map(window, path: str) -> None:
    import json

    from PyQt6.QtCore import QTimer

    from ..fileio import atomic_write_bytes

    def write():
        atomic_write_bytes(path, json.dumps(widget_map(window)).encode())

    timer = QTimer(window, interval=300)
    timer.timeout.connect(write)
    timer.start()


def run_studio(args, host: PluginHost) -> int:
    """Entry point of ``genae-studio`` without a command; returns the exit code."""
    app = application()
    reserve_gui_core()
    window = create_window(host, checkpoint=args.checkpoint, data=args.data,
                           device=None if args.device == "auto" else args.device,
                           debug=bool(getattr(args, "debug", False)))
    window.show()
    if widget_map_file() is not None:
        _keep_widget_map(window, str(widget_map_file()))
    # Ctrl+C in the terminal closes the window cleanly (settings saved, jobs stopped);
    # the timer lets Python run its signal handler while Qt's loop is busy.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    tick = QTimer(interval=250)
    tick.timeout.connect(lambda: None)
    tick.start()
    try:
        code = app.exec()
    finally:
        signal.signal(signal.SIGINT, previous)
    return end_process(code)


def end_process(code: int) -> int:
    """After the window closed: a stopped training writes its checkpoint (waited for); other
    jobs get workers.EXIT_GRACE_S to notice their cancel flag. A job still inside a long torch
    call cannot, so the process ends without it (nothing it writes is left half-done: every
    file is written atomically) instead of waiting for it for a minute."""
    from . import workers

    if workers.end_jobs():
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
