"""Speed options of a training: precision (fp32, TF32, bf16 autocast), memory layout
(channels_last) and torch.compile, resolved for the device and applied to the model.

bf16 autocasts the networks to bfloat16 while master weights, optimiser state and losses
stay float32; it is refused (one line) where the hardware would only emulate bfloat16.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from ..errors import UsageError
from ._config import TrainSettings


@dataclass
class Speed:
    """The speed options resolved for one device. ``autocast(enabled)`` is the context the
    forward pass (True) and the backward pass and update (False) run in."""

    precision: str
    channels_last: bool
    autocast: Callable

    def apply(self, model, compile: bool):
        """The model in this layout, computing its losses in float32 under bf16, compiled if
        asked; returns (model, hook handles to remove when training ends)."""
        if self.channels_last:
            import torch

            model = model.to(memory_format=torch.channels_last)
        hooks = fp32_outputs(model) if self.precision == "bf16" else []
        if compile:
            compile_networks(model)
        return model, hooks


def speed_options(settings: TrainSettings, device) -> Speed:
    """Resolve precision and layout for the device; sets the process-wide TF32 flags on CUDA."""
    import torch

    from ..devices import bf16_unsupported

    cuda = device.type == "cuda"
    precision = settings.precision
    if precision == "auto":
        precision = "bf16" if cuda and bf16_unsupported(device) is None else "fp32"
    elif precision == "bf16":
        check_bf16(device)  # a resumed bf16 run on hardware without bfloat16
    if cuda:
        torch.backends.cudnn.benchmark = True
        tf32 = precision in ("tf32", "bf16")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    channels_last = cuda if settings.channels_last is None else settings.channels_last

    def autocast(enabled: bool):
        if precision != "bf16":
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)

    return Speed(precision, channels_last, autocast)


def check_bf16(device) -> None:
    """Refuse bf16 (one line) where the hardware would only emulate bfloat16."""
    from ..devices import bf16_unsupported

    why = bf16_unsupported(device)
    if why:
        raise UsageError(f"--precision bf16 refused: {why}; use --precision fp32")


def fp32_outputs(model) -> list:
    """Under bf16 autocast the networks compute in bfloat16; hooks on the model's networks
    (its child modules) hand their outputs back as float32, so every loss is computed in fp32
    whatever the plugin's loss code does. Returns the hook handles."""
    import torch

    def to_fp32(_module, _args, out):
        if torch.is_tensor(out) and out.dtype == torch.bfloat16:
            return out.float()
        return None

    return [net.register_forward_hook(to_fp32) for net in model.children()]


def compile_networks(model) -> None:
    """Compile the encoder and decoder in place (state-dict keys unchanged); if compiling
    fails at run time, dynamo falls back to eager execution."""
    import warnings

    try:
        import torch._dynamo

        torch._dynamo.config.suppress_errors = True
        for net in (model.encoder, model.decoder):
            net.compile()
    except Exception as exc:  # an old torch or a platform without a compiler
        warnings.warn(f"torch.compile unavailable, training eagerly ({exc})", stacklevel=4)


