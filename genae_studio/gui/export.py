"""Plots and widgets rendered for export, on the GUI thread (Qt paints only there); the bytes
are written by a worker (genae_studio.tasks.export.bytes_task)."""
from __future__ import annotations

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QRectF


def widget_png(widget) -> bytes:
    """What a widget shows (a plot, the whole window) as PNG bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not widget.grab().save(buffer, "PNG"):
        raise OSError("could not encode the image")
    buffer.close()
    return bytes(data)


def widget_svg(widget, title: str = "") -> bytes:
    """A widget (a pyqtgraph plot) as SVG: lines, markers and text stay vectors."""
    from PyQt6.QtGui import QPainter
    from PyQt6.QtSvg import QSvgGenerator

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    svg = QSvgGenerator()
    svg.setOutputDevice(buffer)
    svg.setSize(widget.size())
    svg.setViewBox(QRectF(0, 0, widget.width(), widget.height()))
    svg.setTitle(title)
    painter = QPainter(svg)
    try:
        widget.render(painter)
    finally:
        painter.end()
    buffer.close()
    return bytes(data)


def plot_bytes(widget, suffix: str, title: str = "") -> bytes:
    """SVG for the suffix .svg (vector, for papers), else PNG."""
    return widget_svg(widget, title) if suffix.lower() == ".svg" else widget_png(widget)
