"""Thread workers in the style of superqt: a job runs a task of genae_studio.tasks in a pool
thread, and what it reports reaches the GUI thread through queued signals.

Tasks know nothing of workers (genae_studio.tasks.progress): a generator task yields
``Progress`` reports and values and returns its result, and the worker checks for cancellation
between yields; a task that works through callbacks declares the keyword arguments ``report``
and ``should_stop``, and the worker passes them. Tasks hand over numpy arrays, never Qt objects.

Lifetimes. A running worker (its QRunnable, its Job and the Job's signal emitter) is held by
this module until it has ended, never by a window, so deleting a window cannot delete what a
worker thread still uses. What a job delivers goes to a ``_Delivery``, a child QObject of the
``Jobs`` manager connected through real Qt slots: ``shutdown`` (the window closes) disconnects
the deliveries, and a deleted window takes them with it; Qt then drops what the worker still
queued, so nothing reaches a deleted object. The pool is shared and owned by no window:
deleting a window never waits for a job either.

Why not superqt's ``thread_worker``: its generator workers are what this module copies (yield
progress, abort between yields, started/yielded/returned/errored/finished signals), and the
studio uses superqt where it fits (``qthrottled`` throttles the chain view's redraws). Four
things it does not do, which the studio needs: a job started with a ``key`` cancels the
running job of that key (a new chain, fit or load replaces the old one); a task that works
through callbacks (training, precise batch norm) gets ``report`` and ``should_stop`` and can
be stopped within a batch, where superqt's function workers cannot be aborted; what a job
delivers goes through a child of the window's ``Jobs`` and dies with the window, where
superqt's signals stay connected to the callbacks of a closed window; and at exit an
essential job (training saving its checkpoint) is waited for while the others are abandoned
(``end_jobs``).
"""
from __future__ import annotations

import atexit
import inspect
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, QTimer, pyqtSignal, pyqtSlot

from ..errors import Cancelled
from ..tasks.progress import Progress

MAX_THREADS = 8  # the shared pool; jobs of a closed window may still be finishing their batch
REAP_S = 1.0  # an ended worker is released this long after it ended


class WorkerSignals(QObject):
    started = pyqtSignal()
    yielded = pyqtSignal(object)
    progress = pyqtSignal(object)  # Progress
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception, with .traceback_text
    aborted = pyqtSignal()
    finished = pyqtSignal()


class Job:
    """A running task as the GUI sees it: its name, its signals and its cancel flag.

    ``essential``: its end writes what the user keeps (a stopped training saves its checkpoint
    after its batch), so the process waits for it at exit; other jobs are abandoned."""

    def __init__(self, name: str, essential: bool = False):
        self.name = name
        self.essential = essential
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
        """Deliver a value (a Progress goes to the progress signal); a task's ``report``."""
        if isinstance(value, Progress):
            self.signals.progress.emit(value)
        else:
            self.signals.yielded.emit(value)


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
    """Runs ``func(*args, **kwargs)`` in a pool thread and reports through ``job.signals``."""

    def __init__(self, job: Job, func: Callable, *args, **kwargs):
        super().__init__()
        self.setAutoDelete(False)  # this module keeps the Python object alive (_RUNNING)
        self.job = job
        self._call = (func, args, {**kwargs, **_callbacks_for(func, job)})
        self.done = threading.Event()
        self.ended_at: float | None = None

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.ended_at = time.monotonic()
            self.done.set()

    def _run(self) -> None:
        lower_thread_priority(WORKER_NICENESS)
        sig = self.job.signals
        func, args, kwargs = self._call
        sig.started.emit()
        try:
            self.job.check()
            result = func(*args, **kwargs)
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


def _callbacks_for(func: Callable, job: Job) -> dict:
    """``report`` and ``should_stop`` for a task that declares them."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return {}
    offered = {"report": job.emit, "should_stop": lambda: job.aborted}
    return {name: value for name, value in offered.items() if name in params}


_RUNNING: set[Worker] = set()  # started workers, until REAP_S after they ended
_POOL: QThreadPool | None = None
EXIT_WAIT_S = 60  # at exit, an essential job (training saving its state) gets this long
EXIT_GRACE_S = 0.5  # and the others this long: the process ends within 2 s (issue 21)


def end_jobs(grace_s: float = EXIT_GRACE_S, essential_s: float = EXIT_WAIT_S) -> bool:
    """Cancel every running job; wait for the essential ones (up to ``essential_s``) and for
    the others up to ``grace_s``. False when a job still runs (a long torch call that cannot
    notice its cancel flag): the caller ends the process without it."""
    workers = list(_RUNNING)
    for worker in workers:
        worker.job.abort()
    start = time.monotonic()
    ended = True
    for worker in sorted(workers, key=lambda w: not w.job.essential):
        limit = essential_s if worker.job.essential else grace_s
        if not worker.done.wait(max(0.0, start + limit - time.monotonic())):
            ended = False
    return ended


@atexit.register
def _end_jobs_at_exit() -> None:
    """Cancel what still runs and let it end before the interpreter goes away under it."""
    end_jobs()


def _start(worker: Worker) -> None:
    """Run ``worker`` in the shared pool, holding it until it has ended."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(MAX_THREADS)
    now = time.monotonic()
    for old in [w for w in _RUNNING if w.ended_at is not None and now - w.ended_at > REAP_S]:
        _RUNNING.discard(old)
    _RUNNING.add(worker)
    _POOL.start(worker)


