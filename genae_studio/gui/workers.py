"""Thread workers in the style of superqt: a job runs a function or generator in a pool thread.

A job function receives a ``Job`` as its first argument. A generator job yields values; between
yields the worker checks the abort flag. A plain function can call ``job.emit(value)`` and
``job.check()`` itself (for callback-style code such as the training loop). Values reach the GUI
thread through queued signals; workers hand over numpy arrays, never Qt or pyqtgraph objects.
"""
from __future__ import annotations

import inspect
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from ..errors import Cancelled


@dataclass
class Progress:
    """A progress report a job may yield or emit: ``done`` of ``total`` (total 0: busy)."""

    done: float = 0
    total: float = 0
    text: str = ""


class WorkerSignals(QObject):
    started = pyqtSignal()
    yielded = pyqtSignal(object)
    progress = pyqtSignal(object)  # Progress
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception, with .traceback_text
    aborted = pyqtSignal()
    finished = pyqtSignal()


class Job:
    """What a job function sees: emit values, report progress, check for cancellation."""

    def __init__(self, name: str):
        self.name = name
        self.signals = WorkerSignals()
        self._abort = threading.Event()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def abort(self) -> None:
        self._abort.set()

    def check(self) -> None:
        """Raise Cancelled if the job was asked to stop."""
        if self._abort.is_set():
            raise Cancelled(f"{self.name}: cancelled")

    def emit(self, value) -> None:
        if isinstance(value, Progress):
            self.signals.progress.emit(value)
        else:
            self.signals.yielded.emit(value)

    def progress(self, done: float, total: float = 0, text: str = "") -> None:
        self.signals.progress.emit(Progress(done, total, text))


#: Niceness of worker threads on Linux (0: as the GUI thread). The studio sets 10, so that the
#: scheduler prefers the GUI thread over chains and training on a busy machine (see app.py).
WORKER_NICENESS = 0


def lower_thread_priority(niceness: int) -> None:
    """Raise this thread's niceness to at least ``niceness`` (Linux: niceness is per thread;
    the torch/OpenMP threads this thread starts inherit it). Elsewhere it does nothing."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:  # not allowed: the thread keeps its priority
        pass


class Worker(QRunnable):
    """Runs ``func(job, *args, **kwargs)`` in a pool thread and reports through ``job.signals``."""

    def __init__(self, job: Job, func: Callable, *args, **kwargs):
        super().__init__()
        self.setAutoDelete(False)  # the Jobs manager keeps the Python object alive
        self.job = job
        self._call = (func, args, kwargs)

    def run(self) -> None:
        try:
            self._run()
        except RuntimeError:  # the window, and with it the job's signals, went away meanwhile
            pass

    def _run(self) -> None:
        lower_thread_priority(WORKER_NICENESS)
        sig = self.job.signals
        func, args, kwargs = self._call
        sig.started.emit()
        try:
            self.job.check()
            result = func(self.job, *args, **kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
            sig.returned.emit(result)
        except Cancelled:
            sig.aborted.emit()
        except Exception as exc:  # shown to the user by the GUI, never a crash
            exc.traceback_text = traceback.format_exc()
            sig.errored.emit(exc)
        finally:
            sig.finished.emit()

    def _drain(self, gen):
        try:
            while True:
                self.job.check()
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.job.emit(value)
        finally:
            gen.close()


class Jobs(QObject):
    """Starts, tracks and cancels jobs. A new job with the same ``key`` cancels the old one.

    After ``shutdown`` (the window closes) signals still queued from workers are dropped: their
    callbacks would reach widgets that are being deleted.
    """

    changed = pyqtSignal()  # a job started, finished or reported progress
    error = pyqtSignal(str, object)  # job name, exception

    def __init__(self, parent=None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._workers: dict[Job, Worker] = {}
        self._keys: dict[str, Job] = {}
        self.last_progress: dict[Job, Progress] = {}
        self.started_at: dict[Job, float] = {}
        self.failed: dict[str, bool] = {}  # job name -> whether its last run failed
        self.closed = False

    def start(self, name: str, func: Callable, *args, key: str | None = None,
              on_yield: Callable | None = None, on_return: Callable | None = None,
              on_error: Callable | None = None, on_finish: Callable | None = None,
              **kwargs) -> Job:
        """Run ``func(job, *args, **kwargs)``; callbacks run on the GUI thread."""
        if key is not None and key in self._keys:
            self._keys[key].abort()
        job = Job(name)
        sig = job.signals
        if on_yield:
            sig.yielded.connect(self._unless_closed(on_yield))
        if on_return:
            sig.returned.connect(self._unless_closed(on_return))
        sig.returned.connect(lambda _value: self.failed.__setitem__(name, False))
        sig.errored.connect(lambda exc: self._failed(job, exc, on_error))
        sig.progress.connect(lambda p: self._progress(job, p))
        sig.finished.connect(lambda: self._finished(job, key, on_finish))
        if key is not None:
            self._keys[key] = job
        worker = Worker(job, func, *args, **kwargs)
        self._workers[job] = worker
        self.started_at[job] = time.perf_counter()
        self.pool.start(worker)
        self.changed.emit()
        return job

    def active(self) -> list[Job]:
        return list(self._workers)

    def job(self, key: str) -> Job | None:
        """The running job started with ``key``, if any."""
        return self._keys.get(key)

    def failed_last(self, name: str) -> bool:
        """Whether the last finished job called ``name`` failed."""
        return self.failed.get(name, False)

    def is_current(self, job: Job, key: str) -> bool:
        return self._keys.get(key) is job

    def running(self, key: str) -> bool:
        return key in self._keys

    def cancel(self, key: str | None = None) -> None:
        """Cancel the job with ``key``, or every job."""
        jobs = [self._keys[key]] if key in self._keys else [] if key else list(self._workers)
        for job in jobs:
            job.abort()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job, wait for them, and ignore whatever they still deliver."""
        self.closed = True
        self.cancel()
        return self.wait(timeout_ms)

    def _unless_closed(self, callback: Callable) -> Callable:
        return lambda value: None if self.closed else callback(value)

    # --- signal handlers (GUI thread) -----------------------------------------------------
    def _progress(self, job: Job, progress: Progress) -> None:
        if self.closed:
            return
        self.last_progress[job] = progress
        self.changed.emit()

    def _failed(self, job: Job, exc: Exception, on_error) -> None:
        if self.closed:
            return
        self.failed[job.name] = True
        if on_error is not None:
            on_error(exc)
        self.error.emit(job.name, exc)

    def _finished(self, job: Job, key: str | None, on_finish) -> None:
        self._workers.pop(job, None)
        self.last_progress.pop(job, None)
        self.started_at.pop(job, None)
        if key is not None and self._keys.get(key) is job:
            del self._keys[key]
        if self.closed:
            return
        if on_finish is not None:
            on_finish()
        self.changed.emit()
