"""Fixtures of the studio tests: a tiny trained run, isolated settings, screenshots."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from .gui_helpers import open_window  # noqa: E402

TINY = dict(model="vae", data="digits", epochs=1, batch_size=32, width=8, latent_dim=16,
            limit=256, device="cpu")


@pytest.fixture(scope="session")
def resources(tmp_path_factory, host):
    """A resources folder whose runs/vae is a tiny VAE trained for one epoch on digits."""
    from genae_studio.training import TrainSettings, train

    root = tmp_path_factory.mktemp("resources")
    train(TrainSettings(**TINY), root / "runs" / "vae", host=host)
    return root


@pytest.fixture
def bundled(resources, monkeypatch):
    """Point the studio's bundled runs at the tiny run."""
    monkeypatch.setenv("GENAE_STUDIO_RESOURCES", str(resources))
    monkeypatch.setenv("GENAE_STUDIO_RUNS", str(resources / "new-runs"))
    return resources / "runs" / "vae"


@pytest.fixture(autouse=True)
def _quick_feature_network(monkeypatch):
    """The metrics dock trains a feature network on first use: a short one in tests."""
    from genae_studio.gui import metrics_panel
    from genae_studio.tasks import chain_metrics

    monkeypatch.setattr(chain_metrics, "FEATURE_STEPS", 30)
    monkeypatch.setattr(metrics_panel, "CHAINS_N", 48)  # the panel's own chains (500 by default)


@pytest.fixture
def settings(tmp_path):
    from PyQt6.QtCore import QSettings

    return QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Save a widget's screenshot: shots(widget, name) -> path."""
    folder = Path(os.environ.get("GENAE_STUDIO_SCREENSHOTS")
                  or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def save(widget, name: str) -> Path:
        path = folder / f"{name}.png"
        assert widget.grab().save(str(path)), path
        return path

    return save


@pytest.fixture
def window(qtbot, host, bundled, settings):
    window = open_window(qtbot, host, settings)
    yield window
    window.close()
