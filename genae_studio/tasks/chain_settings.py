"""The chain's settings as one Qt-free object that every view observes (napari's pattern: the
model holds the state and emits events, the Qt layer subscribes and never reads another
view's widgets).

``settings.events.bn_mode.connect(callback)`` calls ``callback(new_value)`` whenever the mode
changes, wherever it was changed (the chain view's box, a restored setting, a test). psygnal's
``evented`` dataclass provides the events: no hand-written observer list.
"""
from __future__ import annotations

from dataclasses import dataclass

from psygnal import evented

from ..sampling import BN_MODES


@evented
@dataclass
class ChainSettings:
    """What the next chain is run with: the open run's model, the batch-norm mode, the sampler
    of z0 (a registered sampler's name; ``temperature`` is the prior's), the seed of z0, the
    number of chains and the corruption std of denoising models."""

    model: str = ""  # the open run's model name ("" while none is open)
    bn_mode: str = "batch"  # one of genae_studio.options.BN_MODES
    seed: int = 0
    n: int = 64
    noise_std: float = 0.5
    sampler: str = "prior"  # the name of a registered sampler (genae_studio plugins lists them)
    temperature: float = 1.0  # the prior's: z0 ~ N(0, temperature^2 I)

    def __post_init__(self) -> None:
        if self.bn_mode not in BN_MODES:
            raise ValueError(f"batch-norm mode {self.bn_mode!r}: choose one of {BN_MODES}")
        if not self.temperature > 0:
            raise ValueError(f"temperature {self.temperature}: it must be positive")
