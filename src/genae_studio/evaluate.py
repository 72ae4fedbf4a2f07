"""``genae-studio eval``: sample quality and latent distances at each chain step (placeholder)."""
from __future__ import annotations

from .errors import UsageError


def add_eval_arguments(parser) -> None:
    """Add the eval options; must not import heavy libraries."""


def run_eval_command(args, host) -> int:
    raise UsageError("eval is not implemented yet")
