"""How a studio task reports and stops, without any worker API.

A task is a plain generator: it yields ``Progress`` reports and values, and returns its result;
whoever runs it (the studio's workers, a test, a script) may stop between two yields. Code that
works through callbacks (training, the feature network, precise batch norm) takes keyword
callables instead: ``report(value)`` for what it would yield, and ``should_stop()``, which it
asks between batches and answers with ``Cancelled``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Cancelled


@dataclass
class Progress:
    """``done`` of ``total`` (total 0: busy, no measure), and what is being done."""

    done: float = 0
    total: float = 0
    text: str = ""


def raise_if_stopped(should_stop: Callable[[], bool] | None, what: str) -> None:
    """Raise Cancelled when ``should_stop()`` says so."""
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what}: cancelled")


def reporter(report: Callable[[object], None] | None) -> Callable[[object], None]:
    """``report``, or a callable that drops what it is given."""
    return report if report is not None else (lambda _value: None)


def decode_reporter(report: Callable[[object], None] | None, what: str) -> Callable:
    """A ``progress`` callback for the decoded-image cache's first pass
    (genae_studio.data.cache.CacheProgress) that reports a Progress about ``what``."""
    report = reporter(report)

    def progress(p) -> None:
        eta = f", about {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        report(Progress(p.done, p.total, f"decoding {what} once into the cache: "
                                         f"{p.done}/{p.total} images{eta}"))

    return progress
