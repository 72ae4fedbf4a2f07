"""Issue 21 §7: the Run panel lists the session's runs and shows the open run's settings,
epochs and loss history; double-clicking a listed run opens it again."""
import json
import math
import shutil

import numpy as np

from genae_studio.tasks.run_info import run_summary

from .gui_helpers import wait_idle


def _tree(panel) -> dict[str, dict[str, str]]:
    out = {}
    for i in range(panel.settings.topLevelItemCount()):
        section = panel.settings.topLevelItem(i)
        out[section.text(0)] = {section.child(k).text(0): section.child(k).text(1)
                                for k in range(section.childCount())}
    return out


def test_the_run_panel_shows_the_runs_settings_and_losses(qtbot, window, bundled, tmp_path):
    panel = window.run_panel
    config = json.loads((bundled / "config.json").read_text())
    tree = _tree(panel)
    assert tree["model"]["model"] == "vae"
    assert tree["model"]["latent_dim"] == str(config["hparams"]["latent_dim"])
    assert tree["data"]["data"] == "digits"
    history = config["progress"]["history"]
    assert tree["training"]["epochs trained"] == f"{len(history)} of {len(history)}"
    curves = panel.curves()
    assert set(curves) == {k for k in history[0] if k != "epoch"} and curves
    for name, (epochs, values) in curves.items():
        np.testing.assert_array_equal(epochs, [h["epoch"] for h in history])
        np.testing.assert_allclose(values, [h[name] for h in history])
    # A second run joins the list; double-clicking the first opens it again.
    other = shutil.copytree(bundled, tmp_path / "copy-of-vae")
    wait_idle(qtbot, window)
    window.session.open_run(other)
    qtbot.waitUntil(lambda: panel.runs.count() == 2, timeout=60_000)
    assert str(other) in panel.runs.currentItem().text()
    first = panel.runs.item(0)
    assert str(bundled) in first.text()
    panel.runs.itemActivated.emit(first)
    qtbot.waitUntil(lambda: str(window.session.run.path) == str(bundled), timeout=60_000)
    assert panel.runs.count() == 2 and panel.runs.currentRow() == 0


def test_a_run_summary_without_history_or_with_gaps():
    class Config:
        model, plugin = "aae", "genae_builtins"
        hparams = {"latent_dim": 8}
        data = {"data": "digits"}
        training = {"epochs": 3, "betas": [0.5, 0.999]}
        progress = {"epoch": 2, "history": [{"epoch": 1, "loss": 2.0, "adv": 0.5},
                                            {"epoch": 2, "loss": 1.5}]}
        versions = {"torch": "2"}

    class Run:
        name, path, config = "aae", None, Config

    s = run_summary(Run)
    assert ("training", "epochs trained", "2 of 3") in s.rows
    assert ("training", "betas", "0.5, 0.999") in s.rows
    assert s.epochs == [1, 2] and s.losses["loss"] == [2.0, 1.5]
    assert s.losses["adv"][0] == 0.5 and math.isnan(s.losses["adv"][1])
    Config.progress = {}
    assert run_summary(Run).epochs == [] and run_summary(Run).title == "aae"
