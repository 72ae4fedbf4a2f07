"""The training panel: start -> progress -> stop leaves a usable run, offered, not forced."""
import time

from PyQt6.QtCore import Qt

from genae_studio.runs import checkpoint_file

from .gui_helpers import wait_idle


def test_start_progress_stop_leaves_a_usable_run(qtbot, window, tmp_path, shots):
    from genae_studio.api import load_run

    panel = window.train_panel
    window.train_dock.show()
    window.train_dock.raise_()
    panel.model_combo.setCurrentText("dvae")
    panel.data_combo.setCurrentText("digits")
    panel.epochs.setValue(100)  # far more than the test waits for
    panel.batch.setValue(16)
    panel.latent.setValue(16)
    panel.width_spin.setValue(8)
    panel.noise.setValue(0.3)
    panel.limit.setValue(160)
    panel.device_combo.setCurrentText("cpu")
    out = tmp_path / "trained"
    panel.out_edit.setText(str(out))
    assert panel.noise.isEnabled()  # dvae is denoising

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.running and panel.stop_button.isEnabled()
    assert not panel.start_button.isEnabled()
    # Progress: the bar moves, the label shows images/s and ETA, loss curves appear per term,
    # and a preview of reconstructions and samples arrives (at least at each epoch's end).
    qtbot.waitUntil(lambda: panel.bar.value() > 12 and panel.preview.mosaic is not None
                    and len(panel.curves) == 3, timeout=60_000)
    assert set(panel.curves) == {"loss", "rec", "kl"}
    assert "images/s" in panel.bar_label.text() and "ETA" in panel.bar_label.text()
    xs, ys = panel.curves["rec"].getData()
    assert len(xs) >= 2
    assert panel.preview.mosaic.shape[0] > 3 * 32  # three rows of 32-pixel images
    shots(panel, "training-panel")
    shots(window, "training-window")

    started = time.perf_counter()
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    stop_s = time.perf_counter() - started
    print(f"\ntraining stopped {stop_s:.2f} s after Stop")
    assert stop_s < 10  # about a second on a quiet machine; loose for busy ones
    assert "stopped" in panel.bar_label.text()
    assert (out / "config.json").is_file() and checkpoint_file(out).is_file()
    run = load_run(out, device="cpu", host=window.session.host)
    assert run.name == "dvae" and run.model.latent_dim == 16 and run.denoising
    # The new run is offered, not opened: the user's run and chains stay (issue 21).
    qtbot.waitUntil(lambda: window.banner.isVisible() and "Open the new run"
                    == window.banner.action_button.text(), timeout=30_000)
    assert window.session.run.path != out and window.session.run.name == "vae"
    assert "batches" in window.banner.label.text()
    qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.run is not None and window.session.run.path == out,
                    timeout=30_000)
    assert window.pickers.model_combo.currentText() == "dvae"
    assert window.chain_view.noise_spin.isEnabled()
    qtbot.waitUntil(lambda: window.latent_view.cloud is not None, timeout=60_000)
    wait_idle(qtbot, window)
    shots(window, "after-training")


def test_training_errors_are_shown(qtbot, window):
    panel = window.train_panel
    panel.data_combo.setCurrentText("/no/such/dataset")
    panel.epochs.setValue(1)
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert window.banner.isVisible()
    assert "Training failed" in window.banner.label.text()
    assert "no such dataset or path" in window.banner.label.text()
    assert panel.start_button.isEnabled()


def test_the_panel_trains_a_plugin_model_with_its_registered_defaults(qtbot, bundled, settings,
                                                                      tmp_path):
    """The example myencoder plugin asks for width 32: the studio trains it at width 32."""
    from pathlib import Path

    from genae_studio.plugins import load_plugins
    from genae_studio.runs import read_config

    from .gui_helpers import open_window

    example = Path(__file__).resolve().parents[2] / "examples/myencoder/genae_myencoder.py"
    host = load_plugins([str(example)], autoload=False)
    window = open_window(qtbot, host, settings)
    panel = window.train_panel
    panel.model_combo.setCurrentText("myencoder")
    assert (panel.width_spin.value(), panel.latent.value()) == (32, 200)
    assert not panel.noise.isEnabled()  # not a denoising model
    panel.model_combo.setCurrentText("vae")
    assert panel.width_spin.value() == 64
    panel.model_combo.setCurrentText("myencoder")
    panel.data_combo.setCurrentText("digits")
    panel.epochs.setValue(1)
    panel.batch.setValue(32)
    panel.latent.setValue(8)
    panel.limit.setValue(64)
    panel.device_combo.setCurrentText("cpu")
    out = tmp_path / "myencoder"
    panel.out_edit.setText(str(out))
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    hparams = read_config(out).hparams
    assert hparams["width"] == 32 and hparams["latent_dim"] == 8
    window.close()


def test_precision_choice_is_passed_kept_and_refused_where_unsupported(qtbot, window,
                                                                       monkeypatch):
    from genae_studio import devices

    panel = window.train_panel
    panel.precision_combo.setCurrentText("bf16")
    assert panel.settings().precision == "bf16"
    state = panel.state()
    panel.precision_combo.setCurrentText("fp32")
    panel.restore(state)
    assert panel.precision_combo.currentText() == "bf16"

    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    panel.data_combo.setCurrentText("digits")
    panel.device_combo.setCurrentText("cpu")
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert "Training failed" in window.banner.label.text()
    assert "no native bfloat16" in window.banner.label.text()


def test_the_training_summary_counts_batches_and_epochs():
    from types import SimpleNamespace

    from genae_studio.gui.train_panel import trained_summary

    def progress(epoch, step, per=8, epochs=1):
        return SimpleNamespace(epoch=epoch, step=step, steps_per_epoch=per, epochs=epochs)

    # Issue 21: "stopped after 0 epoch(s)" although 8 of 8 batches had run.
    assert trained_summary(True, progress(0, 8), 185) == \
        "Training stopped after 8 of 8 batches (1 epoch) in 3:05"
    assert trained_summary(True, progress(1, 3, epochs=3), 5) == \
        "Training stopped after 11 of 24 batches (1 epoch and 3 batches) in 0:05"
    assert "finished after 16 of 16 batches (2 epochs)" in \
        trained_summary(False, progress(1, 8, epochs=2), 5)
    assert "before its first batch" in trained_summary(True, None, 1)


def test_ctrl_t_shows_the_training_settings_and_starts_nothing(qtbot, window):
    window._start_training()
    assert window.train_dock.isVisible() and not window.train_panel.running
    assert not window.jobs.running("train")


def test_the_studio_reopens_the_last_run(qtbot, host, bundled, settings, tmp_path):
    import shutil

    from .gui_helpers import open_window

    copy = tmp_path / "my-run"
    shutil.copytree(bundled, copy)
    first = open_window(qtbot, host, settings)
    first.session.open_run(copy)
    qtbot.waitUntil(lambda: first.session.run.path == copy, timeout=60_000)
    wait_idle(qtbot, first)
    first.close()
    again = open_window(qtbot, host, settings)
    qtbot.waitUntil(lambda: again.session.run is not None, timeout=60_000)
    assert again.session.run.path == copy
    wait_idle(qtbot, again)
    again.close()
