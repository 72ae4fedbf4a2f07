"""The Training panel shows the selected model's own settings, generated from its config's
dataclass fields, and trains with them (issue 22)."""
from dataclasses import fields

from helpers import BETAVAE
from PyQt6.QtWidgets import QApplication, QCheckBox, QLineEdit, QSpinBox

from genae_studio import AAEConfig
from genae_studio.runs import read_config

KINDS = BETAVAE.replace("beta: float = 4.0  # the weight of the KL term",
                        "beta: float = 4.0\n    warm: bool = False\n    blocks: int = 2") \
    .replace('"betavae"', '"kinds"').replace("def make_betavae(*, beta,",
                                             "def make_betavae(*, beta, warm, blocks,")


def _panel(qtbot, tmp_path):
    from genae_studio.gui.session import Session
    from genae_studio.gui.train_panel import TrainPanel
    from genae_studio.gui.workers import Jobs
    from genae_studio.plugins import load_plugins

    plugins = []
    for name, text in (("genae_betavae", BETAVAE), ("genae_kinds", KINDS)):
        (tmp_path / f"{name}.py").write_text(text)
        plugins.append(str(tmp_path / f"{name}.py"))
    jobs = Jobs()
    panel = TrainPanel(Session(load_plugins(plugins, autoload=False), jobs))
    qtbot.addWidget(panel)
    panel.show()
    return panel, jobs


def _shown(panel) -> dict:
    QApplication.processEvents()  # a layout shows the widgets added to it from the event loop
    return {name: type(widget) for name, (_, widget) in panel.model_fields.items()
            if widget.isVisibleTo(panel)}


def test_the_panel_shows_the_models_fields_and_regenerates_them(qtbot, tmp_path):
    panel, jobs = _panel(qtbot, tmp_path)
    panel.model_combo.setCurrentText("betavae")
    assert _shown(panel) == {"beta": QLineEdit}
    assert panel.model_fields["beta"][1].text() == "4.0"
    assert panel.model_box.isVisibleTo(panel)
    sizes = [panel.size_combo.itemText(k) for k in range(panel.size_combo.count())]
    assert sizes == ["dataset", "32"]  # the model's ModelSpec.image_sizes
    panel.model_combo.setCurrentText("kinds")
    assert _shown(panel) == {"beta": QLineEdit, "warm": QCheckBox, "blocks": QSpinBox}
    panel.model_combo.setCurrentText("aae")  # generated from AAEConfig's fields
    widgets = {int: QSpinBox, float: QLineEdit, bool: QCheckBox}
    assert _shown(panel) == {f.name: widgets[type(f.default)] for f in fields(AAEConfig)
                             if f.name not in ("latent_dim", "width", "noise_std")}
    assert {"adversary_hidden", "adversary_dropout"} <= set(_shown(panel))
    panel.model_combo.setCurrentText("vae")
    assert _shown(panel) == {"kl_weight": QLineEdit}
    assert panel.settings().model_settings == {}  # the defaults are the model's own

    panel.model_combo.setCurrentText("kinds")
    panel.model_fields["warm"][1].setChecked(True)
    panel.model_fields["blocks"][1].setValue(5)
    assert panel.settings().model_settings == {"warm": True, "blocks": 5}
    state = panel.state()
    panel.model_combo.setCurrentText("vae")
    panel.restore(state)
    assert panel.model_combo.currentText() == "kinds"
    assert panel.settings().model_settings == {"warm": True, "blocks": 5}
    jobs.shutdown()


def test_the_panel_trains_with_the_models_setting(qtbot, tmp_path):
    panel, jobs = _panel(qtbot, tmp_path)
    panel.model_combo.setCurrentText("betavae")
    panel.model_fields["beta"][1].setText("1.0")
    panel.data_combo.setCurrentText("digits")
    panel.epochs.setValue(1)
    panel.batch.setValue(32)
    panel.limit.setValue(64)
    panel.device_combo.setCurrentText("cpu")
    out = tmp_path / "run"
    panel.out_edit.setText(str(out))
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert read_config(out).hparams["beta"] == 1.0
    jobs.shutdown()
