"""Checks on a run before its model is built: does the model that config.json describes fit
the weights, and does it fit in memory?

config.json's hyperparameters decide how large a model is built; a config edited (or
forged) to say ``width: 4096`` would build a model of tens of GiB before the weights are
even compared with it. Here the model is built on PyTorch's ``meta`` device (shapes only,
no memory), its tensors are compared with the shapes in the safetensors header (read
alone, a few kB), and the memory it needs is estimated from both, so a run that does not
fit is refused in one line before anything large is allocated.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from .errors import CheckpointError, GenaeError

MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on the header
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) of every tensor in a safetensors file, from its header alone;
    a CheckpointError for a file that is not safetensors."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("shorter than a header")
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"declares a {size}-byte header")
            header = json.loads(f.read(size))
        tensors = {name: (str(info["dtype"]), tuple(int(d) for d in info["shape"]))
                   for name, info in header.items() if name != "__metadata__"}
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({exc})") from None
    return tensors


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _gib(n: int) -> str:
    """Bytes as GiB, or MiB below one GiB."""
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def expected_tensors(spec, hparams: dict) -> dict[str, tuple[tuple[int, ...], int]] | None:
    """name -> (shape, bytes) of the model's state, built on the meta device; None when the
    plugin's factory cannot build on it."""
    import torch

    try:
        with torch.device("meta"):
            net = spec.build(hparams)
        return {k: (tuple(v.shape), v.numel() * v.element_size())
                for k, v in net.state_dict().items()}
    except GenaeError:
        raise
    except Exception:  # a factory that needs real tensors: the shape check is skipped
        return None


def check_model_fits(spec, hparams: dict, weights: Path, where: Path) -> None:
    """Refuse (CheckpointError) a model that the weights in ``weights`` do not fit, or that
    needs more memory than is available, before it is built."""
    header = read_header(weights)
    expected = expected_tensors(spec, hparams)
    if expected is not None:
        for name, (shape, _) in expected.items():
            got = header.get(name)
            if got is not None and got[1] != shape:
                raise CheckpointError(
                    f"{where}: the weights do not fit the model config.json describes "
                    f"({name} is {list(got[1])} in {weights.name}; hparams "
                    f"{_hparams(hparams)} need {list(shape)}); refused before building it")
        missing = sorted(set(expected) - set(header))
        if missing:
            raise CheckpointError(f"{where}: {weights.name} lacks {len(missing)} tensors of "
                                  f"the model (first: {missing[0]}); refused")
    stored = sum(_numel(shape) * DTYPE_BYTES.get(dtype, 4) for dtype, shape in header.values())
    model = sum(b for _, b in expected.values()) if expected is not None else stored
    need = model + 2 * stored  # the model, the file's bytes and the tensors read from them
    free = available_memory()
    if free is not None and need > free:
        raise CheckpointError(f"{where}: the model needs about {_gib(need)} of memory to "
                              f"load, more than the {_gib(free)} available (hparams "
                              f"{_hparams(hparams)}); refused before building it")


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _hparams(hparams: dict) -> str:
    keys = ("latent_dim", "width", "image_size", "channels")
    return ", ".join(f"{k} {hparams[k]}" for k in keys if k in hparams)


def check_run(path: Path, host) -> None:
    """``check_model_fits`` for the run folder ``path`` (its committed checkpoint). Errors
    that the full reader reports better (no such run, a model not loaded) are left to it."""
    from .errors import PluginError
    from .runs import checkpoint_file, read_config

    config = read_config(path)
    try:
        spec = host.model(config.model)
    except PluginError:
        return
    weights = checkpoint_file(path)
    try:
        read_header(weights)
    except CheckpointError:  # missing or corrupt: the full reader says which, and how
        return
    check_model_fits(spec, config.hparams, weights, Path(path))
