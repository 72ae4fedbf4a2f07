"""The chain's settings live in one Qt-free object (session.chain) that views observe
(issue 18 §5): no view reads another view's widgets."""
import re
from pathlib import Path

import pytest

from genae_studio.tasks.chain_settings import ChainSettings

from .gui_helpers import wait_idle

GUI = Path(__file__).resolve().parents[2] / "genae_studio" / "gui"
CHAIN_WIDGETS = ("bn_combo", "seed_spin", "n_spin", "noise_spin")


def test_the_settings_emit_an_event_per_change():
    settings = ChainSettings()
    seen = []
    settings.events.bn_mode.connect(seen.append)
    settings.bn_mode = "eval"
    settings.bn_mode = "eval"  # unchanged: no event
    settings.seed = 3
    assert seen == ["eval"]
    with pytest.raises(ValueError, match="batch-norm mode"):
        ChainSettings(bn_mode="train")


def test_no_module_reads_the_chain_views_boxes():
    """Only chain_view.py touches its boxes; every other module reads session.chain."""
    for path in GUI.glob("*.py"):
        if path.name == "chain_view.py":
            continue
        text = path.read_text()
        for name in CHAIN_WIDGETS:
            assert not re.search(rf"\b(chain_view|cv)\.{name}\b", text), \
                f"{path.name} reads chain_view.{name}"


def test_views_follow_the_settings_from_anywhere(qtbot, window):
    """A mode set on the object (a script, a restored setting) reaches the box, the metrics
    dock and the next chain, as a mode chosen in the box does."""
    wait_idle(qtbot, window)
    cv, chain = window.chain_view, window.session.chain
    logged = []
    window.metrics_panel.values = {0: {"mmd_data": 1.0}}  # curves of the old mode
    window.session.log.connect(logged.append)
    chain.bn_mode = "eval"
    assert cv.bn_combo.currentText() == "eval"
    assert window.metrics_panel.values == {}  # the old mode's curves went
    assert "eval" in window.metrics_panel.info.text()
    cv.bn_combo.setCurrentText("batch")
    assert chain.bn_mode == "batch"
    chain.seed = 41
    assert cv.seed_spin.value() == 41
    cv.n_spin.setValue(9)
    cv.reset()
    qtbot.waitUntil(lambda: len(cv.history) == 1, timeout=60_000)
    assert cv.history.n == 9 and cv.chain_seed == 41 and chain.model == "vae"
    wait_idle(qtbot, window)
