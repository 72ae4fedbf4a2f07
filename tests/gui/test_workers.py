"""Thread workers: values, progress, results, errors and cancellation reach the GUI thread."""
import threading
import time

import pytest
from PyQt6.QtCore import QThread

from genae_studio.gui.workers import Jobs
from genae_studio.tasks.progress import Progress


@pytest.fixture
def jobs(qtbot):
    jobs = Jobs()
    yield jobs
    jobs.shutdown()


def test_generator_job_yields_on_the_gui_thread(qtbot, jobs):
    gui = QThread.currentThread()
    seen, threads, result = [], [], []

    def count(n):
        threads.append(threading.current_thread())
        for i in range(n):
            yield Progress(i + 1, n, "counting")
            yield i
        return "done"

    def on_yield(value):
        assert QThread.currentThread() is gui
        seen.append(value)

    job = jobs.start("count", count, 5, on_yield=on_yield, on_return=result.append)
    qtbot.waitUntil(lambda: bool(result), timeout=5000)
    assert seen == [0, 1, 2, 3, 4] and result == ["done"]
    assert threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: not jobs.active(), timeout=5000)
    assert job not in jobs.last_progress


def test_errors_become_signals_with_tracebacks(qtbot, jobs):
    errors = []

    def broken():
        raise ValueError("bad value")

    with qtbot.waitSignal(jobs.error, timeout=5000) as blocker:
        jobs.start("broken", broken, on_error=errors.append)
    name, exc = blocker.args
    assert name == "broken" and isinstance(exc, ValueError) and errors == [exc]
    assert "Traceback" in exc.traceback_text and "bad value" in exc.traceback_text


def test_abort_stops_a_generator_between_yields(qtbot, jobs):
    seen, returned, aborted = [], [], []

    def forever():
        i = 0
        while True:
            time.sleep(0.005)
            yield i
            i += 1

    job = jobs.start("forever", forever, key="k", on_yield=seen.append,
                     on_return=returned.append)
    job.signals.aborted.connect(lambda: aborted.append(True))
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=5000)
    jobs.cancel("k")
    qtbot.waitUntil(lambda: bool(aborted), timeout=5000)
    assert not returned and not jobs.running("k")


def test_a_new_job_with_the_same_key_cancels_the_old(qtbot, jobs):
    done = []

    def slow(tag):
        for _ in range(200):
            time.sleep(0.005)
            yield tag
        return tag

    first = jobs.start("a", slow, "a", key="same", on_return=done.append)
    second = jobs.start("b", slow, "b", key="same", on_return=done.append)
    assert first.aborted and not second.aborted
    assert jobs.is_current(second, "same")
    second.abort()
    assert jobs.wait(5000)
    qtbot.waitUntil(lambda: not jobs.active(), timeout=5000)
    assert done == []


def test_after_shutdown_late_results_reach_no_callback(qtbot, jobs):
    """A closing window shuts its jobs down; what workers still deliver must be dropped, or it
    would reach deleted widgets."""
    seen, finished = [], []

    def slow():
        for i in range(1000):
            time.sleep(0.002)
            yield i

    jobs.start("slow", slow, on_yield=seen.append, on_finish=lambda: finished.append(1))
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=5000)
    assert jobs.shutdown(5000)
    count = len(seen)
    qtbot.wait(100)  # deliver anything still queued
    assert len(seen) == count and finished == [] and not jobs.active()


def test_workers_run_at_a_lower_priority_when_asked(qtbot, monkeypatch):
    import os
    import sys

    from genae_studio.gui import workers

    if not sys.platform.startswith("linux"):
        pytest.skip("thread niceness is a Linux feature")
    monkeypatch.setattr(workers, "WORKER_NICENESS", 10)
    jobs = workers.Jobs()
    got = []
    jobs.start("nice", lambda: got.append(
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    jobs.shutdown(10_000)
    assert got[0] >= 10
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 10  # not the GUI thread


def test_a_callback_task_is_given_report_and_should_stop(qtbot, jobs):
    """Tasks that work through callbacks (training, feature networks) declare ``report`` and
    ``should_stop``; the worker passes them, and a task that declares neither gets neither."""
    from genae_studio.errors import Cancelled

    seen, progress, stopped_at = [], [], []

    def loop(n, *, report, should_stop):
        for i in range(n):
            report(i)
            report(Progress(i + 1, n, "looping"))
            if should_stop():
                stopped_at.append(i)
                raise Cancelled("loop: cancelled")
            time.sleep(0.005)

    job = jobs.start("loop", loop, 10_000, on_yield=seen.append)
    job.signals.progress.connect(progress.append)
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=5000)
    jobs.cancel()
    qtbot.waitUntil(lambda: not jobs.active(), timeout=5000)
    assert seen[:3] == [0, 1, 2] and stopped_at and stopped_at[0] < 10_000
    # Connected after the start: the first reports may come before the connection.
    done = [p.done for p in progress]
    assert progress[0].text == "looping" and done == list(range(done[0], done[0] + len(done)))
    plain = []
    jobs.start("plain", lambda *args, **kwargs: plain.append((args, kwargs)))
    qtbot.waitUntil(lambda: bool(plain) and not jobs.active(), timeout=5000)
    assert plain == [((), {})]


def test_at_exit_essential_jobs_are_waited_for_and_stuck_ones_abandoned(qtbot, jobs,
                                                                        monkeypatch):
    """Closing the studio ends the process soon (issue 21): a job stuck in a call that never
    looks at its cancel flag is abandoned after the grace time (end_process then calls
    os._exit), while a training (essential) is waited for until it has saved."""
    from genae_studio.gui import app, workers

    release, saved, began = threading.Event(), threading.Event(), threading.Semaphore(0)

    def stuck():
        began.release()
        release.wait(30)  # a long torch call: the cancel flag is not seen

    def training(should_stop):
        began.release()
        while not should_stop():
            time.sleep(0.01)
        time.sleep(0.3)  # the last batch, then the checkpoint
        saved.set()

    jobs.start("stuck", stuck)
    jobs.start("Training", training, essential=True)
    assert began.acquire(timeout=5) and began.acquire(timeout=5)
    assert workers.end_jobs(grace_s=0.2) is False
    assert saved.is_set()  # the essential job ended before end_jobs returned
    exits = []
    monkeypatch.setattr(app.os, "_exit", exits.append)
    assert app.end_process(0) is None and exits == [0]  # the stuck job does not hold it
    release.set()
    qtbot.waitUntil(lambda: not jobs.active(), timeout=5000)
    monkeypatch.setattr(workers, "EXIT_GRACE_S", 5.0)
    assert workers.end_jobs() is True and app.end_process(3) == 3
