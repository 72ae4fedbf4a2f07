"""Opening runs and held-out data for the studio."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import Cancelled
from .progress import Progress, decode_reporter, reporter

DATA_LIMIT = 1000  # held-out images used for the latent view and the gallery


@dataclass
class LoadedData:
    """The held-out (test) split of a dataset, at the run's image size."""

    name: str  # what the user chose: a built-in name or a path
    dataset: object  # genae_studio.data.ImageDataset
    images: np.ndarray  # uint8 (N, C, H, W), at most DATA_LIMIT

    @property
    def labels(self):
        return self.dataset.labels[:len(self.images)] if self.dataset.labels is not None else None

    @property
    def attributes(self) -> dict:
        attrs = self.dataset.attributes or {}
        return {k: np.asarray(v)[:len(self.images)] for k, v in attrs.items()}


def load_run_task(*, host, path, model: str | None, device: str):
    """The run folder ``path``, or the bundled run of ``model``; returns a genae_studio Run."""
    from ..api import load_run

    yield Progress(0, 0, f"opening {path or 'the bundled ' + (model or 'vae') + ' run'}")
    return load_run(path, model=model, device=device, host=host)


#: What the command line calls --data-format is a choice of the studio's Open dialogs.
FORMAT_HINT = "choose its format in the Open dataset dialog's file-type list"


def load_data_task(*, host, name: str, image_size: int | None, channels: int | None,
                   data_format: str | None = None,
                   report: Callable[[object], None] | None = None,
                   should_stop: Callable[[], bool] | None = None):
    """The test split of dataset ``name`` (in ``data_format``, None: detected) at
    ``image_size``; checked against ``channels``. A dataset that loads but does not fit the
    run raises a DataError with ``fits_not`` set to ``name`` (the window offers to train a
    model on it). The first decode of a dataset into the cache reports its progress and
    stops when asked (nothing of it is kept)."""
    from ..data import check_fits, resolve_dataset
    from ..data.cache import CacheBuildCancelled
    from ..errors import DataError

    report = reporter(report)
    report(Progress(0, 0, f"loading {name}"))
    try:
        dataset = resolve_dataset(name, host.datasets, data_format=data_format, split="test",
                                  image_size=image_size, limit=DATA_LIMIT,
                                  progress=decode_reporter(report, f"the test split of {name}"),
                                  cancel=should_stop)
    except CacheBuildCancelled:
        raise Cancelled(f"loading {name}: cancelled") from None
    except DataError as exc:
        raise DataError(str(exc).replace("choose one with --data-format", FORMAT_HINT)) \
            from None
    report(Progress(0, 0, f"reading {name}"))
    if channels is not None:
        try:
            check_fits(dataset, channels, name=name, hint="; choose another dataset")
        except DataError as exc:
            exc.fits_not = name
            raise
    n = min(len(dataset), DATA_LIMIT)
    return LoadedData(name, dataset, dataset.batch(np.arange(n)))
