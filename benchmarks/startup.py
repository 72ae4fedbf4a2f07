"""Cold start (light commands import neither torch nor Qt), time to the first window, and
peak memory of long chains (each in a fresh process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from .common import Config, Row, unavailable

SECTION = "startup & memory"

_IMPORTS = textwrap.dedent('''
    import sys
    from genae_studio.cli import main
    try:
        main({argv!r})
    except SystemExit:
        pass
    heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "PyQt6", "pyqtgraph",
                                                                "numpy", "sklearn"}})
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
''')


def _run(code: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def cold_start_rows(cfg: Config) -> list[Row]:
    rows = []
    for argv in (["--help"], ["plugins"]):
        code = _IMPORTS.format(argv=argv)
        out = _run(code)
        heavy = next((line[6:] for line in out.stderr.splitlines() if line.startswith("HEAVY=")),
                     "?")
        times = []
        for _ in range(1 if cfg.quick else 3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "genae_studio", *argv], capture_output=True,
                           timeout=120)
            times.append(time.perf_counter() - t0)
        ok = not ({"torch", "PyQt6"} & set(heavy.split(",")))
        rows.append(Row(SECTION, f"genae-studio {' '.join(argv)}: wall time", min(times) * 1e3,
                        "ms", "", "imports neither torch nor Qt",
                        f"{'OK' if ok else 'FAILS'}: heavy modules imported: {heavy or 'none'}"))
    return rows


_FIRST_WINDOW = textwrap.dedent('''
    import os, sys, time
    t0 = float(os.environ["BENCH_T0"])
    from genae_studio.plugins import load_plugins
    from genae_studio.gui.app import application, create_window
    from PyQt6.QtCore import QEvent, QObject, QSettings, QTimer
    marks = {{}}

    class Watch(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and "window" not in marks:
                marks["window"] = time.time() - t0
            return False

    app = application([])
    host = load_plugins()
    window = create_window(host, checkpoint={run!r},
                           settings=QSettings({ini!r}, QSettings.Format.IniFormat))
    watch = Watch()
    window.installEventFilter(watch)
    window.show()

    def poll():
        cv = window.chain_view
        if len(cv.history) and "chain" not in marks:
            marks["chain"] = time.time() - t0
        if "chain" in marks or time.time() - t0 > 240:
            print("MARKS=" + repr(marks))
            app.quit()

    timer = QTimer(interval=5)
    timer.timeout.connect(poll)
    timer.start()
    app.exec()
''')


def first_window_rows(cfg: Config, run_dir: Path | None) -> list[Row]:
    try:
        import genae_studio.gui.app  # noqa: F401
    except Exception as exc:
        return [unavailable(SECTION, "time to the first window",
                            f"genae_studio.gui.app not importable ({type(exc).__name__})")]
    with tempfile.TemporaryDirectory() as tmp:
        code = _FIRST_WINDOW.format(run=str(run_dir) if run_dir else None,
                                    ini=str(Path(tmp) / "studio.ini"))
        env = {"QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               "BENCH_T0": repr(time.time())}
        out = _run(code, env)
    line = next((x for x in out.stdout.splitlines() if x.startswith("MARKS=")), None)
    if line is None:
        return [unavailable(SECTION, "time to the first window",
                            f"the studio did not start: {out.stderr.strip()[-300:]}")]
    marks = eval(line[6:], {})  # a dict literal we printed ourselves
    rows = [Row(SECTION, "time to the first window (painted)", marks.get("window"), "s",
                note="process start -> first paint of the main window")]
    if "chain" in marks:
        rows.append(Row(SECTION, "time to the first chain grid", marks["chain"], "s",
                        note="run loaded, step 0 of the chain decoded and stored"))
    return rows


_MEMORY = textwrap.dedent('''
    import json, resource, sys
    import numpy as np
    import torch
    from genae_studio.plugins import load_plugins
    from genae_studio.chain import record_chain
    mode, steps, width, size, ch, k, n = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
    host = load_plugins([], autoload=False)
    spec = host.model("vae")
    torch.manual_seed(0)
    model = spec.factory(**{{**spec.defaults, "image_size": size, "channels": ch,
                             "latent_dim": k, "width": width}})
    model = model.to(memory_format=torch.channels_last).eval()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "cli":  # what `genae-studio sample --steps 0,1,5,10,STEPS` keeps
        record_chain(model, sorted({{0, 1, 5, 10, steps}}), n=n)
    else:  # the studio's bounded history, fed every step as uint8 frames
        from genae_studio.chain import markov_chain
        from genae_studio.gui.chain_view import ChainHistory, Frame
        from genae_studio.imaging import to_uint8
        history = ChainHistory()
        for s in markov_chain(model, n=n, steps=steps):
            history.append(Frame(0, s.t, s.z.numpy(), to_uint8(s.x)), None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("MEM=" + json.dumps({{"before": before, "peak": peak}}))
''')


def memory_rows(cfg: Config) -> list[Row]:
    rows = []
    args = [cfg.memory_width, cfg.image_size, cfg.channels, cfg.latent_dim, cfg.batch]
    for mode in ("cli", "studio"):
        peaks = {}
        for steps in cfg.memory_steps:
            out = subprocess.run(
                [sys.executable, "-c", _MEMORY.format(), mode, str(steps), *map(str, args)],
                capture_output=True, text=True, timeout=900,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
            line = next((x for x in out.stdout.splitlines() if x.startswith("MEM=")), None)
            if line is None:
                reason = out.stderr.strip().splitlines()[-1:] or ["no output"]
                rows.append(unavailable(SECTION, f"peak memory ({mode})", reason[0][:200]))
                break
            peaks[steps] = json.loads(line[4:])["peak"] / 1024  # KiB -> MiB
        else:
            short, long = cfg.memory_steps
            what = ("command line (record_chain keeps the listed steps)" if mode == "cli"
                    else "studio (ChainHistory keeps step 0 + the latest 199)")
            rows.append(Row(SECTION, f"peak RSS, {long}-step chain, {what}", peaks[long], "MiB",
                            f"{peaks[long] / peaks[short]:.2f}x the {short}-step chain",
                            "bounded", f"{cfg.batch} chains, width {cfg.memory_width}, "
                                       f"{cfg.image_size}x{cfg.image_size}"))
    return rows
