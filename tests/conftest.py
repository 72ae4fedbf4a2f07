import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Generated datasets go to one cache per test session, never to the user's."""
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def host():
    from genae_studio.plugins import load_plugins

    return load_plugins([], autoload=False)

