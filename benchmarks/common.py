"""Shared pieces: the table, timers, the machine's description and its matmul rate."""
from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Config:
    """Sizes for one run: the full benchmark, or a tiny one (``--quick``) for tests."""

    quick: bool = False
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 200
    width: int = 64
    batch: int = 64
    chain_steps: int = 10
    train_steps: int = 10  # timed steps per training measurement (after one warm-up epoch)
    repeats: int = 3  # best of N for the chain
    latent_chains: int = 64
    latent_steps: int = 100
    memory_steps: tuple[int, int] = (10, 1000)
    memory_width: int = 16  # the bundled runs' width: 1000 steps take seconds, not minutes
    gui_seconds: float = 4.0
    matmul_n: int = 2048

    @classmethod
    def make(cls, quick: bool) -> Config:
        if not quick:
            return cls()
        return cls(quick=True, image_size=32, channels=1, latent_dim=16, width=8, batch=16,
                   chain_steps=3, train_steps=3, repeats=1, latent_chains=8, latent_steps=10,
                   memory_steps=(2, 20), memory_width=8, gui_seconds=0.6, matmul_n=512)


@dataclass
class Row:
    section: str
    name: str
    value: float | str | None
    unit: str = ""
    ratio: str = ""  # comparisons: "3.4x naive", "71% of matmul"
    goal: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)

    def cells(self) -> list[str]:
        if isinstance(self.value, float):
            v = self.value
            value = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) >= 0.01 else f"{v:.2g}"
        else:
            value = "–" if self.value is None else str(self.value)
        return [self.section, self.name, f"{value} {self.unit}".strip(), self.ratio,
                self.goal, self.note]


def unavailable(section: str, name: str, reason: str, goal: str = "") -> Row:
    return Row(section, name, None, goal=goal, note=f"not available: {reason}")


def table(rows: list[Row]) -> str:
    head = ["section", "measurement", "value", "compared", "goal", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines)


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 1,
              sync: Callable[[], None] | None = None) -> float:
    """Best wall time of ``repeats`` calls after ``warmup`` calls."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def percentile(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else \
        float("nan")


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_rows(device) -> list[Row]:
    import torch

    rows = [Row("machine", "CPU", f"{cpu_name()}, {os.cpu_count()} logical cores"),
            Row("machine", "torch", f"{torch.__version__}, {torch.get_num_threads()} "
                                    f"intra-op threads, device {device}"),
            Row("machine", "load average (1/5/15 min) at start", load_average())]
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        rows.append(Row("machine", "GPU", f"{p.name}, {p.total_memory / 2**30:.0f} GiB"))
    return rows


def cuda_sync(device) -> Callable[[], None]:
    import torch

    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def matmul_rates(device, n: int, repeats: int) -> dict[str, float]:
    """Dense n x n matrix-multiply rate in GFLOP/s: fp32 (and on CUDA TF32 and bf16).

    On the CPU torch's matmul goes to its BLAS (MKL or OpenBLAS), which on some CPUs (AMD) runs
    well below oneDNN, the library behind the convolutions. So the CPU also reports the same
    GEMM run by oneDNN, as a 1x1 convolution: "fp32-onednn". The machine's rate is the larger.
    """
    import torch

    sync = cuda_sync(device)
    out = {}
    kinds = [("fp32", torch.float32, False)]
    if device.type == "cuda":
        n = max(n, 8192)
        kinds += [("tf32", torch.float32, True), ("bf16", torch.bfloat16, False)]
    for name, dtype, tf32 in kinds:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            t = best_time(lambda a=a, b=b: a @ b, repeats + 2, warmup=2, sync=sync)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
        out[name] = 2 * n**3 / t / 1e9
    if device.type == "cpu":  # (n, n) @ (n, n) as a 1x1 convolution over n pixels
        x = torch.randn(1, n, n, 1).contiguous(memory_format=torch.channels_last)
        w = torch.randn(n, n, 1, 1).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            t = best_time(lambda: torch.nn.functional.conv2d(x, w), repeats + 2, warmup=2)
        out["fp32-onednn"] = 2 * n**3 / t / 1e9
    return out


def conv_flops(model, z_dim: int, image_size: int, channels: int) -> float:
    """FLOPs (2 x multiply-adds) of one decode + encode of one image, counted with hooks on
    every convolution and linear layer."""
    import torch
    from torch import nn

    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.weight[0].numel()  # C_in/groups * kh * kw
            total[0] += 2 * output.numel() * k
        elif isinstance(module, nn.ConvTranspose2d):
            w = module.weight
            total[0] += 2 * inputs[0].numel() * w.shape[1] * w.shape[2] * w.shape[3]
        elif isinstance(module, nn.Linear):
            total[0] += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in (*model.encoder.modules(),
                                                        *model.decoder.modules())
               if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]
    try:
        with torch.no_grad():
            was = model.training
            model.eval()
            z = torch.zeros(2, z_dim, device=model.device)
            x = torch.sigmoid(model.decoder(z))
            model.encoder(x)
            model.train(was)
    finally:
        for h in handles:
            h.remove()
    return total[0] / 2
