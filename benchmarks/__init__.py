"""genae-studio benchmarks: ``python -m benchmarks`` prints one table of everything, measured
in one run on this machine (``--quick`` for a tiny configuration; see benchmarks/RESULTS.md)."""
