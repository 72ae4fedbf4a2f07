"""A work-around for the dock tab bars of QMainWindow (PyQt6, xcb)."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QTabBar


def hide_stale_tab_bars(window: QMainWindow) -> None:
    """Qt can leave a dock group's tab bar of an earlier layout (before a resize) visible
    where it was, over a dock's title (seen at 1600 x 1000 under Xvfb). Of two bars with the
    same tabs, the one that does not stand at the edge of a visible dock is that stale copy:
    it is hidden. A bar without such a twin is never touched."""
    bars = window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
    docks = [d.geometry() for d in window.findChildren(QDockWidget)
             if d.isVisible() and not d.isFloating()]

    def tabs(bar: QTabBar) -> tuple[str, ...]:
        return tuple(bar.tabText(i) for i in range(bar.count()))

    def attached(bar: QTabBar) -> bool:
        g = bar.geometry()
        return any(abs(g.left() - d.left()) <= 2 and (abs(g.top() - d.bottom() - 1) <= 2
                                                     or abs(g.bottom() + 1 - d.top()) <= 2)
                   for d in docks)

    shown = [b for b in bars if b.isVisible()]
    for bar in shown:
        twins = [b for b in shown if b is not bar and tabs(b) == tabs(bar) and attached(b)]
        if twins and not attached(bar):
            bar.hide()
