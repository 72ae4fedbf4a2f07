"""Exports: mosaics as PNG, plots as PNG or SVG, a chain as an animated GIF, arrays as .npz.

Every file is written atomically (genae_studio.fileio): a crash leaves the old file or the new
one, complete.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fileio import atomic_file, atomic_write, atomic_write_bytes
from ..imaging import save_png
from .mosaic import as_grid, tile

BAND = 16  # pixels above each GIF frame for the step label


def save_mosaic(mosaic: np.ndarray, path: Path) -> Path:
    """An (H, W, 3) uint8 mosaic as a PNG."""
    return save_png(np.ascontiguousarray(mosaic), Path(path))


def save_widget(widget, path: Path) -> Path:
    """What a widget shows (a plot, the whole window) as a PNG."""
    from PyQt6.QtCore import QBuffer, QByteArray, QIODevice

    path = Path(path)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not widget.grab().save(buffer, "PNG"):
        raise OSError(f"{path}: could not encode the image")
    buffer.close()
    return atomic_write_bytes(path, bytes(data))


def save_plot(widget, path: Path) -> Path:
    """A pyqtgraph plot widget as SVG (by the suffix .svg: vector, for papers) or PNG."""
    path = Path(path)
    if path.suffix.lower() != ".svg":
        return save_widget(widget, path)
    from PyQt6.QtCore import QRectF
    from PyQt6.QtGui import QPainter
    from PyQt6.QtSvg import QSvgGenerator

    def write(tmp):
        # QWidget.render into an SVG painter keeps lines, markers and text as vectors.
        svg = QSvgGenerator()
        svg.setFileName(str(tmp))
        svg.setSize(widget.size())
        svg.setViewBox(QRectF(0, 0, widget.width(), widget.height()))
        svg.setTitle(path.stem)
        painter = QPainter(svg)
        try:
            widget.render(painter)
        finally:
            painter.end()

    return atomic_write(path, write)


def chain_frames(history, chain: int | None = None) -> list[np.ndarray]:
    """One labelled mosaic per stored step: all chains, or one ``chain``."""
    from PIL import Image, ImageDraw

    frames = []
    for t, x in zip(history.t, history.x, strict=True):
        images = x[chain:chain + 1] if chain is not None else x
        cols = max(1, int(np.ceil(np.sqrt(len(images)))))
        mosaic = tile(as_grid(images, cols))
        framed = np.full((mosaic.shape[0] + BAND, mosaic.shape[1], 3), 255, np.uint8)
        framed[BAND:] = mosaic
        image = Image.fromarray(framed)
        ImageDraw.Draw(image).text((4, 2), f"t = {t}", fill=(30, 30, 30))
        frames.append(np.asarray(image))
    return frames


def save_chain_gif(history, path: Path, *, chain: int | None = None,
                   ms_per_frame: int = 250) -> Path:
    """The stored chain as an animated GIF, one frame per step (looping)."""
    from PIL import Image

    path = Path(path)
    if not len(history):
        raise ValueError("no chain to export yet")
    if chain is not None and not 0 <= chain < history.n:
        raise ValueError(f"there is no chain {chain} (the grid has {history.n})")
    images = [Image.fromarray(f) for f in chain_frames(history, chain)]
    with atomic_file(path) as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                       duration=ms_per_frame, loop=0, optimize=False)
    return path


def save_chain_npz(history, path: Path) -> Path:
    """The stored steps in ``genae-studio sample --npz``'s layout: ``steps`` (S,) int64,
    ``x`` (S, n, C, H, W) float32 in [0, 1] and ``z`` (S, n, K) float32."""
    path = Path(path)
    if not len(history):
        raise ValueError("no chain to export yet")
    with atomic_file(path) as f:
        np.savez_compressed(f, x=np.stack(history.x).astype(np.float32) / np.float32(255),
                            z=np.stack(history.z).astype(np.float32),
                            steps=np.asarray(history.t, np.int64))
    return path
