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


def test_a_second_run_shows_beside_the_grid_from_the_same_z0(qtbot, window, bundled, tmp_path):
    cv, panel = window.chain_view, window.run_panel
    other = shutil.copytree(bundled, tmp_path / "twin")
    wait_idle(qtbot, window)
    window.session.open_run(other)  # listed in the Run panel, then back to the first run
    qtbot.waitUntil(lambda: panel.runs.count() == 2, timeout=60_000)
    window.session.open_run(bundled)
    qtbot.waitUntil(lambda: str(window.session.run.path) == str(bundled) and len(cv.history)
                    and window.latent_view.cloud is not None, timeout=60_000)
    wait_idle(qtbot, window)
    panel.runs.setCurrentRow(1)
    panel.beside_button.click()
    partner = window.partner
    qtbot.waitUntil(lambda: len(partner.history) == 1, timeout=60_000)
    np.testing.assert_array_equal(partner.history.z[0], cv.history.z[0])  # the same z0
    # The twin has the same weights: the same z0 decodes to the same images.
    np.testing.assert_array_equal(partner.history.x[0], cv.history.x[0])
    cv.run_steps(3)
    qtbot.waitUntil(lambda: partner.history.last_t == 3 and cv.history.last_t == 3,
                    timeout=60_000)
    wait_idle(qtbot, window)
    titles = [item.toPlainText() for item in cv.grid._titles if item.isVisible()]
    assert titles == ["vae · t = 3", "vae · t = 3"]
    assert len(cv.grid._layout) == 2
    cv.reset(cv.settings.seed + 1)  # a new z0: the partner starts over from it
    qtbot.waitUntil(lambda: len(partner.history) == 1 and partner.chain_id == cv.chain_id
                    and len(cv.history) == 1, timeout=60_000)
    np.testing.assert_array_equal(partner.history.z[0], cv.history.z[0])
    panel.alone_button.click()
    wait_idle(qtbot, window)
    assert partner.run is None and len(cv.grid._layout) == 1


def test_a_run_of_another_latent_size_is_refused_with_a_message(qtbot, window):
    class Model:
        latent_dim = window.session.run.model.latent_dim + 1

    class Other:
        name, model = "other", Model

    messages = []
    window.session.message.connect(messages.append)
    window.partner.set_run(Other)
    assert window.partner.run is None
    assert any("latent sizes differ" in m for m in messages)
