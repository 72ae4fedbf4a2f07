"""Turn a ``--data`` argument (a built-in name or a path) into an ImageDataset."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import blame
from ..errors import DataError
from ..registry import DatasetSpec, one_line
from .base import ImageDataset


def resolve_dataset(data: str | None, specs: dict[str, DatasetSpec], *,
                    data_format: str | None = None, split: str = "train",
                    image_size: int | None = None, limit: int | None = None,
                    seed: int = 0, cache: bool | None = None,
                    progress: Callable | None = None,
                    cancel: Callable[[], bool] | None = None) -> ImageDataset:
    """Load ``data``: a built-in dataset name, or a path in a detected (or given) format;
    None: the default dataset.

    Formats with a ``detect`` are tried in registration order, fallback formats (the
    generic image folder) last.

    A format that returns a ``FileDataset`` (images decoded from files) is read from the
    decoded-image cache, built on first use (``genae_studio.data.cache.use_cache``, which
    describes ``progress`` and ``cancel``): unless ``cache=False``, ``--no-cache`` or
    ``GENAE_STUDIO_NO_CACHE`` turn it off (images are then decoded on
    access; ``cache.use_cache`` can attach or build the cache later, e.g. in a worker).
    """
    dataset = _resolve(data, specs, data_format=data_format, split=split,
                       image_size=image_size, limit=limit, seed=seed)
    from . import cache as decoded

    if cache is False or not decoded.enabled():
        return dataset
    return decoded.use_cache(dataset, split, progress=progress, cancel=cancel)


def _resolve(data, specs, *, data_format, split, image_size, limit, seed) -> ImageDataset:
    builtins = [name for name, spec in specs.items() if spec.detect is None]
    if data is None:
        data = default_dataset(specs)
        if data is None:
            raise DataError("no dataset named and no built-in dataset loaded: name one "
                            "with --data")
    formats = _formats_in_order(specs)
    kwargs = dict(split=split, image_size=image_size, limit=limit, seed=seed)

    if data_format is not None:
        spec = specs.get(data_format)
        if spec is None:
            known = ", ".join(list(specs)) or "none"
            raise DataError(f"unknown data format {data_format!r} (known: {known})")
        if spec.detect is None:  # a built-in dataset named as the format
            return _load(spec, None, data, **kwargs)
        path = _existing_path(data, builtins)
        return _load(spec, str(path), data, **kwargs)

    spec = specs.get(data)
    if spec is not None and spec.detect is None:
        return _load(spec, None, data, **kwargs)

    path = _existing_path(data, builtins)
    for spec in formats:
        try:
            found = bool(spec.detect(path))
        except Exception:  # a broken detector only means "not this format"
            found = False
        if found:
            return _load(spec, str(path), data, **kwargs)
    tried = ", ".join(s.name for s in formats) or "none"
    raise DataError(f"{data}: not a dataset in any known format (tried: {tried}); "
                    f"choose one with --data-format")


def _formats_in_order(specs: dict[str, DatasetSpec]) -> list[DatasetSpec]:
    formats = [s for s in specs.values() if s.detect is not None]
    # Fallback formats (such as a generic image folder) accept almost anything: last.
    return sorted(formats, key=lambda s: s.fallback)


def default_dataset(specs: dict[str, DatasetSpec]) -> str | None:
    """The dataset used when none is named: the first registered one that needs no path
    (the built-in plugin registers its default first); None when no such dataset is loaded."""
    return next((name for name, spec in specs.items() if spec.detect is None), None)


def binary_attribute(specs: dict[str, DatasetSpec], name: str) -> str | None:
    """The binary attribute the dataset (or format) ``name`` registered, if any."""
    spec = specs.get(name)
    return spec.binary_attribute if spec is not None else None


def _existing_path(data: str, builtins: list[str]) -> Path:
    path = Path(data).expanduser()
    if not path.exists():
        names = ", ".join(builtins) or "none"
        raise DataError(f"{data}: no such dataset or path (built-in datasets: {names})")
    return path


def _load(spec: DatasetSpec, source, data: str, **kwargs) -> ImageDataset:
    try:
        dataset = spec.load(source, **kwargs)
    except DataError:
        raise
    except Exception as exc:  # a plugin's loader must still fail with one clear line
        if blame.third_party(spec.plugin):
            subject = blame.Subject(spec.plugin, "dataset", spec.name)
            raise DataError(f"{subject}: {one_line(exc)} (loading {data}); run "
                            f"`{blame.check_command(subject)}`") from exc
        raise DataError(f"{data}: the {spec.name} loader failed: "
                        f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(dataset, ImageDataset):
        raise DataError(f"{data}: the {spec.name} loader returned {type(dataset).__name__}, "
                        f"not an ImageDataset")
    blame.used(spec.plugin, "dataset", spec.name, spec.load, dataset)
    return dataset


def check_fits(dataset: ImageDataset, channels: int, image_size: int | None = None, *,
               name: str | None = None, hint: str = "") -> None:
    """A DataError unless ``dataset`` holds images of the model's channels (and size)."""
    name = name or dataset.name
    if image_size is not None and (dataset.channels, dataset.image_size) != (channels,
                                                                             image_size):
        raise DataError(f"{name}: {dataset.channels}x{dataset.image_size}px images, but the "
                        f"model expects {channels}x{image_size}px{hint}")
    if dataset.channels != channels:
        raise DataError(f"{name}: {dataset.channels}-channel images, but the model expects "
                        f"{channels}{hint}")
