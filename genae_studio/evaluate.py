"""The eval measures' former home, kept so that ``from genae_studio.evaluate import ...``
(``build_reference``, ``chain_metrics``, ``step_metrics``...) keeps working.

The measures are :mod:`genae_studio.evaluation`; the ``eval`` command's options and runner are
:mod:`genae_studio.commands.eval`.
"""
from .commands.common import sorted_steps as parse_steps
from .commands.eval import parse_spaces
from .evaluation import (
    AMBIGUOUS,
    COLUMNS,
    JSON_VERSION,
    Reference,
    build_reference,
    chain_metrics,
    decisiveness,
    decode,
    encode_heldout,
    encoding_seed,
    environment,
    evaluate_run,
    format_table,
    pick_pairs,
    reference_rows,
    run_chains,
    save_figures,
    step_metrics,
)

__all__ = ["AMBIGUOUS", "COLUMNS", "JSON_VERSION", "Reference", "build_reference",
           "chain_metrics", "decisiveness", "decode", "encode_heldout", "encoding_seed",
           "environment", "evaluate_run", "format_table", "parse_spaces", "parse_steps",
           "pick_pairs", "reference_rows", "run_chains", "save_figures", "step_metrics"]
