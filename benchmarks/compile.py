"""torch.compile for training and for the chain, fp32 and bf16, compile time included.

Not in the default sections (compiling takes minutes on 2 cores): ``python -m benchmarks
--only compile``. Each variant runs in a fresh process, so no compiled code is reused.

Steady-state rates use ``benchmarks.training.clock`` (wall time, or CPU time with
GENAE_BENCH_CLOCK=cpu); first-epoch and first-chain times are always wall time.

For a 20-epoch run the benchmark extrapolates: eager time = 20 x steps / eager rate; compiled
time = compile time + 20 x steps / compiled rate, where "compile time" is the extra wall time
of the compiled run's first epoch over the eager run's. ``steps`` is one epoch of the
benchmark's toyfaces setting (18,000 training images at batch 64: 281 steps).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from .common import Config, Row

SECTION = "compile"
EPOCH_STEPS = 281  # toyfaces: 18,000 training images / batch 64


def _train_probe(cfg: Config, device: str, precision: str, compiled: bool) -> dict:
    """In this process: first-epoch time and the second epoch's images/s of train()."""
    import tempfile
    from pathlib import Path

    import torch

    from genae_studio.training import TrainSettings, train

    from .training import _images, _rate, bench_host, clock

    images = _images(cfg)
    stamps: list[float] = []
    first: list[float] = []
    started = time.perf_counter()

    def on_progress(p):
        if p.epoch == 0 and p.step == p.steps_per_epoch:
            first.append(time.perf_counter() - started)
        if p.epoch == 1:
            stamps.append(clock())

    with tempfile.TemporaryDirectory() as out:
        settings = TrainSettings(model="vae", data="bench", epochs=2, batch_size=cfg.batch,
                                 latent_dim=cfg.latent_dim, width=cfg.width, device=device,
                                 seed=0, precision=precision, compile=compiled)
        train(settings, Path(out), host=bench_host(images), on_progress=on_progress)
    return {"first_epoch_s": first[0], "rate": _rate(stamps, cfg.batch),
            "threads": torch.get_num_threads()}


def _chain_probe(cfg: Config, device: str, precision: str, compiled: bool) -> dict:
    """In this process: the first chain's time and the best later rate (image-steps/s)."""
    import torch

    from genae_studio.sampling import markov_chain

    from .chain import default_model
    from .training import clock

    model = default_model(cfg, "vae", torch.device(device)).eval()
    if compiled:
        model.encoder.compile()
        model.decoder.compile()

    def run(now=time.perf_counter):
        g = torch.Generator(device).manual_seed(0)
        t0 = now()
        # compiled: module calls (the fast plans bypass the modules); eager: the fast plans
        for _ in markov_chain(model, n=cfg.batch, steps=cfg.chain_steps, generator=g,
                              fast=not compiled, precision=precision):
            pass
        return now() - t0

    first = run()
    best = min(run(clock) for _ in range(cfg.repeats))
    return {"first_s": first, "rate": cfg.batch * cfg.chain_steps / best}


def _probe(kind: str, cfg: Config, device, precision: str, compiled: bool) -> dict:
    """Run one probe in a fresh interpreter (nothing compiled carries over)."""
    code = ("import json, sys\nfrom benchmarks.common import Config\n"
            "from benchmarks import compile as c\n"
            f"cfg = Config.make({cfg.quick!r})\n"
            f"r = c._{kind}_probe(cfg, {str(device)!r}, {precision!r}, {compiled!r})\n"
            "print('RESULT ' + json.dumps(r))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{kind} probe failed: {out.stderr.strip().splitlines()[-1:]}")


def compile_rows(cfg: Config, device) -> list[Row]:
    from genae_studio.devices import bf16_unsupported

    rows = []
    where = "GPU" if device.type == "cuda" else "CPU"
    precisions = ["fp32"] + ([] if bf16_unsupported(device) else ["bf16"])
    for precision in precisions:
        eager = _probe("train", cfg, device, precision, False)
        comp = _probe("train", cfg, device, precision, True)
        compile_s = max(comp["first_epoch_s"] - eager["first_epoch_s"], 0.0)
        steps = 20 * EPOCH_STEPS
        eager_total = steps * cfg.batch / eager["rate"]
        comp_total = compile_s + steps * cfg.batch / comp["rate"]
        rows.append(Row(f"{SECTION} ({where})", f"training VAE {precision}: eager", eager["rate"],
                        "images/s"))
        rows.append(Row(f"{SECTION} ({where})", f"training VAE {precision}: torch.compile",
                        comp["rate"], "images/s", f"{comp['rate'] / eager['rate']:.2f}x eager "
                        f"steady; 20 epochs incl. compile {eager_total / comp_total:.2f}x",
                        ">= 1.1x on 20 epochs incl. compile",
                        f"compile time {compile_s:.0f} s (first epoch {comp['first_epoch_s']:.0f}"
                        f" s against {eager['first_epoch_s']:.0f} s eager); 20 epochs "
                        f"extrapolated: {eager_total / 60:.0f} min eager, "
                        f"{comp_total / 60:.0f} min compiled"))
        eager = _probe("chain", cfg, device, precision, False)
        comp = _probe("chain", cfg, device, precision, True)
        rows.append(Row(f"{SECTION} ({where})", f"chain {precision}: project chain (eager "
                        "plans)", eager["rate"], "image-steps/s"))
        rows.append(Row(f"{SECTION} ({where})", f"chain {precision}: torch.compile modules",
                        comp["rate"], "image-steps/s",
                        f"{comp['rate'] / eager['rate']:.2f}x the plans",
                        note=f"first chain {comp['first_s']:.0f} s with compiling, "
                             f"{eager['first_s']:.1f} s eager"))
    return rows
