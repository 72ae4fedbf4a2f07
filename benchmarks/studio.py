"""Studio responsiveness: event-loop latency while a chain or training runs, the time from a
chain step to its grid on screen, and the latent view's update time.

Runs the real main window (offscreen when there is no display). Rows that need parts of the
GUI that are missing say "not available" with the reason.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import Config, Row, percentile, unavailable

SECTION = "studio"
PROBE_MS = 5  # a probe is posted every 5 ms; its latency is the wait to be serviced
GOAL = "p99 < 30 ms, max < 100 ms"
ACTION_GOAL = "< 100 ms"  # issue 21: no gap over 100 ms during any user action (idle 2 cores)
CHAIN_STEPS = 50  # the chain measured: 50 steps of N = 64


def _make_run(cfg: Config, folder: Path) -> Path:
    """A run folder with the default-size VAE (untrained weights: speed does not care)."""
    import torch

    from genae_studio.plugins import load_plugins
    from genae_studio.runs import RunConfig, run_versions, save_run

    host = load_plugins([], autoload=False)
    spec = host.model("vae")
    hparams = {**spec.defaults, "image_size": cfg.image_size, "channels": cfg.channels,
               "latent_dim": cfg.latent_dim, "width": cfg.width}
    torch.manual_seed(0)
    model = spec.build(hparams)
    config = RunConfig(plugin=spec.plugin, model="vae", hparams=hparams,
                       data={"data": "bench", "image_size": cfg.image_size,
                             "channels": cfg.channels},
                       training={"batch_size": cfg.batch}, versions=run_versions())
    save_run(folder, config, model)
    return folder


def _host_with_bench_data(cfg: Config):
    from .training import bench_host

    images = np.random.default_rng(1).integers(
        0, 256, (512, cfg.channels, cfg.image_size, cfg.image_size), np.uint8)
    return bench_host(images)


class Probe:
    """A PreciseTimer of PROBE_MS in a real event loop (QEventLoop.exec): the gaps between its
    ticks are how long the GUI thread could not answer (a gap of 5 ms is a free loop)."""

    def __init__(self):
        self.gaps: list[float] = []

    def run(self, seconds: float, until=None) -> list[float]:
        """Gaps in seconds, for ``seconds`` or until ``until()`` turns true (checked per tick)."""
        from PyQt6.QtCore import QEventLoop, Qt, QTimer

        loop = QEventLoop()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick():
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now
            if until is not None and until():
                loop.quit()

        timer = QTimer(interval=PROBE_MS, timerType=Qt.TimerType.PreciseTimer)
        timer.timeout.connect(tick)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        timer.start()
        last[0] = time.perf_counter()
        loop.exec()
        timer.stop()
        self.gaps = gaps
        return gaps


def _spin(seconds: float, until=None) -> bool:
    """Run the event loop for ``seconds`` or until ``until()`` is true; returns until()."""
    from PyQt6.QtCore import QEventLoop
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if until is not None and until():
            return True
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    return bool(until and until())


def _latency_row(name: str, gaps: list[float], note: str = "") -> Row:
    ms = np.asarray(gaps) * 1e3
    p99 = percentile(ms, 99)
    worst = ms.max() if len(ms) else float("nan")
    return Row(SECTION, f"event-loop gaps {name}", p99, "ms p99",
               f"max {worst:.0f} ms, p50 {percentile(ms, 50):.1f} ms, {len(ms)} ticks of a "
               f"{PROBE_MS} ms timer", GOAL if "idle" not in name else "", note,
               extra={"p99_ms": p99, "max_ms": float(worst)})


def studio_rows(cfg: Config, device) -> list[Row]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PyQt6.QtCore import QSettings

        from genae_studio.gui.app import application, create_window
        from genae_studio.tasks.live_training import train_task as train_job
    except Exception as exc:  # the studio is still being written
        return [unavailable(SECTION, "event-loop latency, step-to-screen, latent view",
                            f"genae_studio.gui not importable ({type(exc).__name__}: {exc})")]
    import sys

    import torch

    from genae_studio.gui import workers
    from genae_studio.gui.app import reserve_gui_core

    saved = torch.get_num_threads(), workers.WORKER_NICENESS, sys.getswitchinterval()
    reserve_gui_core()  # as `genae-studio` does: worker priority, GIL hand-over, threads
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            return _studio(cfg, device, tmp, application, create_window, train_job, QSettings)
        except Exception as exc:
            return [unavailable(SECTION, "studio measurements",
                                f"{type(exc).__name__}: {exc}")]
        finally:
            torch.set_num_threads(saved[0])
            workers.WORKER_NICENESS = saved[1]
            sys.setswitchinterval(saved[2])


def _studio(cfg, device, tmp, application, create_window, train_job, QSettings) -> list[Row]:
    import genae_studio.sampling as chain_module
    from genae_studio.training import TrainSettings

    rows: list[Row] = []
    run_dir = _make_run(cfg, tmp / "run")
    host = _host_with_bench_data(cfg)
    app = application([])
    settings = QSettings(str(tmp / "studio.ini"), QSettings.Format.IniFormat)
    window = create_window(host, checkpoint=run_dir, data="bench", device=str(device),
                           settings=settings)
    window.resize(1400, 900)
    window.metrics_panel.live_box.setChecked(False)  # its feature network would add load
    window.show()
    cv, lv = window.chain_view, window.latent_view
    ready = _spin(300 if not cfg.quick else 60,
                  lambda: window.session.run is not None and len(cv.history) > 0
                  and lv.cloud is not None and not window.jobs.active())
    if not ready:
        window.close()
        return [unavailable(SECTION, "studio measurements",
                            "the run, its first chain step or the PCA did not load in time")]
    probe = Probe()
    rows.append(_latency_row("(idle)", probe.run(cfg.gui_seconds)))

    # --- a 50-step chain of N = 64: also the time from a step's tensors to its grid painted --
    done_at: dict[int, float] = {}
    shown: dict[int, float] = {}
    original = chain_module.markov_chain

    def stamped(*args, **kwargs):
        start_t = cv.history.last_t
        for step in original(*args, **kwargs):
            if step.t > 0:  # step 0 of a continued chain re-decodes a step already shown
                done_at[start_t + step.t] = time.perf_counter()
            yield step

    from PyQt6.QtCore import QEvent, QObject

    class PaintWatch(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and len(cv.history):
                t = cv.history.t[min(cv.index, len(cv.history) - 1)]
                if t in done_at and t not in shown:
                    shown[t] = time.perf_counter()
            return False

    steps = CHAIN_STEPS if not cfg.quick else 5

    def chain_gaps(note: str) -> tuple[list[float], int, float]:
        """Run ``steps`` steps of 64 chains (the strip and a selected chain drawn too)."""
        cv.select(0)
        before = cv.history.last_t
        started = time.perf_counter()
        cv.run_steps(steps)
        gaps = probe.run(600, lambda: not cv.running)
        _spin(30, lambda: not window.jobs.running("chain"))
        return gaps, cv.history.last_t - before, time.perf_counter() - started

    watch = PaintWatch()
    viewport = cv.grid.viewport()
    viewport.installEventFilter(watch)
    chain_module.markov_chain = stamped
    try:
        cv.n_spin.setValue(64)
        cv.reset(0)
        _spin(60, lambda: len(cv.history) == 1 and not window.jobs.active())
        gaps, done, took = chain_gaps("")
    finally:
        chain_module.markov_chain = original
        viewport.removeEventFilter(watch)
    rows.append(_latency_row(f"while a {steps}-step chain of N = 64 runs", gaps,
                             f"{done} steps in {took:.1f} s"))
    lag = np.array([shown[t] - done_at[t] for t in shown]) * 1e3
    if len(lag):
        rows.append(Row(SECTION, "chain step finished -> its grid painted", percentile(lag, 50),
                        "ms p50", f"p99 {percentile(lag, 99):.0f} ms over {len(lag)} shown "
                                  f"of {done} steps", "",
                        "includes the <= 33 ms redraw throttle"))
    else:
        rows.append(unavailable(SECTION, "chain step -> grid painted",
                                "no paint of the chain grid was observed"))

    # --- the latent view: 64 chains x 100 steps x 200 dims with the fitted PCA -------------
    rows.extend(_latent_row(cfg, lv))

    # --- while training runs, then a chain during training -----------------------------------
    train_settings = TrainSettings(model="vae", data="bench", epochs=50, batch_size=cfg.batch,
                                   latent_dim=cfg.latent_dim, width=cfg.width,
                                   device=str(device))
    updates = []
    job = window.jobs.start("Training", train_job, settings=train_settings, out=tmp / "trained",
                            host=host,
                            key="bench-train", on_yield=updates.append)
    _spin(120, lambda: len(updates) > 0)

    def trained_steps():
        return max((u.steps[-1] for u in updates if hasattr(u, "steps")), default=0)

    before = trained_steps()
    train_gaps = probe.run(cfg.gui_seconds)
    during = trained_steps() - before
    rows.append(_latency_row("while training runs", train_gaps,
                             f"{during} training steps of {cfg.batch} images during the window"))
    before = trained_steps()
    gaps, done, took = chain_gaps("")
    rows.append(_latency_row(f"while a {steps}-step chain of N = 64 runs during training",
                             gaps, f"{done} chain steps in {took:.1f} s and "
                                   f"{trained_steps() - before} training steps"))
    job.abort()
    _spin(60, lambda: not window.jobs.active())

    # --- the largest event-loop gap per user action -----------------------------------------
    rows.extend(_action_rows(cfg, window, tmp, run_dir, probe))

    # --- the metrics' first use: cancelling the feature network's training, closing ---------
    rows.append(_cancel_row(window, "Esc", lambda: window._stop()))
    rows.append(_cancel_row(window, "window close", window.close))
    app.processEvents()
    return rows


def _cancel_row(window, how: str, act) -> Row:
    """Start the metrics' feature-network training (long), then stop it with ``act``."""
    from genae_studio.tasks.chain_metrics import reference_task as reference_job

    s = window.session
    progress = []
    job = window.jobs.start("Metrics reference", reference_job, run=s.run, lock=s.lock,
                            host=s.host, data=s.data, bn_mode="batch", feature_steps=1_000_000,
                            key="metrics-ref")
    job.signals.progress.connect(lambda p: progress.append(p))
    if not _spin(300, lambda: any(p.total >= 1_000_000 and p.done > 0 for p in progress)):
        return unavailable(SECTION, f"feature-network training stopped by {how}",
                           "the training did not start in time")
    started = time.perf_counter()
    act()
    returned = time.perf_counter() - started
    finished = job.signals.finished
    done = []
    finished.connect(lambda: done.append(time.perf_counter()))
    _spin(60, lambda: bool(done))
    stopped = (done[0] - started) * 1e3 if done else float("nan")
    if how == "window close":
        return Row(SECTION, "closing the window while the feature network trains", returned * 1e3,
                   "ms until close() returned", f"training stopped {stopped:.0f} ms after",
                   "< 1000 ms", "close() cancels every job and does not wait")
    return Row(SECTION, f"feature-network training stopped by {how}", stopped, "ms", "",
               "< 1000 ms", "the training loop checks the cancel flag between batches")


