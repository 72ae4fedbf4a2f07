"""Colours from the palette: plots and secondary text follow a light or dark desktop theme.

Plots take the palette's Base colour as background and its Text colour for axes, titles and
legends; secondary text uses the PlaceholderText role instead of a hard-coded grey.
"""
from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication, QGraphicsItem, QLabel, QWidget


def palette(widget: QWidget | None = None) -> QPalette:
    return widget.palette() if widget is not None else QApplication.palette()


def is_dark(pal: QPalette) -> bool:
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def dim(label: QLabel) -> QLabel:
    """Secondary text: the palette's placeholder colour (readable on light and dark)."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def style_view(view: pg.GraphicsView, pal: QPalette | None = None) -> None:
    """Background, axes, titles and legends of every plot in a pyqtgraph view."""
    pal = pal or palette(view)
    background = pal.color(QPalette.ColorRole.Base)
    text = pal.color(QPalette.ColorRole.Text)
    view.setBackground(background)
    for item in view.scene().items():
        if isinstance(item, pg.PlotItem):
            style_plot(item, text)
        elif isinstance(item, pg.LegendItem):
            style_legend(item, background, text)


CACHED = QGraphicsItem.CacheMode.DeviceCoordinateCache


def style_plot(plot: pg.PlotItem, text: QColor) -> None:
    """Axis and title colours. Axes and titles are kept as pixmaps: a chain step that moves
    points inside the plot then repaints them with one blit instead of re-rendering text."""
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setCacheMode(CACHED)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
        if axis.label is not None:
            axis.label.setDefaultTextColor(text)
    plot.titleLabel.item.setDefaultTextColor(text)
    plot.titleLabel.opts["color"] = text
    plot.titleLabel.setCacheMode(CACHED)


def style_legend(legend: pg.LegendItem, background: QColor, text: QColor) -> None:
    legend.setCacheMode(CACHED)
    fill = QColor(background)
    fill.setAlpha(210)
    legend.setBrush(pg.mkBrush(fill))
    legend.setLabelTextColor(text)
    for _sample, label in legend.items:
        label.setText(label.text, color=text)


def style_all(root: QWidget) -> None:
    """Restyle every pyqtgraph plot under ``root`` from its palette (after a palette change)."""
    pal = root.palette()
    for view in root.findChildren(pg.PlotWidget) + root.findChildren(pg.GraphicsLayoutWidget):
        if getattr(view, "follows_palette", True):
            style_view(view, pal)
