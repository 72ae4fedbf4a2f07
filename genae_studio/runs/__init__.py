"""Run folders: config.json + one checkpoint (weights and training state), committed together.

Layout (format 2)::

    RUN/config.json                          the config and the manifest: the commit point
    RUN/checkpoints/NAME/model.safetensors   weights
    RUN/checkpoints/NAME/training_state.pt   optimisers, epoch, step, RNG states
    RUN/.lock                                held while a training writes the folder

A save writes a new checkpoint folder under a temporary name, fsyncs it, renames it into
place, then replaces config.json atomically; config.json names the checkpoint folder and
holds the size and SHA-256 of each of its files. Only then are older checkpoint folders
removed. A crash at any instant therefore leaves the old or the new checkpoint, complete;
a reader that finds files that disagree with the manifest gets a CheckpointError naming
the run. Checkpoint folders are never modified once committed, so readers need no lock.

Format 1 folders (config.json, model.safetensors and training_state.pt side by side)
still load. Loading never unpickles arbitrary objects: weights are safetensors and the
training state is read with ``torch.load(weights_only=True)`` after its zip directory
has been checked.

This package's front; each part has its own private module:

- ``_format``: the names, ``RunConfig``, ``Checkpoint``, ``check_finite``;
- ``_save``: ``save_run``, ``clean_run_folder``, ``run_lock`` (writing);
- ``_load``: ``read_config``, ``read_checkpoint``, ``load_weights``,
  ``fit_weights``, ``load_training_state``, ``checkpoint_file`` (reading and validation).
"""
from __future__ import annotations

from ._format import (
    CHECKPOINTS,
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    LOCK,
    STATE,
    WEIGHTS,
    Checkpoint,
    RunConfig,
    check_finite,
    digest,
    run_versions,
)
from ._load import (
    checkpoint_file,
    fit_weights,
    load_training_state,
    load_weights,
    read_checkpoint,
    read_config,
)
from ._save import (
    clean_run_folder,
    is_run_folder,
    lock_holder,
    new_parts,
    remove_uncommitted,
    run_lock,
    save_run,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "CONFIG", "WEIGHTS", "STATE", "CHECKPOINTS", "LOCK",
           "RunConfig", "Checkpoint", "run_versions", "save_run",
           "read_config", "read_checkpoint", "load_weights", "load_training_state",
           "clean_run_folder", "run_lock", "is_run_folder", "check_finite", "checkpoint_file",
           "fit_weights", "lock_holder", "new_parts", "remove_uncommitted", "digest"]
