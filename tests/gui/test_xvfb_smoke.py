"""The studio in a real X server (Xvfb) with Qt's xcb platform, driven by real input (xdotool):
start, Step, a real drag from one gallery image onto another, GIF export through the file
dialog, switch model, close (issue 21, "What to build" 8).

Skipped where Xvfb or xdotool is missing; CI installs them (.ci/run). The studio writes where
its controls are (genae_studio.env.WIDGET_MAP_ENV), so the clicks land where a person's
would.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                                reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)")

TIMEOUT = 120  # seconds for one step of the session on a busy machine


@pytest.fixture(scope="module")
def two_runs(resources, host, tmp_path_factory):
    """Resources with two bundled runs (the tiny vae and a tiny aae): a model to switch to."""
    from genae_studio.training import TrainSettings, train

    from .conftest import TINY

    root = tmp_path_factory.mktemp("xvfb-resources")
    shutil.copytree(resources / "runs" / "vae", root / "runs" / "vae")
    train(TrainSettings(**{**TINY, "model": "aae"}), root / "runs" / "aae", host=host)
    return root


@pytest.fixture
def display():
    """A fresh Xvfb server at 1366 x 768; its display name."""
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1366x768x24",
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read, 16)
        if not chunk:
            break
        number += chunk
    os.close(read)
    try:
        yield f":{number.decode().strip()}"
    finally:
        server.terminate()
        server.wait(30)


class Studio:
    """A `genae-studio` process on ``display`` and what it says about its window."""

    def __init__(self, display: str, resources: Path, tmp: Path):
        self.display, self.map_file = display, tmp / "widgets.json"
        self.env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                    "GENAE_STUDIO_RESOURCES": str(resources), "HOME": str(tmp),
                    "GENAE_STUDIO_SETTINGS": str(tmp / "studio.ini"),
                    "GENAE_STUDIO_RUNS": str(tmp / "runs"),
                    "GENAE_STUDIO_WIDGET_MAP": str(self.map_file)}
        self.log = open(tmp / "studio.log", "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen([sys.executable, "-m", "genae_studio", "--device", "cpu"],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def map(self) -> dict:
        try:
            return json.loads(self.map_file.read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, what: str, ok, timeout: float = TIMEOUT) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.process.poll() is None, f"the studio exited ({self.tail()})"
            current = self.map()
            if current and ok(current["state"]):
                return current
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}: {self.map().get('state')}; "
                             f"{self.tail()}")

    def idle(self, state) -> bool:
        return not state["jobs"] and state["latent"] and state["last_t"] is not None

    def xdo(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=60)

    def click(self, x: int, y: int) -> None:
        self.xdo("mousemove", "--sync", str(x), str(y), "click", "1")

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-2000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.log.close()


def centre(rect) -> tuple[int, int]:
    x, y, w, h = rect
    return x + w // 2, y + h // 2


def test_a_session_in_a_real_x_server(two_runs, display, tmp_path):
    studio = Studio(display, two_runs, tmp_path)
    try:
        # Start: the bundled vae run, its data, the latent fit and step 0.
        current = studio.wait("the first chain step", studio.idle)
        assert current["state"]["run"] == "vae" and current["state"]["last_t"] == 0

        # Step: a real click on the Step button.
        studio.click(*centre(current["widgets"]["step"]))
        current = studio.wait("step 1", lambda s: s["last_t"] == 1 and not s["jobs"])

        # A real drag of the first gallery image onto the last one in view.
        assert len(current["gallery"]) >= 2, current
        (x0, y0), (x1, y1) = current["gallery"][0], current["gallery"][-1]
        studio.xdo("mousemove", "--sync", str(x0), str(y0), "mousedown", "1")
        for k in range(1, 13):  # past Qt's drag distance, then over the target, in steps
            studio.xdo("mousemove", "--sync", str(x0 + (x1 - x0) * k // 12),
                       str(y0 + (y1 - y0) * k // 12 + (k % 2)))
            time.sleep(0.05)
        studio.xdo("mouseup", "1")
        current = studio.wait("the interpolation", lambda s: s["interpolated"] and not s["jobs"])

        # GIF export: Ctrl+G, the file dialog, a typed path, Enter.
        gif = tmp_path / "smoke.gif"
        studio.click(*centre(current["widgets"]["grid"]))  # the window has the keyboard
        studio.xdo("key", "ctrl+g")
        dialog = ""
        end = time.monotonic() + TIMEOUT
        while not dialog and time.monotonic() < end:
            found = subprocess.run(["xdotool", "search", "--name", "as GIF"], env=studio.env,
                                   capture_output=True, text=True)
            dialog = found.stdout.split()[-1] if found.stdout.split() else ""
            time.sleep(0.3)
        assert dialog, "no export dialog appeared"
        studio.xdo("windowfocus", "--sync", dialog)
        studio.xdo("key", "ctrl+a")
        studio.xdo("type", "--delay", "20", str(gif))
        studio.xdo("key", "Return")
        end = time.monotonic() + TIMEOUT
        while not gif.is_file() and time.monotonic() < end:
            time.sleep(0.3)
        from PIL import Image

        with Image.open(gif) as image:
            assert image.n_frames == 2  # steps 0 and 1

        # Switch model: open the Model box, type "a" (aae), Enter.
        current = studio.wait("the export to end", lambda s: not s["jobs"])
        studio.click(*centre(current["widgets"]["model"]))
        time.sleep(0.5)
        studio.xdo("key", "a", "Return")
        studio.wait("the aae run", lambda s: s["run"] == "aae" and studio.idle(s))

        # Close: Ctrl+Q ends the process.
        studio.xdo("key", "ctrl+q")
        assert studio.process.wait(TIMEOUT) == 0, studio.tail()
    finally:
        studio.close()
