"""What the studio asks of the machine and the libraries: CUDA, versions, compute threads."""
from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def library_versions() -> list[tuple[str, str]]:
    """(name, version) of Python and the libraries the studio computes with."""
    from .. import __version__

    rows = [("genae-studio", __version__), ("Python", platform.python_version())]
    for name, dist in (("PyTorch", "torch"), ("NumPy", "numpy"),
                       ("scikit-learn", "scikit-learn")):
        try:
            rows.append((name, version(dist)))
        except PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


def leave_a_core_free() -> None:
    """torch's intra-op threads use all but one core, so an interactive thread (the studio's
    GUI) keeps one; an explicit OMP_NUM_THREADS (or torch.set_num_threads) below the core count
    is kept. A thread running Python code hands the GIL back after 1 ms, not 5."""
    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)
    sys.setswitchinterval(0.001)
