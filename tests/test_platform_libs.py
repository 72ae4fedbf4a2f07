"""The studio checks the xcb platform's shared libraries before Qt can abort on them."""
import pytest

from genae_studio.tasks import platform_libs
from genae_studio.tasks.platform_libs import XCB_LIBRARIES, platform_problem, qt_platform

MISSING = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def fake_loads(name: str) -> bool:
    return name not in MISSING


def test_missing_libraries_are_named_with_their_packages():
    line = platform_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, loads=fake_loads,
                            platform="linux")
    assert "\n" not in line
    for lib in MISSING:
        assert lib in line and XCB_LIBRARIES[lib] in line
    assert "libxcb-cursor" not in line  # only what is missing
    assert "apt-get install libxcb-icccm4 libxcb-keysyms1" in line


@pytest.mark.parametrize("env, platform", [
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux"),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux"),
    ({}, "darwin"),
    ({}, "win32"),
])
def test_other_platforms_are_not_checked(env, platform):
    assert platform_problem(env, loads=lambda _name: False, platform=platform) is None


def test_nothing_missing_is_no_problem():
    assert platform_problem({"DISPLAY": ":0"}, loads=lambda _n: True, platform="linux") is None


def test_qt_platform_reads_the_first_choice():
    assert qt_platform({"QT_QPA_PLATFORM": "xcb;wayland"}) == "xcb"
    assert qt_platform({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == "vnc"
    assert qt_platform({"DISPLAY": ":0"}) == "xcb"


def test_the_studio_exits_2_with_one_line_before_any_qapplication(monkeypatch, capsys):
    """A faked missing library: `genae-studio` prints one line and exits 2; no window code
    (gui.app, which would create the QApplication) is imported."""
    import sys

    from genae_studio.cli import main

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(platform_libs, "_loads", fake_loads)
    started = []
    monkeypatch.setattr("genae_studio.gui.app.run_studio", lambda *a: started.append(a) or 0)
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libxcb-icccm.so.4" in err[0] and "libxcb-keysyms1" in err[0]
    assert not started
