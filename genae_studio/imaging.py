"""Image arrays to grids and PNG files (Pillow)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def to_uint8(x) -> np.ndarray:
    """Images in [0, 1] (numpy or torch) to uint8, same shape."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class GridLayout:
    """Where the images of a grid go: ``rows`` rows of ``items`` images each, a row wrapping
    after ``columns`` images (a row of 64 chains becomes 4 lines of 16), ``pad`` pixels
    between cells. The one layout of both grid builders: :func:`grid` (in memory) and
    ``outputs.GridWriter`` (a batch at a time, for any size)."""

    rows: int
    items: int
    columns: int | None = None
    pad: int = 2

    @property
    def per_line(self) -> int:
        """Cells on one line of the picture."""
        return self.items if not self.columns or self.columns >= self.items else self.columns

    @property
    def lines(self) -> int:
        """Lines of cells per row (1 without wrapping)."""
        return -(-self.items // self.per_line) if self.items else 1

    def runs(self, row: int, start: int, count: int) -> Iterator[tuple[int, int, int, int]]:
        """(line, column, first, stop): images start..start+count of ``row`` as runs of
        consecutive cells, each on one line of the picture (first/stop index the images)."""
        if not 0 <= row < self.rows or start < 0 or start + count > self.items:
            raise IndexError(f"images {start}..{start + count - 1} of row {row} are outside "
                             f"the {self.rows} x {self.items} grid")
        k = start
        while k < start + count:
            line, col = divmod(k, self.per_line)
            stop = min(start + count, k - col + self.per_line)
            yield row * self.lines + line, col, k - start, stop - start
            k = stop

    def tops(self, height: int) -> list[int]:
        """The pixel row where each row's first line starts, for cells ``height`` tall."""
        return [self.pad + r * self.lines * (height + self.pad) for r in range(self.rows)]

    def shape(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the picture in pixels, margin aside."""
        return (self.rows * self.lines * (height + self.pad) + self.pad,
                self.per_line * (width + self.pad) + self.pad)


def grid(images, pad: int = 2, pad_value: int = 255, *, columns: int | None = None,
         row_labels: Sequence[str] | None = None) -> np.ndarray:
    """(rows, cols, C, H, W) images -> one (H', W', C) uint8 mosaic with ``pad`` pixels between.

    ``columns`` wraps each row into lines of at most that many images (``GridLayout``).
    ``row_labels`` (one per row, e.g. "t = 5") are drawn in a margin on the left, beside the
    first line of their row. ``genae-studio sample`` writes the same picture a batch at a
    time (outputs.GridWriter).
    """
    images = to_uint8(images)
    rows, cols, c, h, w = images.shape
    layout = GridLayout(rows, cols, columns, pad)
    out = np.full((*layout.shape(h, w), c), pad_value, np.uint8)
    for r in range(rows):
        for line, col, first, stop in layout.runs(r, 0, cols):
            for k in range(first, stop):
                y, x = pad + line * (h + pad), pad + (col + k - first) * (w + pad)
                out[y:y + h, x:x + w] = images[r, k].transpose(1, 2, 0)
    if row_labels is not None:
        if len(row_labels) != rows:
            raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
        out = np.concatenate([label_margin(len(out), c, row_labels, layout.tops(h), h,
                                           pad_value), out], axis=1)
    return out


def label_margin(height: int, channels: int, labels: Sequence[str], tops: Sequence[int],
                 line_height: int, pad_value: int = 255) -> np.ndarray:
    """A (height, M, channels) uint8 strip with each label right-aligned and vertically
    centred on the line of ``line_height`` pixels that starts at its top."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(10, min(18, line_height // 4))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font has one size
        font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    widths = [measure.textbbox((0, 0), text, font=font)[2] for text in labels]
    margin = max(widths, default=0) + size + 4
    canvas = Image.new("RGB", (margin, height), (pad_value,) * 3)
    draw = ImageDraw.Draw(canvas)
    ink = (0, 0, 0) if pad_value > 127 else (255, 255, 255)
    for text, top, width in zip(labels, tops, widths, strict=True):
        box = draw.textbbox((0, 0), text, font=font)
        y = top + (line_height - (box[3] - box[1])) // 2 - box[1]
        draw.text((margin - width - 6, y), text, fill=ink, font=font)
    if channels == 1:
        return np.asarray(canvas.convert("L"))[..., None]
    return np.asarray(canvas)


class LabelMargin:
    """``label_margin``'s strip for a tall image, kept as one band per label; the blank rows
    between bands are not stored, so its memory does not grow with the image's height.
    ``margin[y]`` is pixel row y, as in the array."""

    def __init__(self, height: int, channels: int, labels: Sequence[str], tops: Sequence[int],
                 line_height: int, pad_value: int = 255):
        self.tops, self.line_height = list(tops), line_height
        self.bands = label_margin(line_height * len(labels), channels, labels,
                                  [i * line_height for i in range(len(labels))], line_height,
                                  pad_value)
        self.shape = (height, self.bands.shape[1], self.bands.shape[2])
        self.blank = np.full(self.shape[1:], pad_value, np.uint8)

    def __getitem__(self, y: int) -> np.ndarray:
        for i, top in enumerate(self.tops):
            if top <= y < top + self.line_height:
                return self.bands[i * self.line_height + y - top]
        return self.blank


# Pillow's writers for the extensions the commands accept.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".gif": "GIF"}


def save_png(mosaic: np.ndarray, path: Path) -> Path:
    """Write a (H, W, C) uint8 mosaic atomically, in the format its extension names
    (PNG for an unknown one)."""
    from PIL import Image

    from .fileio import atomic_file

    path = Path(path)
    image = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
    with atomic_file(path) as f:
        image.save(f, format=IMAGE_FORMATS.get(path.suffix.lower(), "PNG"))
    return path


def to_float(x):
    """uint8 images (0..255) to float32 in [0, 1]; float images to float32, unscaled.

    The inverse of ``to_uint8``: numpy stays numpy, a torch tensor stays a tensor on its
    device (convert after moving uint8 to a GPU: a quarter of the bytes travel).
    """
    if hasattr(x, "detach"):  # a tensor: torch is loaded already
        import torch

        return x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.divide(x, 255, dtype=np.float32)
    return x.astype(np.float32, copy=False)


def to_float_tensor(images, device=None):
    """uint8 or float images (numpy or torch) as a float32 tensor in [0, 1] on ``device``."""
    import torch

    x = images if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    return to_float(x.to(device) if device is not None else x)
