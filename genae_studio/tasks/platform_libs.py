"""Before the window opens: are the shared libraries of Qt's X11 platform (xcb) there?

Without one of them Qt aborts the process (exit 134, a core dump) with a message that names
another library. The studio checks first, loading each library the way Qt would (the dynamic
loader, so LD_LIBRARY_PATH counts), and names what is missing with its Debian/Ubuntu package.

Qt-free on purpose: `genae-studio` runs it before PyQt6 is imported or a QApplication exists.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: The shared libraries PyQt6's xcb platform plugin loads (libqxcb.so, libQt6XcbQpa.so.6 and
#: the Qt libraries under them) and the Debian/Ubuntu packages that hold them. The first
#: fifteen are the list found on a minimal Debian (issue 21); the rest come with them there.
XCB_LIBRARIES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11.so.6": "libx11-6",
    "libfreetype.so.6": "libfreetype6",
}


def qt_platform(environ: Mapping[str, str] | None = None) -> str:
    """The platform plugin Qt will try first: $QT_QPA_PLATFORM's first entry, else wayland
    in a Wayland session, else xcb (Linux)."""
    env = os.environ if environ is None else environ
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] | None = None) -> dict[str, str]:
    """The libraries of XCB_LIBRARIES that cannot be loaded -> their packages."""
    loads = loads or _loads
    return {lib: pkg for lib, pkg in XCB_LIBRARIES.items() if not loads(lib)}


def platform_problem(environ: Mapping[str, str] | None = None, *,
                     loads: Callable[[str], bool] | None = None,
                     platform: str = sys.platform) -> str | None:
    """One line saying which libraries the xcb platform lacks, or None when it can start
    (or another platform is used: offscreen, wayland, macOS, Windows)."""
    if not platform.startswith("linux") or qt_platform(environ) != "xcb":
        return None
    missing = missing_libraries(loads)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(missing.values()))
    return (f"the studio's window needs system libraries that are missing: "
            f"{', '.join(missing)}; on Debian/Ubuntu install them with "
            f"`sudo apt-get install {packages}` (the commands work without them: "
            "genae-studio --help)")
