"""Device choice: auto = cuda, then mps, then cpu; GENAE_STUDIO_DEVICE overrides auto."""
from __future__ import annotations

from .env import default_device
from .errors import UsageError


def resolve_device(name: str | None = "auto"):
    import torch

    name = (name or "auto").strip()
    if name == "auto":
        name = default_device()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"device {name!r} is not supported (use auto, cpu, cuda, cuda:N or "
                         "mps)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r} asked for, but CUDA is not available here")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise UsageError(f"device {name!r} asked for, but only {torch.cuda.device_count()} "
                         "CUDA devices are visible")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("device 'mps' asked for, but MPS is not available here")
    return device


def bf16_unsupported(device) -> str | None:
    """Why ``device`` cannot run bfloat16 at native speed, or None when it can.

    CPUs need AVX512-BF16 or AMX (x86) or the BF16 extension (Arm); without them oneDNN
    emulates bfloat16, which is slower than fp32. GPUs: ``torch.cuda.is_bf16_supported()``.
    """
    import torch

    if device.type == "cuda":
        try:
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch < 2.3 has no emulation to exclude
            native = torch.cuda.is_bf16_supported()
        if native:
            return None
        return f"the GPU {torch.cuda.get_device_name(device)} has no native bfloat16 support"
    if device.type == "cpu":
        return None if cpu_has_bf16() else ("this CPU has no native bfloat16 "
                                            "(neither AVX512-BF16 nor AMX)")
    return f"bfloat16 training is not supported on {device.type}"


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively: AVX512-BF16 or AMX, or Arm's BF16."""
    import torch

    cpu = getattr(torch, "cpu", None)
    for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, check, None)
        if fn is not None and fn():
            return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = {w for line in f if line.lower().startswith(("flags", "features"))
                     for w in line.split(":", 1)[1].split()}
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
