"""Helpers shared by the studio tests."""


def open_window(qtbot, host, settings, **kwargs):
    """The main window, shown, once its run, data, PCA and first chain step are ready."""
    from genae_studio.gui.app import create_window

    window = create_window(host, settings=settings, device="cpu", **kwargs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.latent_view.cloud is not None
                    and len(window.chain_view.history) >= 1, timeout=60_000)
    return window


def wait_idle(qtbot, window, timeout=60_000):
    """Until no job runs and the throttled redraw has happened."""
    qtbot.waitUntil(lambda: not window.jobs.active(), timeout=timeout)
    window.chain_view.redraw()
