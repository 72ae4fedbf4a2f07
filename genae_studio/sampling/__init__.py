"""Sampling: the paper's Markov chain, batch norm while sampling, interpolation, step options.

- ``markov_chain``/``record_chain``/``sampling_mode``: the chain (Eq. 1 and 2), one batch;
  ``genae_studio.api.Run.sample_batches`` runs it for a loaded run in batches with a seed;
- ``prepare``/``has_precise_stats``/``PreciseSettings``: the "precise" batch-norm statistics;
- ``interpolate``/``slerp``/``lerp``/``four_corner_grid``: paths between codes;
- ``BN_MODES``, ``parse_steps``, ``sorted_steps``, ``MAX_STEPS``: the options (no torch).

The options load at once; every other name loads torch on first use, so the command line's
``--help`` (which reads the options) imports no torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._options import BN_MODES, MAX_STEPS, parse_steps, sorted_steps

# name -> the internal module that defines it (loaded on first use)
_LAZY = {
    **dict.fromkeys(["CHAIN_PRECISIONS", "ChainRecord", "ChainStep", "markov_chain",
                     "record_chain", "sampling_mode"], "._chain"),
    **dict.fromkeys(["PreciseSettings", "batch_norms", "estimate", "has_precise_stats",
                     "install", "precise_stats", "prepare"], "._precise_bn"),
    **dict.fromkeys(["four_corner_grid", "interpolate", "lerp", "slerp"], "._interpolate"),
}

__all__ = ["BN_MODES", "CHAIN_PRECISIONS", "MAX_STEPS", "ChainRecord", "ChainStep",
           "PreciseSettings", "batch_norms", "estimate", "four_corner_grid", "has_precise_stats",
           "install", "precise_stats",
           "interpolate", "lerp", "markov_chain", "parse_steps", "prepare", "record_chain",
           "sampling_mode", "slerp", "sorted_steps"]

if TYPE_CHECKING:  # for type checkers, IDEs and import-linter; at run time these load lazily
    from ._chain import (
        CHAIN_PRECISIONS,
        ChainRecord,
        ChainStep,
        markov_chain,
        record_chain,
        sampling_mode,
    )
    from ._interpolate import four_corner_grid, interpolate, lerp, slerp
    from ._precise_bn import (
        PreciseSettings,
        batch_norms,
        estimate,
        has_precise_stats,
        install,
        precise_stats,
        prepare,
    )


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