def _latent_row(cfg: Config, lv) -> list[Row]:
    """Project (steps, chains, K) codes with the fitted PCA and redraw the trajectories."""
    from PyQt6.QtWidgets import QApplication

    cloud = lv.cloud
    n, steps, k = cfg.latent_chains, cfg.latent_steps, cloud.encoded.codes.shape[1]
    z = np.random.default_rng(0).standard_normal((steps, n, k)).astype(np.float32)
    update, paint = [], []
    for _ in range(6):
        t0 = time.perf_counter()
        traj = cloud.project(z.reshape(-1, k)).reshape(steps, n, 2)
        lv.set_chains(traj, steps - 1, 3)
        t1 = time.perf_counter()
        lv.plot.viewport().repaint()
        QApplication.instance().processEvents()
        update.append(t1 - t0)
        paint.append(time.perf_counter() - t1)
    up, pa = np.median(update[1:]) * 1e3, np.median(paint[1:]) * 1e3
    name = f"latent view update: {n} chains x {steps} steps x {k} dims"
    return [Row(SECTION, name, float(up), "ms", f"max {max(update[1:]) * 1e3:.1f} ms",
                "< 20 ms", "project all points with the fitted PCA + set the plot items' data"),
            Row(SECTION, "latent view repaint after that update", float(pa), "ms",
                f"update + repaint {up + pa:.0f} ms", "",
                "the whole plot: data and prior clouds, trajectories, ellipses (offscreen)")]


