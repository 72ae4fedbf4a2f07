"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

Python turns SIGINT into KeyboardInterrupt, and every command cleans up on it (scratch
files removed, the old outputs kept, a training's last checkpoint kept). ``as_interrupts``
makes SIGTERM and SIGHUP raise ``Interrupted``, a KeyboardInterrupt that remembers its
signal, so the same cleanup runs; ``exit_code`` gives the shell's 128 + signal number.
A signal that the parent set to be ignored (``nohup`` ignores SIGHUP) stays ignored.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A SIGTERM or SIGHUP, raised where the program was, like Ctrl-C's KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(exc: BaseException) -> str:
    """"SIGTERM" for an Interrupted, "SIGINT" for Ctrl-C."""
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process ended by it."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


@contextlib.contextmanager
def as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise Interrupted in the main thread (once: a
    second one while cleaning up is ignored, as the first is already being handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    delivered = []

    def handler(signum, frame):
        if delivered:
            return
        delivered.append(signum)
        raise Interrupted(signum)

    previous = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN:  # nohup: keep ignoring it
            continue
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
