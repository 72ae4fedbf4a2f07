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
    """Wall time of ``python -m genae_studio --help`` / ``plugins`` (the process reports which
    heavy modules it imported; printing that costs nothing measurable)."""
    rows = []
    for argv in (["--help"], ["plugins"]):
        code = _IMPORTS.format(argv=argv)
        times, heavy = [], "?"
        for _ in range(1 if cfg.quick else 3):
            t0 = time.perf_counter()
            out = _run(code)
            times.append(time.perf_counter() - t0)
            heavy = next((line[6:] for line in out.stderr.splitlines()
                          if line.startswith("HEAVY=")), "?")
        ok = heavy != "?" and not ({"torch", "PyQt6"} & set(heavy.split(",")))
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
    import json, sys
    import torch
    from genae_studio.plugins import load_plugins
    from genae_studio.sampling import markov_chain, record_chain

    def rss_mib(field):  # VmRSS now, or VmHWM: the peak since the last reset
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024

    def reset_peak():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    width, size, ch, k, n, threads = map(int, sys.argv[1:7])
    if threads:
        torch.set_num_threads(threads)
    host = load_plugins([], autoload=False)
    spec = host.model("vae")
    torch.manual_seed(0)
    model = spec.build({**spec.defaults, "image_size": size, "channels": ch,
                        "latent_dim": k, "width": width})
    model = model.to(memory_format=torch.channels_last).eval()
    record_chain(model, [0, 1], n=n)  # warm up: allocator pools, the fast plans
    out = {}
    for mode, steps in [(m, int(s)) for m in ("cli", "studio") for s in sys.argv[7:]]:
        reset_peak()
        base = rss_mib("VmRSS")
        if mode == "cli":  # what `genae-studio sample --steps 0,1,5,10,STEPS` keeps
            record_chain(model, sorted({0, 1, 5, 10, steps}), n=n)
        else:  # the studio's bounded history, fed every step as uint8 frames
            from genae_studio.tasks.chains import ChainHistory, Frame
            from genae_studio.imaging import to_uint8
            history = ChainHistory()
            for s in markov_chain(model, n=n, steps=steps):
                history.append(Frame(0, s.t, s.z.numpy(), to_uint8(s.x)), None)
        out[f"{mode} {steps}"] = {"base": base, "peak": rss_mib("VmHWM")}
    print("MEM=" + json.dumps(out))
''')


def memory_rows(cfg: Config) -> list[Row]:
    """Peak RSS during 10- and 1000-step chains, as the command line and the studio keep
    them; the peak is reset (/proc/self/clear_refs) before each chain, so each number is the
    chain's own peak, not the import's."""
    import torch

    args = [cfg.memory_width, cfg.image_size, cfg.channels, cfg.latent_dim, cfg.batch,
            torch.get_num_threads(), *cfg.memory_steps]
    out = subprocess.run([sys.executable, "-c", _MEMORY, *map(str, args)],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    line = next((x for x in out.stdout.splitlines() if x.startswith("MEM=")), None)
    if line is None:
        reason = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return [unavailable(SECTION, "peak memory of long chains", reason[:200])]
    mem = json.loads(line[4:])
    short, long = cfg.memory_steps
    rows = []
    for mode in ("cli", "studio"):
        a, b = mem[f"{mode} {short}"], mem[f"{mode} {long}"]
        what = ("command line (record_chain keeps the listed steps)" if mode == "cli"
                else "studio (ChainHistory: step 0 + the latest 199 steps)")
        rows.append(Row(SECTION, f"peak RSS, {long}-step chain, {what}", b["peak"], "MiB",
                        f"{short}-step chain: {a['peak']:.0f} MiB", "bounded",
                        f"the chain added {b['peak'] - b['base']:.0f} MiB at its peak "
                        f"({short} steps: {a['peak'] - a['base']:.0f} MiB); {cfg.batch} "
                        f"chains, width {cfg.memory_width}, {cfg.image_size}x{cfg.image_size}"))
    return rows


_SAMPLE_RSS = textwrap.dedent('''
    import resource, sys
    from genae_studio.cli import main
    code = main(sys.argv[1:])
    print(f"RSS={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} code={code}")
''')


def sample_memory_rows(cfg: Config) -> list[Row]:
    """Peak RSS of `genae-studio sample` (the bundled vae) for a small and a large --n without
    --npz: chains run --batch-size at a time and the PNG is streamed, so the peak must not grow
    by more than one batch's worth."""
    import tempfile

    small, large = (100, 1000) if cfg.quick else (1000, 20000)
    batch = 64 if cfg.quick else 256
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            out = subprocess.run(
                [sys.executable, "-c", _SAMPLE_RSS, "sample", "--model", "vae", "--n", str(n),
                 "--batch-size", str(batch), "--steps", "0,1,5,10", "--device", "cpu",
                 "--out", str(Path(tmp) / f"grid{n}.png")],
                capture_output=True, text=True, timeout=1800)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RSS=")), None)
            if line is None or not line.endswith("code=0"):
                reason = (out.stderr.strip().splitlines() or ["no output"])[-1]
                return [unavailable(SECTION, "peak RSS of sample", reason[:200])]
            peaks[n] = float(line.split()[0][4:])
            size = (Path(tmp) / f"grid{n}.png").stat().st_size
            peaks[f"{n} png"] = size / 2**20
    # One batch of chains holds x for the 4 kept steps as float32, plus the chain's tensors.
    one_batch = batch * 4 * 3 * 64 * 64 * 4 / 2**20
    grown = peaks[large] - peaks[small]
    return [Row(SECTION, f"peak RSS, sample --n {large} (no --npz)", peaks[large], "MiB",
                f"--n {small}: {peaks[small]:.0f} MiB; +{grown:.0f} MiB",
                f"grows by < one batch (~{one_batch:.0f} MiB)",
                f"--batch-size {batch}, bundled vae (64x64 RGB), steps 0,1,5,10; PNG streamed "
                f"({peaks[f'{large} png']:.0f} MiB file); "
                f"{'within' if grown <= one_batch else 'ABOVE'} one batch")]
