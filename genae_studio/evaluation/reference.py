"""What every eval measure compares with: held-out codes, features and the feature spaces.

* :func:`feature_spaces` is the one place that turns a dataset into its feature spaces: it
  resolves the dataset's training split, then builds (trains, or loads from the cache) the
  feature network and, when asked, the pixel PCA. ``genae-studio eval``, :func:`build_reference`
  and the studio's metrics panel all go through it.
* :func:`build_reference` encodes up to n held-out images and takes their features: the
  :class:`Reference` that :mod:`genae_studio.evaluation.quality` measures chain steps against.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from ..api import Run
    from ..data import ImageDataset
    from ..features import FeatureExtractor, FeatureSettings
    from ..latent import DataScore
    from ..pixel_pca import PixelPCA


@dataclass
class FeatureSpaces:
    """A dataset's feature network and, when asked for, its pixel PCA (both cached)."""

    extractor: FeatureExtractor
    pca: PixelPCA | None = None


def feature_spaces(data: str, host, *, image_size: int, data_format: str | None = None,
                   heldout: ImageDataset | None = None, device="cpu",
                   settings: FeatureSettings | None = None,
                   extractor: FeatureExtractor | None = None, with_pca: bool = False,
                   retrain: bool = False, log: Callable[[str], None] | None = None,
                   on_progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> FeatureSpaces:
    """Resolve the training split of ``data``, then build its feature spaces from it.

    The feature network (:func:`genae_studio.features.feature_extractor`: loaded from the
    cache, else trained, scored on ``heldout``) unless an ``extractor`` is given, and with
    ``with_pca`` the pixel PCA (:func:`genae_studio.pixel_pca.pixel_pca`). ``on_progress``
    and ``should_stop`` reach the network's training loop, ``log`` its messages. Use this
    wherever a dataset's features are needed (the command line, scripts, the studio's
    workers), so that all of them train and cache the same network.
    """
    from ..data import resolve_dataset
    from ..features import feature_extractor

    train_set = resolve_dataset(data, host.datasets, split="train", data_format=data_format,
                                image_size=image_size)
    if extractor is None:
        extractor = feature_extractor(train_set, settings, heldout=heldout, device=device,
                                      retrain=retrain, log=log, on_progress=on_progress,
                                      should_stop=should_stop)
    pca = None
    if with_pca:
        from ..pixel_pca import pixel_pca

        pca = pixel_pca(train_set, retrain=retrain, log=log)
    return FeatureSpaces(extractor, pca)


@dataclass
class Reference:
    """What the per-step metrics compare against; built once per run by build_reference."""

    heldout: ImageDataset  # the n held-out images (with their labels/attributes)
    codes: np.ndarray  # (n, K) codes of held-out data: samples of P^(Z)
    prior: np.ndarray  # (n, K) draws of P(Z) = N(0, I)
    feats: np.ndarray  # (n, D) features of the held-out images
    mu: np.ndarray  # (D,) and (D, D): their mean and covariance
    sigma: np.ndarray
    extractor: FeatureExtractor
    attribute: str | None = None  # binary attribute for the interpolation measures, if any
    pca: PixelPCA | None = None  # the second feature space and its held-out statistics
    pca_feats: np.ndarray | None = None
    pca_mu: np.ndarray | None = None
    pca_sigma: np.ndarray | None = None
    spaces: tuple = ("cnn",)  # which spaces give fd/precision/recall columns
    kernel: str = "imq"
    latent_dim: int = 0
    image_shape: tuple = ()
    info: dict = field(default_factory=dict)
    score: DataScore | None = None  # P(looks like encoded data) of a code
    # n other held-out images and their codes: the floors' samples, at the chain rows' n
    other: ImageDataset | None = None
    other_codes: np.ndarray | None = None
    means: np.ndarray | None = None  # (n, K) posterior means of the held-out codes
    # Denoising models: codes of the same images encoded without corruption (``codes`` are of
    # corrupted images, Eq. 2's P^(Z)); other models: ``codes`` itself. Both models of a
    # comparison have this reference, so mmd_data_clean compares them on equal footing.
    clean_codes: np.ndarray | None = None
    other_clean_codes: np.ndarray | None = None
    extra_spaces: dict = field(default_factory=dict)  # name -> SpaceStats (weights files)


@dataclass
class SpaceStats:
    """An extra feature space (:mod:`.file_features`) with the held-out images' features."""

    features: Callable  # images -> (N, D) features
    feats: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    info: dict = field(default_factory=dict)


def encode_heldout(run: Run, images, *, bn_mode: str = "batch", seed: int = 0,
                   batch: int = 1000, corrupt: bool | None = None):
    """Codes of held-out images as the chain would produce them: samples of P^(Z), float64
    (:func:`genae_studio.latent.encode_images`); with ``corrupt=False`` a denoising model's
    codes of the clean images."""
    from ..latent import encode_images

    _, codes = encode_images(run, images, bn_mode=bn_mode, seed=seed, batch=batch, means=False,
                             corrupt=corrupt)
    return codes.astype("float64")


def decode(run: Run, z, *, bn_mode: str = "batch", batch: int = 1000):
    """Decoder mean images of codes z, float32 in [0, 1], in batches."""
    import numpy as np

    return np.concatenate([run.decode(z[s:s + batch], bn_mode=bn_mode).float().cpu().numpy()
                           for s in range(0, len(z), batch)])


def build_reference(run: Run, heldout: ImageDataset | None = None, *, n: int = 2000,
                    extractor: FeatureExtractor | None = None, host=None,
                    feature_settings: FeatureSettings | None = None, seed: int = 0,
                    bn_mode: str = "batch", kernel: str = "imq",
                    attribute: str | None = None, pca: PixelPCA | None = None,
                    spaces: tuple = ("cnn",), extra: tuple = ()) -> Reference:
    """Encode up to ``n`` held-out images and take their features: the metrics' reference.

    n is capped at half the held-out set: n *other* held-out images are the floors' samples
    (:func:`~.quality.reference_rows`), so every row is measured at the same n.
    ``extra`` holds feature networks read from weights files (:mod:`.file_features`).

    ``heldout`` defaults to the test split of the run's dataset, ``extractor`` to the cached
    feature network of its training split (trained on first use, which takes seconds to a
    minute on a CPU). ``attribute`` defaults to the dataset's registered binary attribute
    (``DatasetSpec.binary_attribute``) when its images have it. With "pca" in ``spaces``,
    ``pca`` (default: the cached pixel PCA of the training split) gives the second feature
    space's columns.
    """
    import numpy as np

    from .. import metrics
    from ..data import binary_attribute, check_fits
    from ..latent import DataScore, EncodedData, encode_data
    from ..plugins import load_plugins

    spaces = tuple(spaces)
    with_pca = "pca" in spaces and pca is None
    if heldout is None or extractor is None or with_pca:
        host = host or load_plugins()
        data, kwargs = _run_dataset(run, host)
        if heldout is None:
            from ..data import resolve_dataset

            heldout = resolve_dataset(data, host.datasets, split="test", **kwargs)
        if extractor is None or with_pca:
            built = feature_spaces(data, host, **kwargs, heldout=heldout, device=run.device,
                                   settings=feature_settings, extractor=extractor,
                                   with_pca=with_pca)
            extractor, pca = built.extractor, pca or built.pca
    check_fits(heldout, run.model.channels, run.model.image_size)
    count = min(int(n), len(heldout) // 2)
    if count < 10:
        raise DataError(f"{heldout.name}: {len(heldout)} held-out images; the metrics need 20 "
                        "(n to compare with and n other ones for the floors, n >= 10)")
    perm = np.random.default_rng(seed).permutation(len(heldout))
    subset = heldout.subset(np.sort(perm[:count]))
    other = heldout.subset(np.sort(perm[count:2 * count]))
    images = subset.batch(np.arange(count))
    # The same codes as encode_heldout, with the posterior means the data score needs.
    encoded = encode_data(run, images, bn_mode=bn_mode, seed=seed)
    codes = encoded.codes.astype(np.float64)
    prior = np.random.default_rng([seed, 1]).standard_normal((count, run.model.latent_dim))
    score = DataScore.fit(EncodedData(encoded.means, encoded.codes, prior.astype(np.float32)),
                          seed=seed)
    feats = extractor.features(images)
    default = None if attribute else binary_attribute((host or load_plugins()).datasets,
                                                      heldout.name)
    attribute = _pick_attribute(subset, extractor, attribute, default)
    pca_feats = pca.features(images) if "pca" in spaces else None
    # Its own random stream (seed + 1), so its VAE draws are not paired with the others'.
    other_images = other.batch(np.arange(count))
    other_codes = encode_data(run, other_images, bn_mode=bn_mode,
                              seed=seed + 1).codes.astype(np.float64)
    clean_codes, other_clean_codes = codes, other_codes
    if run.model.denoising:
        clean_codes = encode_heldout(run, images, bn_mode=bn_mode, seed=seed, corrupt=False)
        other_clean_codes = encode_heldout(run, other_images, bn_mode=bn_mode, seed=seed + 1,
                                           corrupt=False)
    extra_spaces = {}
    for net in extra:
        f = net.features(images)
        extra_spaces[net.name] = SpaceStats(net.features, f, f.mean(axis=0),
                                            np.cov(f, rowvar=False), dict(net.info))
    return Reference(heldout=subset, codes=codes, prior=prior, feats=feats,
                     mu=feats.mean(axis=0), sigma=np.cov(feats, rowvar=False),
                     extractor=extractor, attribute=attribute, kernel=kernel,
                     latent_dim=run.model.latent_dim,
                     image_shape=(run.model.channels, run.model.image_size,
                                  run.model.image_size),
                     pca=pca if "pca" in spaces else None, pca_feats=pca_feats,
                     pca_mu=None if pca_feats is None else pca_feats.mean(axis=0),
                     pca_sigma=None if pca_feats is None else np.cov(pca_feats, rowvar=False),
                     spaces=spaces,
                     info={"n": count, "data": heldout.name,
                           "typical_distance": metrics.typical_distance(feats, seed=seed),
                           "data_score": score.summary()}, score=score,
                     other=other, other_codes=other_codes, means=encoded.means,
                     clean_codes=clean_codes, other_clean_codes=other_clean_codes,
                     extra_spaces=extra_spaces)


def _run_dataset(run: Run, host) -> tuple[str, dict]:
    """The run's dataset name (default: the default dataset) and how to resolve it."""
    from ..data import default_dataset

    data = run.config.data_source() or default_dataset(host.datasets)
    return data, dict(data_format=run.config.data.get("format"),
                      image_size=run.model.image_size)


def _pick_attribute(dataset, extractor, attribute, default=None):
    """``attribute`` if the data has it as a binary attribute; else the dataset's registered
    ``binary_attribute`` (``default``) when the data has it; else None."""
    head = extractor.net.head(attribute or default)
    binary = head is not None and head.kind == "class" and head.classes == 2
    if attribute is None:
        return default if binary and default in (dataset.attributes or {}) else None
    if not binary or attribute not in (dataset.attributes or {}):
        raise UsageError(f"{dataset.name}: no binary attribute {attribute!r} to test "
                         f"decisiveness with")
    return attribute
