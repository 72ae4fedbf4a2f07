"""python -m benchmarks [--quick] [--only SECTION ...] [--device DEV] [--json FILE] [--n N]"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from .common import Config, Row, load_average, machine_rows, matmul_rates, table, unavailable

SECTIONS = ("chain", "training", "studio", "startup", "memory")
OPTIONAL = ("compile", "data")  # only with --only: minutes of compiling; data writes 20,000 JPEGs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS + OPTIONAL,
                        help="run only these sections (compile: only when named)")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--n", type=int, help="data: images in the generated CelebA-layout "
                                              "folder (default 20000; --quick 400)")
    args = parser.parse_args(argv)

    import torch

    from genae_studio.devices import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    cfg = Config.make(args.quick)
    wanted = set(args.only or SECTIONS)
    started = time.perf_counter()
    rows: list[Row] = machine_rows(device)
    matmul = matmul_rates(device, cfg.matmul_n, cfg.repeats)
    for name, rate in matmul.items():
        rows.append(Row("machine", f"dense matmul {name} ({device.type})", rate, "GFLOP/s"))
    if device.type != "cuda":
        rows.append(Row("machine", "GPU", None, note="not measured: no CUDA device here"))

    def section(name, fn, *fargs):
        if name not in wanted:
            return
        print(f"[benchmarks] {name}...", file=sys.stderr, flush=True)
        try:
            rows.extend(fn(*fargs))
        except Exception as exc:
            traceback.print_exc()
            rows.append(unavailable(name, "all rows", f"{type(exc).__name__}: {exc}"))

    from .chain import chain_rows
    from .compile import compile_rows
    from .data import data_rows
    from .startup import cold_start_rows, first_window_rows, memory_rows, sample_memory_rows
    from .studio import studio_rows
    from .training import training_rows

    section("chain", chain_rows, cfg, device, matmul)
    section("training", training_rows, cfg, device)
    section("studio", studio_rows, cfg, device)
    section("startup", _startup, cfg, cold_start_rows, first_window_rows)
    section("memory", memory_rows, cfg)
    section("memory", sample_memory_rows, cfg)
    section("compile", compile_rows, cfg, device)
    section("data", data_rows, cfg, args.n)
    rows.append(Row("machine", "load average (1/5/15 min) at the end", load_average(),
                    note=f"whole run {time.perf_counter() - started:.0f} s"))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in rows], f, indent=1, default=str)
    return 0


def _startup(cfg, cold_start_rows, first_window_rows):
    import tempfile
    from pathlib import Path

    from .studio import _make_run

    rows = cold_start_rows(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        rows += first_window_rows(cfg, _make_run(cfg, Path(tmp) / "run"))
    return rows


if __name__ == "__main__":
    sys.exit(main())
