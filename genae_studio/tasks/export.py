"""The studio's file exports as tasks: a mosaic as PNG, the stored chain as an animated GIF or
as arrays (.npz). They run in a worker (a GIF of 200 steps of 64 chains takes tens of seconds),
report a Progress per frame and stop between frames when asked.

Every file is written atomically (genae_studio.fileio): a cancelled or failed export leaves the
old file, or none. Qt-free: the studio hands over numpy arrays and lists, never widgets.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..fileio import atomic_file
from ..imaging import grid, save_png
from .progress import Progress, raise_if_stopped, reporter

BAND = 16  # pixels above each GIF frame for the step label


def png_task(*, mosaic: np.ndarray, path: Path) -> Path:
    """An (H, W, 3) uint8 mosaic as a PNG."""
    return save_png(np.ascontiguousarray(mosaic), Path(path))


def chain_frame(x: np.ndarray, t: int) -> np.ndarray:
    """One GIF frame: the (n, C, H, W) uint8 images of step ``t`` in a square grid, in colour,
    under a band that says "t = ..."."""
    from PIL import Image, ImageDraw

    cols = max(1, int(np.ceil(np.sqrt(len(x)))))
    mosaic = grid(x[None], columns=cols)
    if mosaic.shape[-1] == 1:
        mosaic = np.repeat(mosaic, 3, axis=2)
    framed = np.full((mosaic.shape[0] + BAND, mosaic.shape[1], 3), 255, np.uint8)
    framed[BAND:] = mosaic
    image = Image.fromarray(framed)
    ImageDraw.Draw(image).text((4, 2), f"t = {t}", fill=(30, 30, 30))
    return np.asarray(image)


def gif_task(*, t: Sequence[int], x: Sequence[np.ndarray], path: Path,
             chain: int | None = None, ms_per_frame: int = 250,
             report: Callable[[object], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> Path:
    """The stored chain (steps ``t``, images ``x``: one (n, C, H, W) array per step) as a
    looping animated GIF: every chain in a grid, or only ``chain``."""
    from PIL import Image

    report = reporter(report)
    path = Path(path)
    if not len(t):
        raise ValueError("no chain to export yet")
    n = len(x[0])
    if chain is not None and not 0 <= chain < n:
        raise ValueError(f"there is no chain {chain} (the grid has {n})")
    total = len(t)

    def frames():  # PIL encodes each frame as it takes it: progress and cancel per frame
        for k, (step, images) in enumerate(zip(t, x, strict=True)):
            raise_if_stopped(should_stop, f"writing {path.name}")
            report(Progress(k, total, f"writing {path.name}: frame {k + 1} of {total}"))
            yield Image.fromarray(chain_frame(images[chain:chain + 1] if chain is not None
                                              else images, step))

    it = frames()
    first = next(it)
    with atomic_file(path) as f:
        first.save(f, format="GIF", save_all=True, append_images=it, duration=ms_per_frame,
                   loop=0, optimize=False)
    report(Progress(total, total, f"wrote {path.name}"))
    return path


def npz_task(*, t: Sequence[int], x: Sequence[np.ndarray], z: Sequence[np.ndarray],
             path: Path, report: Callable[[object], None] | None = None) -> Path:
    """The stored steps in ``genae-studio sample --npz``'s layout: ``steps`` (S,) int64,
    ``x`` (S, n, C, H, W) float32 in [0, 1] and ``z`` (S, n, K) float32."""
    path = Path(path)
    if not len(t):
        raise ValueError("no chain to export yet")
    reporter(report)(Progress(0, 0, f"writing {path.name}"))
    with atomic_file(path) as f:
        np.savez_compressed(f, x=np.stack(x).astype(np.float32) / np.float32(255),
                            z=np.stack(z).astype(np.float32), steps=np.asarray(t, np.int64))
    return path


def bytes_task(*, data: bytes, path: Path) -> Path:
    """Bytes the window rendered (a plot as SVG or PNG) written to ``path``."""
    from ..fileio import atomic_write_bytes

    return atomic_write_bytes(Path(path), data)


def table_task(*, rows: list[dict], path: Path) -> Path:
    """Rows of numbers (the chain metrics against t) as CSV (suffix .csv) or JSON (a list of
    objects): for a notebook or a paper's table."""
    import csv
    import io
    import json

    path = Path(path)
    if not rows:
        raise ValueError("no numbers to export yet: measure the chain metrics first (M)")
    if path.suffix.lower() == ".csv":
        columns = list(dict.fromkeys(key for row in rows for key in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        data = text.getvalue()
    else:
        data = json.dumps(rows, indent=1) + "\n"
    with atomic_file(path) as f:
        f.write(data.encode())
    return path
