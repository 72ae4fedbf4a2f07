"""Precise batch-norm statistics for the studio's open run (genae_studio.precise_bn)."""
from __future__ import annotations

import copy
from collections.abc import Callable

from ..errors import Cancelled
from .progress import Progress, decode_reporter, raise_if_stopped, reporter


def precise_bn_task(*, run, lock, host, data: str | None = None,
                    report: Callable[[object], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> None:
    """Estimate the run's precise batch-norm statistics on its training data (or on the
    training split of ``data``, the studio's --data), or load them from the cache; they are
    installed on the model, so it is done once per loaded model."""
    report = reporter(report)
    report(Progress(0, 0, "precise batch norm: loading the training data"))
    from ..data.cache import CacheBuildCancelled

    try:
        data = run.training_data(host, data=data,
                                 progress=decode_reporter(report, "the training split"),
                                 cancel=should_stop)
    except CacheBuildCancelled:
        raise Cancelled("precise batch norm: cancelled") from None
    raise_if_stopped(should_stop, "precise batch norm")

    def progress(done: int, total: int) -> None:
        raise_if_stopped(should_stop, "precise batch norm")  # the statistics are restored
        report(Progress(done, total, f"precise batch norm: {done}/{total} training batches"))

    from ..sampling import has_precise_stats, install, precise_stats, prepare

    with lock:  # a consistent snapshot of the weights
        if has_precise_stats(run.model):
            return
        shadow = copy.deepcopy(run.model)
    # The estimate runs on the copy, without the lock: the chain keeps using the model.
    prepare(shadow, data, on_progress=progress)
    with lock:
        install(run.model, precise_stats(shadow))
