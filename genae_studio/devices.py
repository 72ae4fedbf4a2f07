"""Device choice: auto = cuda, then mps, then cpu; GENAE_STUDIO_DEVICE overrides auto."""
from __future__ import annotations

import os

from .errors import UsageError


def resolve_device(name: str | None = "auto"):
    import torch

    name = (name or "auto").strip()
    if name == "auto":
        name = os.environ.get("GENAE_STUDIO_DEVICE", "auto")
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
