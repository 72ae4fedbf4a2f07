"""The latent view's data: encoded held-out images and prior samples, the fitted 2-D views
(genae_studio.latent: means, joint, discriminant) and the data score, fitted once per run and
dataset; chain points and interpolation paths are projected with them, never refitted."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..latent import (
    ENCODE_BATCH,
    METHODS,
    DataScore,
    EncodedData,
    LatentProjection,
    best_view,
    encode_data,
    fit_views,
)
from .progress import Progress, raise_if_stopped, reporter


@dataclass
class LatentCloud:
    """Encoded held-out data and prior samples, the fitted 2-D views and the data score.

    ``method`` picks the view that ``project``, ``explained``, ``data_xy`` and ``prior_xy`` use;
    ``auto`` is the view whose axes hold the most encoded-data variance.
    """

    encoded: EncodedData
    views: dict[str, LatentProjection]
    score: DataScore
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    method: str = "auto"
    _xy: dict = field(default_factory=dict, repr=False)

    @property
    def view(self) -> LatentProjection:
        return best_view(self.views) if self.method == "auto" else self.views[self.method]

    @property
    def explained(self) -> np.ndarray:
        return self.view.explained

    def project(self, z: np.ndarray) -> np.ndarray:
        return self.view.project(z)

    def _clouds(self) -> tuple[np.ndarray, np.ndarray]:
        key = self.view.method
        if key not in self._xy:
            self._xy[key] = (self.view.project(self.encoded.codes),
                             self.view.project(self.encoded.prior))
        return self._xy[key]

    @property
    def data_xy(self) -> np.ndarray:
        return self._clouds()[0]

    @property
    def prior_xy(self) -> np.ndarray:
        return self._clouds()[1]


def encode_images(run, lock, images: np.ndarray, bn_mode: str, sample: bool = False,
                  text: str = "encoding"):
    """Yield Progress per batch; return the codes of uint8 ``images``, encoded in even
    batches (batch norm needs more than a few images)."""
    parts = np.array_split(np.arange(len(images)), max(1, round(len(images) / ENCODE_BATCH)))
    out = []
    for k, idx in enumerate(parts):
        with lock:
            z = run.encode(images[idx], sample=sample, bn_mode=bn_mode)
        out.append(z.float().cpu().numpy())
        yield Progress(k + 1, len(parts), f"{text} {len(images)} images")
    return np.concatenate(out)


def fit_latent_task(*, run, lock, data, bn_mode: str, seed: int = 0,
                    report: Callable[[object], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> LatentCloud:
    """Encode held-out ``data`` (a LoadedData: posterior means and samples of P^(Z)), draw as
    many prior samples, fit every view and the data score."""
    report = reporter(report)

    def progress(done, total):
        raise_if_stopped(should_stop, "fitting the latent view")
        report(Progress(done, total, f"encoding {len(data.images)} held-out images"))

    encoded = encode_data(run, data.images, bn_mode=bn_mode, seed=seed, batch=ENCODE_BATCH,
                          progress=progress, lock=lock)
    report(Progress(0, 0, "fitting the latent views"))
    views = {}
    for method in METHODS:
        raise_if_stopped(should_stop, "fitting the latent view")
        views[method] = fit_views(encoded, [method], seed)[method]
    report(Progress(0, 0, "fitting the data score"))
    score = DataScore.fit(encoded, seed)
    return LatentCloud(encoded, views, score, data.labels,
                       getattr(data.dataset, "label_names", None), data.attributes)
