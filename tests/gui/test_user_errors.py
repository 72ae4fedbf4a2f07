"""Errors a GUI user can act on (issue 21, "What to build" 6): one line, no traceback for a
user's error (unless --debug), the data format as a choice of the Open dialog, and an offer to
train a model on data that does not fit the open run."""
from PyQt6.QtCore import Qt

from genae_studio.gui.pickers import DETECT, data_formats

from .gui_helpers import open_window, wait_idle


def _open_no_run(qtbot, window, tmp_path):
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    window.session.open_run(folder)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30_000)
    wait_idle(qtbot, window)
    return window.log_view.toPlainText()


def test_a_users_error_is_one_line_without_a_traceback(qtbot, window, tmp_path):
    log = _open_no_run(qtbot, window, tmp_path)
    assert "error in Open run" in log and "Traceback" not in log
    assert not window.banner.details.isHidden()  # the Log is one click away


def test_debug_keeps_the_traceback(qtbot, host, bundled, settings, tmp_path):
    window = open_window(qtbot, host, settings, debug=True)
    assert "Traceback" in _open_no_run(qtbot, window, tmp_path)
    window.close()


def test_the_open_dataset_dialog_offers_the_formats(qtbot, window, tmp_path, monkeypatch):
    formats = data_formats(window.session.host)
    assert next(iter(formats)) == DETECT and formats[DETECT] is None
    names = [f for f, name in formats.items() if name is not None]
    assert names, formats  # every registered on-disk format is a choice
    chosen = names[-1]
    asked, loaded = [], []

    def answer(dialog):
        asked.append(dialog.nameFilters())
        dialog.selectNameFilter(chosen)
        dialog.selectFile(str(tmp_path))
        return True

    monkeypatch.setattr(window.pickers, "dialog_answer", answer)
    monkeypatch.setattr(window.session, "load_data",
                        lambda name, **kw: loaded.append((name, kw.get("data_format"))))
    window.pickers.open_data_dialog(folder=True)
    assert asked[0] == list(formats)
    assert loaded == [(str(tmp_path), formats[chosen])]


def test_the_format_hint_names_no_command_line_flag():
    from genae_studio.tasks.loading import FORMAT_HINT

    assert "--" not in FORMAT_HINT and "Open dataset" in FORMAT_HINT


def test_data_that_does_not_fit_offers_to_train_a_model_on_it(qtbot, window):
    """The tiny bundled run is a 1-channel digits model; toyfaces is RGB."""
    window.session.load_data("toyfaces", explicit=True)
    qtbot.waitUntil(lambda: window.banner.isVisible()
                    and window.banner.action_button.isVisible(), timeout=60_000)
    assert window.banner.action_button.text() == "Train a model on it"
    assert "3-channel" in window.banner.label.text()
    qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
    assert window.train_panel.data_combo.currentText() == "toyfaces"
    assert window.train_dock.isVisible() and not window.train_panel.running
    wait_idle(qtbot, window)
