"""The chain's options shared by the command line, the Python API and the studio.

Light on purpose (no torch): the command line's parser reads these while building ``--help``.
"""
from __future__ import annotations

from ..errors import UsageError

# Batch norm while sampling: minibatch statistics (the paper's choice), running statistics, or
# statistics re-estimated on training data (``_precise_bn``; see ``_chain``).
BN_MODES = ("batch", "eval", "precise")
MAX_STEPS = 10_000  # the longest chain a --steps list may ask for


def parse_steps(text: str) -> list[int]:
    """"0,1,5,10" -> [0, 1, 5, 10], in the order given; a UsageError naming --steps otherwise."""
    items = str(text).split(",")
    if not all(item.strip() for item in items):  # "0,,1" is a typo, not 0,1
        raise UsageError(f"--steps must be comma-separated integers like 0,1,5,10, with "
                         f"no empty item; got {text!r}")
    try:
        steps = [int(s) for s in items]
    except ValueError:
        raise UsageError(f"--steps must be comma-separated integers like 0,1,5,10, "
                         f"got {text!r}") from None
    if not steps or min(steps) < 0:
        raise UsageError(f"--steps must be non-negative integers like 0,1,5,10, got {text!r}")
    if max(steps) > MAX_STEPS:
        raise UsageError(f"--steps: {max(steps)} chain steps is more than {MAX_STEPS}")
    return steps


def sorted_steps(text: str) -> list[int]:
    """"0,5,1" -> [0, 1, 5] (sorted, unique); a UsageError otherwise."""
    return sorted(set(parse_steps(text)))
