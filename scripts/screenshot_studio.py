"""Takes the README's studio screenshot: the bundled VAE after a chain and the metrics.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot_studio.py [WIDTH HEIGHT [OUT]]

Defaults: 1600 x 1000, docs/screenshots/studio.png. Needs no display (offscreen Qt); the
first metrics use loads the feature network shipped for toyfaces.
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
        if not window.grab().save(str(out)):
            raise OSError(f"could not write {out}")
        print(f"wrote {out} ({width} x {height})")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