def _action_row(probe: Probe, name: str, act, done, timeout: float, min_s: float = 0.5,
                note: str = "") -> Row:
    """The largest gap of the event loop from ``act()`` (run inside the loop) until ``done()``
    (and at least ``min_s``): how long the window could not answer during that action."""
    from PyQt6.QtCore import QTimer

    started: list[float] = []

    def go():
        started.append(time.perf_counter())
        act()

    def finished() -> bool:
        return bool(started) and time.perf_counter() - started[0] >= min_s and done()

    QTimer.singleShot(0, go)
    gaps = probe.run(timeout, finished)
    ms = np.asarray(gaps) * 1e3
    took = time.perf_counter() - started[0] if started else float("nan")
    ended = "" if finished() else f" (not finished after {timeout:.0f} s)"
    worst = float(ms.max()) if len(ms) else float("nan")
    return Row(SECTION, f"largest event-loop gap: {name}", worst, "ms",
               f"p99 {percentile(ms, 99):.0f} ms; the action took {took:.1f} s{ended}",
               ACTION_GOAL, note, extra={"max_ms": worst, "seconds": took})


def _action_rows(cfg: Config, window, tmp: Path, run_dir: Path, probe: Probe) -> list[Row]:
    """Export a GIF, switch the batch-norm mode (and back from precise), switch the model,
    open a run, start and stop training, Reset while the metrics work."""
    from PyQt6.QtCore import QTimer

    s, cv, jobs = window.session, window.chain_view, window.jobs
    rows: list[Row] = []
    wait = 60 if cfg.quick else 600  # seconds an action may take before it is reported late

    def settled() -> bool:
        return not jobs.active() and window.latent_view.cloud is not None \
            and len(cv.history) > 0

    window.exports.ask = lambda title, name, filt: tmp / name
    steps = len(cv.history)
    rows.append(_action_row(probe, f"export GIF ({steps} steps of {cv.history.n} chains)",
                            window.exports.gif, lambda: not window.exports.running, wait,
                            note="written in a worker, progress per frame"))
    rows.append(_action_row(probe, "switch batch-norm mode to eval", lambda:
                            cv.bn_combo.setCurrentText("eval"), settled, wait, min_s=1.0))

    def precise_and_back():
        cv.bn_combo.setCurrentText("precise")
        QTimer.singleShot(1500, lambda: cv.bn_combo.setCurrentText("batch"))

    rows.append(_action_row(probe, "switch batch-norm mode to precise, back to batch after "
                            "1.5 s", precise_and_back, lambda: cv.bn_combo.currentText() ==
                            "batch" and not jobs.running("precise-bn") and settled(), wait,
                            min_s=2.0, note="switching back cancels the estimate"))
    if "aae" in s.bundled() and not cfg.quick:  # quick: the bench images fit no bundled run
        rows.append(_action_row(probe, "switch model (the bundled aae run)",
                                lambda: window.pickers.model_picked("aae"),
                                lambda: s.run is not None and s.run.name == "aae" and settled(),
                                wait, note="opens the run, its data, the latent fit, step 0"))
    rows.append(_action_row(probe, "open a run folder", lambda: s.open_run(run_dir),
                            lambda: s.run is not None and s.run.path is not None
                            and Path(s.run.path).resolve() == run_dir.resolve() and settled(),
                            wait, note="the bench run: load, data, latent fit, step 0"))
    panel = window.train_panel
    panel.model_combo.setCurrentText("vae")
    panel.data_combo.setCurrentText("bench")
    panel.epochs.setValue(1)
    panel.batch.setValue(cfg.batch)
    panel.latent.setValue(cfg.latent_dim)
    panel.width_spin.setValue(cfg.width)
    panel.out_edit.setText(str(tmp / "studio-trained"))

    def start_then_stop():
        panel.start()
        QTimer.singleShot(3000, panel.stop)

    rows.append(_action_row(probe, "start training, stop it after 3 s", start_then_stop,
                            lambda: not panel.running, wait, min_s=3.0,
                            note="the run is saved when it stops"))
    _spin(wait, lambda: not jobs.active())
    window.metrics_panel.measure()
    if _spin(wait, lambda: jobs.running("metrics") or jobs.running("metrics-ref")):
        rows.append(_action_row(probe, "Reset while the chain metrics work",
                                lambda: cv.reset(cv.seed_spin.value() + 1),
                                lambda: len(cv.history) == 1 and not jobs.running("chain"),
                                wait, min_s=1.0))
    else:
        rows.append(unavailable(SECTION, "Reset while the chain metrics work",
                                "the metrics did not start"))
    window.metrics_panel.cancel()
    _spin(60, lambda: not jobs.active())
    return rows
