"""Takes the README's studio screenshots: the bundled VAE after a chain and the metrics
(OUT), the same window in Compare mode (OUT's folder/studio-compare.png) and exploring the
latent view: a hovered point's image and a rectangle of selected chains (studio-explore.png).

    python scripts/screenshot_studio.py [WIDTH HEIGHT [OUT]]

Defaults: 1600 x 1000, docs/screenshots/studio.png. Runs in a real X window (DISPLAY, xcb)
or with QT_QPA_PLATFORM=offscreen; the first metrics use loads the feature network shipped
for toyfaces.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait(app, done, timeout=600.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the studio did not finish in time")
        app.processEvents()
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    width, height = (int(argv[0]), int(argv[1])) if len(argv) >= 2 else (1600, 1000)
    out = Path(argv[2]) if len(argv) >= 3 else ROOT / "docs" / "screenshots" / "studio.png"
    from PyQt6.QtCore import QSettings

    from genae_studio.gui.app import application, create_window
    from genae_studio.plugins import load_plugins

    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "studio.ini"), QSettings.Format.IniFormat)
        window = create_window(load_plugins(), settings=settings, device="cpu")
        window.resize(width, height)
        window.show()
        wait(app, lambda: window.latent_view.cloud is not None
             and len(window.chain_view.history) >= 1 and not window.jobs.active())
        window.chain_view.run_steps()
        wait(app, lambda: not window.jobs.active())
        window.metrics_panel.measure()
        wait(app, lambda: not window.jobs.active())
        window.chain_view.redraw()
        app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        save(window, out)
        window.chain_view.compare_box.setChecked(True)
        window.chain_view.redraw()
        app.processEvents()
        save(window, out.with_name("studio-compare.png"))
        window.chain_view.compare_box.setChecked(False)
        explore(app, window)
        save(window, out.with_name("studio-explore.png"))
        window.close()
    return 0


def save(window, out: Path) -> None:
    if not window.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out} ({window.width()} x {window.height()})")


def explore(app, window) -> None:
    """Select the chains in the lower left quarter of their cloud, then hover the point
    farthest from the others (its image shows beside it; its cell is outlined)."""
    import numpy as np
    from PyQt6.QtCore import QPointF, QRectF

    lv = window.latent_view
    window.latent_dock.raise_()
    window.chain_view.redraw()
    app.processEvents()
    points = window.chain_view.history.trajectories()[-1]
    low, mid = points.min(axis=0), np.median(points, axis=0)
    lv.select_region(QRectF(QPointF(*(low - 0.1)), QPointF(*mid)))
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + 1e9 * np.eye(len(points))
    k = int(np.argmax(gaps.min(axis=1)))
    scene = lv.plot.getViewBox().mapViewToScene(QPointF(*points[k]))
    lv._mouse_moved(scene)  # as a mouse move over the point does
    window.chain_view.redraw()
    app.processEvents()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