class _Delivery(QObject):
    """Receives one job's signals on the GUI thread and hands them to its ``Jobs`` manager.

    Connected through Qt slots and owned by the manager: when the manager is deleted (the
    window goes), Qt disconnects it and drops the events the worker still queued for it;
    ``close`` (shutdown) disconnects it at once and ignores what was queued before."""

    def __init__(self, jobs: Jobs, job: Job, key: str | None, callbacks: dict):
        super().__init__(jobs)
        self.jobs, self.job, self.key, self.callbacks = jobs, job, key, callbacks
        self.live = True
        self._links = [(job.signals.yielded, self.yielded), (job.signals.progress, self.progress),
                       (job.signals.returned, self.returned), (job.signals.errored, self.errored),
                       (job.signals.finished, self.finished)]
        for signal, slot in self._links:
            signal.connect(slot)

    def close(self) -> None:
        self.live = False
        self.callbacks = {}
        for signal, slot in self._links:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):  # already disconnected
                pass
        self.deleteLater()

    def _call(self, name: str, *args) -> None:
        callback = self.callbacks.get(name)
        if callback is not None:
            callback(*args)

    @pyqtSlot(object)
    def yielded(self, value) -> None:
        if self.live:
            self._call("on_yield", value)

    @pyqtSlot(object)
    def progress(self, value) -> None:
        if self.live:
            self.jobs._progress(self.job, value)

    @pyqtSlot(object)
    def returned(self, value) -> None:
        if self.live:
            self.jobs.failed[self.job.name] = False
            self._call("on_return", value)

    @pyqtSlot(object)
    def errored(self, exc) -> None:
        if self.live:
            self.jobs._failed(self.job, exc, self.callbacks.get("on_error"))

    @pyqtSlot()
    def finished(self) -> None:
        if self.live:
            self.live = False
            self.jobs._finished(self.job, self.key, self.callbacks.get("on_finish"))


class Jobs(QObject):
    """Starts, tracks and cancels jobs. A new job with the same ``key`` cancels the old one.

    After ``shutdown`` (the window closes) nothing a worker still delivers reaches a callback:
    its callbacks would reach widgets that are being deleted.
    """

    changed = pyqtSignal()  # a job started, finished or reported progress
    error = pyqtSignal(str, object)  # job name, exception

    def __init__(self, parent=None):
        super().__init__(parent)
        self._workers: dict[Job, Worker] = {}
        self._deliveries: dict[Job, _Delivery] = {}
        self._detached: list[Worker] = []  # still running after shutdown
        self._keys: dict[str, Job] = {}
        self.last_progress: dict[Job, Progress] = {}
        self.started_at: dict[Job, float] = {}
        self.failed: dict[str, bool] = {}  # job name -> whether its last run failed
        self.closed = False

    def start(self, name: str, func: Callable, /, *args, key: str | None = None,
              on_yield: Callable | None = None, on_return: Callable | None = None,
              on_error: Callable | None = None, on_finish: Callable | None = None,
              essential: bool = False, **kwargs) -> Job:
        """Run the task ``func(*args, **kwargs)`` (see the module's docstring); the callbacks
        run on the GUI thread. ``essential``: the process waits for it at exit (Job)."""
        job = Job(name, essential)
        worker = Worker(job, func, *args, **kwargs)
        if self.closed:  # a closed window runs nothing and hears nothing
            job.abort()
            self._detached.append(worker)
            _start(worker)
            return job
        if key is not None and key in self._keys:
            self._keys[key].abort()
        callbacks = {"on_yield": on_yield, "on_return": on_return, "on_error": on_error,
                     "on_finish": on_finish}
        self._deliveries[job] = _Delivery(self, job, key, callbacks)
        if key is not None:
            self._keys[key] = job
        self._workers[job] = worker
        self.started_at[job] = time.perf_counter()
        _start(worker)
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
        """Wait (blocking) until this manager's jobs have ended, those detached by shutdown
        too; False if ``timeout_ms`` (-1: no limit) ran out first."""
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        for worker in [*self._workers.values(), *self._detached]:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not worker.done.wait(left):
                return False
        return True

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job and drop whatever it still delivers; wait up to ``timeout_ms``
        (0: not at all) for the jobs to end."""
        self.closed = True
        self.cancel()
        for delivery in self._deliveries.values():
            delivery.close()
        self._deliveries.clear()
        self._detached += self._workers.values()
        self._workers.clear()
        self._keys.clear()
        self.last_progress.clear()
        self.started_at.clear()
        return self.wait(timeout_ms)

    # --- what the deliveries hand over (GUI thread) ----------------------------------------
    def _progress(self, job: Job, progress: Progress) -> None:
        self.last_progress[job] = progress
        self.changed.emit()

    def _failed(self, job: Job, exc: Exception, on_error) -> None:
        self.failed[job.name] = True
        if on_error is not None:
            on_error(exc)
        self.error.emit(job.name, exc)

    def _finished(self, job: Job, key: str | None, on_finish) -> None:
        self._workers.pop(job, None)
        self.last_progress.pop(job, None)
        self.started_at.pop(job, None)
        delivery = self._deliveries.pop(job, None)
        if delivery is not None:
            delivery.close()
        if key is not None and self._keys.get(key) is job:
            del self._keys[key]
        if on_finish is not None:
            on_finish()
        self.changed.emit()


def call_soon(owner: QObject, func: Callable[[], object]) -> None:
    """Call ``func`` once the event loop is free, unless ``owner`` is deleted meanwhile (a
    timer owned by it goes with it; QTimer.singleShot with a lambda would still fire)."""
    timer = QTimer(owner, singleShot=True, interval=0)
    timer.timeout.connect(func)
    timer.timeout.connect(timer.deleteLater)
    timer.start()
