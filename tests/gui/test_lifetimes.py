"""Jobs outlive their window: closing never waits for them, deleting the window never waits
either, and what they still deliver reaches no deleted object (this used to crash Qt)."""
import gc
import threading

from PyQt6 import sip

from genae_studio.gui.workers import Jobs
from genae_studio.tasks.progress import Progress


def _open_unmanaged(qtbot, host, settings):
    """A window this test deletes itself (pytest-qt would close it again afterwards)."""
    from genae_studio.gui.app import create_window

    window = create_window(host, settings=settings, device="cpu")
    window.show()
    qtbot.waitUntil(lambda: window.latent_view.cloud is not None
                    and len(window.chain_view.history) >= 1, timeout=60_000)
    return window


def _stubborn(began, release, emitted, stopped):
    """A job that sees no cancel for a while, then keeps emitting values and progress."""

    def job_function(report):
        began.set()
        release.wait(30)  # a long batch: the cancel is noticed only afterwards
        for i in range(50):
            report(i)
            report(Progress(i, 50, "still going"))
            emitted.append(i)
        stopped.set()
        return "done"

    return job_function


def test_a_deleted_window_gets_nothing_from_its_running_jobs(qtbot, host, bundled, settings):
    window = _open_unmanaged(qtbot, host, settings)
    began, release, stopped = threading.Event(), threading.Event(), threading.Event()
    emitted, delivered = [], []
    info = window.chain_view.info

    def deliver(value):  # would touch a deleted widget if it ran after the window went
        delivered.append(value)
        info.setText(str(value))

    job = window.jobs.start("Stubborn", _stubborn(began, release, emitted, stopped), key="stubborn",
                            on_yield=deliver, on_return=deliver, on_finish=lambda: deliver(-1))
    # A job cancelled before it starts never runs; on a loaded machine the pool may start it late.
    assert began.wait(60)
    window.close()
    assert job.aborted and not stopped.is_set()  # close() cancelled it and did not wait
    jobs = window.jobs
    sip.delete(window)  # what pytest-qt does later, here while the job still runs
    assert sip.isdeleted(jobs) and not stopped.is_set()  # deleting did not wait either
    del window, jobs
    gc.collect()  # nothing the running worker uses may go with the window's Python objects
    release.set()
    assert stopped.wait(30) and len(emitted) == 50
    qtbot.wait(100)  # deliver whatever the worker queued
    assert delivered == []
    # The process goes on: more windows open, run a chain, close and are deleted.
    for _ in range(2):
        again = _open_unmanaged(qtbot, host, settings)
        again.chain_view.run_steps(2)
        qtbot.waitUntil(lambda a=again: a.chain_view.history.last_t >= 2, timeout=60_000)
        again.close()
        sip.delete(again)
        gc.collect()
        qtbot.wait(50)


def test_a_job_started_after_shutdown_delivers_nothing(qtbot):
    jobs = Jobs()
    jobs.shutdown(0)
    seen = []
    jobs.start("late", lambda: seen.append("ran") or "result", on_return=seen.append,
               on_finish=lambda: seen.append("finished"))
    assert jobs.wait(10_000)
    qtbot.wait(50)
    assert seen == []  # cancelled before it ran, and nothing delivered
