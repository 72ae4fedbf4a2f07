"""Image datasets as uint8 arrays, plus the paper's preprocessing.

Every dataset hands out images as uint8 arrays shaped (C, H, W), with H == W ==
``image_size``. Nothing here imports torch: the training code converts batches.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def cache_dir() -> Path:
    """``$GENAE_STUDIO_CACHE`` or ``~/.cache/genae-studio``, created on demand (a DataError
    when it cannot be a folder; see genae_studio.cache)."""
    from ..cache import cache_root

    return cache_root()


def safe_name(text: str, fallback: str = "data") -> str:
    """``text`` as a file-name part: letters, digits, ``-`` and ``_``; others become ``_``."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text or fallback)


def is_image_file(path: str | os.PathLike) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def is_regular_file(path: str | os.PathLike) -> bool:
    """A regular file (symlinks followed). FIFOs, sockets and devices are not: opening a FIFO
    would block for ever."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# Pillow's decompression-bomb guard: images above this many pixels (about 89.5 million,
# e.g. 9460 x 9460) are refused before they are decoded, and skipped like unreadable files.
MAX_IMAGE_PIXELS = 89_478_485


def to_8bit(img):
    """16-bit and float images scaled to 8 bits (Pillow's convert would clip them): 16-bit by
    1/257, floats in [0, 1] by 255, other ranges stretched from their minimum to maximum."""
    from PIL import Image

    if img.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return img
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        scaled = arr.astype(np.float64) / 257.0
    else:
        arr = arr.astype(np.float64)
        finite = arr[np.isfinite(arr)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        if img.mode == "F" and low >= 0 and high <= 1:
            scaled = arr * 255.0
        elif img.mode == "I" and low >= 0 and high <= 255:
            scaled = arr
        elif img.mode == "I" and low >= 0 and high <= 65535:
            scaled = arr / 257.0
        else:
            scaled = (arr - low) * (255.0 / max(high - low, 1e-12))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def preprocess(pil_image, image_size: int, channels: int) -> np.ndarray:
    """As in the paper: centre-crop to a square, then resize to ``image_size``.

    Returns uint8 (C, H, W); the image is converted to "L" for 1 channel and to
    "RGB" for 3 (transparent images are composited by Pillow's convert).
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    img = to_8bit(pil_image)
    if img.mode == "P":  # palette images may carry transparency
        img = img.convert("RGBA")
    img = img.convert("L" if channels == 1 else "RGB")
    width, height = img.size
    side = min(width, height)
    if side < 1:
        raise ValueError("empty image")
    left, top = (width - side) // 2, (height - side) // 2
    if (width, height) != (side, side):
        img = img.crop((left, top, left + side, top + side))
    if side != image_size:
        # reducing_gap: a fast box reduction first for big shrinks, then bilinear.
        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr)


def resize_images(images: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a uint8 (N, C, H, W) array of square images with Pillow (bilinear)."""
    from PIL import Image

    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    n, channels = images.shape[:2]
    out = np.empty((n, channels, image_size, image_size), dtype=np.uint8)
    for i in range(n):
        img = images[i, 0] if channels == 1 else images[i].transpose(1, 2, 0)
        small = Image.fromarray(np.ascontiguousarray(img))
        out[i] = preprocess(small, image_size, channels)
    return out


def split_sizes(n: int) -> tuple[int, int]:
    """(train, test) sizes when the test split is the last 10% of ``n`` items."""
    n_test = max(1, n // 10) if n > 1 else 0
    return n - n_test, n_test


def apply_limit(n: int, limit: int | None) -> int:
    """How many of ``n`` items to keep for ``limit`` (None: all)."""
    if limit is None:
        return n
    if int(limit) < 1:
        raise DataError(f"limit must be a positive number of images, got {limit}")
    return min(n, int(limit))


def _as_indices(indices, n: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise IndexError(f"boolean mask of shape {idx.shape} for {n} images")
        idx = np.flatnonzero(idx)
    idx = idx.astype(np.int64, copy=False).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index out of range for a dataset of {n} images")
    return np.where(idx < 0, idx + n, idx)


class ImageDataset:
    """A sequence of uint8 (C, H, W) images with optional labels and attributes.

    Attributes:
        name: the name the dataset or format was registered under.
        channels: 1 or 3.
        image_size: height == width of every image.
        labels: int class per image, or None.
        label_names: names of the classes, or None.
        attributes: per-image values (name -> array of len(self)), or None.
        skipped: how many unreadable files were skipped (see FileDataset).
        source: the path, or the built-in name.
    """

    name: str = ""
    channels: int = 3
    image_size: int = 64
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    attributes: dict[str, np.ndarray] | None = None
    skipped: int = 0
    source: str = ""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def batch(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 (B, C, H, W) for the given indices."""
        idx = _as_indices(indices, len(self))
        out = np.empty((len(idx), self.channels, self.image_size, self.image_size), np.uint8)
        for k, i in enumerate(idx):
            out[k] = self[int(i)]
        return out

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageDataset:
        """A dataset of the chosen images, labels and attributes kept aligned.

        The default materialises the images in memory; subclasses stay lazy.
        """
        idx = _as_indices(indices, len(self))
        return ArrayDataset(self.batch(idx), **self._meta(idx))

    def _meta(self, idx: np.ndarray) -> dict:
        """Keyword arguments that carry this dataset's metadata to a subset."""
        return dict(
            name=self.name,
            labels=None if self.labels is None else self.labels[idx],
            label_names=self.label_names,
            attributes=None if self.attributes is None
            else {k: v[idx] for k, v in self.attributes.items()},
            source=self.source,
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n={len(self)}, "
                f"channels={self.channels}, image_size={self.image_size}, source={self.source!r})")


def _check_meta(n: int, labels, attributes) -> tuple:
    if labels is not None:
        labels = np.asarray(labels).astype(np.int64, copy=False)
        if labels.shape != (n,):
            raise ValueError(f"labels have shape {labels.shape}, expected ({n},)")
    if attributes is not None:
        attributes = {k: np.asarray(v) for k, v in attributes.items()}
        for key, value in attributes.items():
            if len(value) != n:
                raise ValueError(f"attribute {key!r} has {len(value)} values for {n} images")
    return labels, attributes


class ArrayDataset(ImageDataset):
    """Images held in memory as one uint8 (N, C, H, W) array."""

    def __init__(self, images: np.ndarray, *, name: str = "array", labels=None,
                 label_names: list[str] | None = None,
                 attributes: dict[str, np.ndarray] | None = None, source: str = "",
                 skipped: int = 0):
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3) \
                or images.shape[2] != images.shape[3]:
            raise ValueError(f"expected uint8 images shaped (N, 1|3, S, S), got "
                             f"{images.dtype} {images.shape}")
        self.images = images
        self.name = name
        self.channels = images.shape[1]
        self.image_size = images.shape[2]
        self.labels, self.attributes = _check_meta(len(images), labels, attributes)
        self.label_names = label_names
        self.source = source or name
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.images[i]

    def batch(self, indices) -> np.ndarray:
        return self.images[_as_indices(indices, len(self))]

    def subset(self, indices) -> ArrayDataset:
        idx = _as_indices(indices, len(self))
        return ArrayDataset(self.images[idx], skipped=self.skipped, **self._meta(idx))


class FileDataset(ImageDataset):
    """Image files decoded lazily with Pillow and preprocessed on access.

    Files whose extension is not an image are dropped at construction. Opening
    200k files up front would be too slow, so readability is checked lazily: when
    ``self[i]`` cannot be decoded, the next readable file (wrapping around) is
    returned instead, and the bad file is counted once in ``skipped`` (and
    remembered, so it is not tried again). Labels and attributes of index i still
    describe file i; a substituted image is rare enough not to matter for
    training.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], *, image_size: int = 64,
                 channels: int = 3, name: str = "files", labels=None,
                 label_names: list[str] | None = None,
                 attributes: dict[str, np.ndarray] | None = None, source: str = ""):
        paths = [os.fspath(p) for p in paths]
        keep = np.array([is_image_file(p) for p in paths], dtype=bool)
        if not keep.all():  # non-image files are dropped, with their metadata
            paths = [p for p, k in zip(paths, keep, strict=True) if k]
            labels = None if labels is None else np.asarray(labels)[keep]
            attributes = None if attributes is None else {
                k: np.asarray(v)[keep] for k, v in attributes.items()}
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.paths = paths
        self.name = name
        self.channels = channels
        self.image_size = int(image_size)
        self.labels, self.attributes = _check_meta(len(paths), labels, attributes)
        self.label_names = label_names
        self.source = source
        self._bad: set[int] = set()
        self.first_skipped: str | None = None  # "PATH: reason" of the first unreadable file

    @property
    def skipped(self) -> int:  # type: ignore[override]
        return len(self._bad)

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, i: int) -> np.ndarray:
        import warnings

        from PIL import Image

        if not is_regular_file(self.paths[i]):
            raise OSError("not a regular file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(self.paths[i]) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"{img.width} x {img.height} pixels, above the "
                                     f"{MAX_IMAGE_PIXELS:,}-pixel decompression-bomb limit")
                if img.format == "JPEG":  # decode JPEGs at a reduced scale when shrinking
                    img.draft("L" if self.channels == 1 else "RGB",
                              (self.image_size, self.image_size))
                return preprocess(img, self.image_size, self.channels)

    def _skip(self, i: int, exc: BaseException) -> None:
        self._bad.add(i)
        if self.first_skipped is None:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() \
                else type(exc).__name__
            self.first_skipped = f"{self.paths[i]}: {reason[:200]}"

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} images")
        i %= n
        for step in range(n):
            j = (i + step) % n
            if j in self._bad:
                continue
            try:
                return self._decode(j)
            except Exception as exc:  # unreadable or not really an image: skip it
                self._skip(j, exc)
        raise DataError(f"{self.source or self.name}: none of the {n} image files is readable")

    def subset(self, indices) -> FileDataset:
        idx = _as_indices(indices, len(self))
        meta = self._meta(idx)
        return FileDataset([self.paths[i] for i in idx], image_size=self.image_size,
                           channels=self.channels, **meta)
