"""Datasets' generic machinery: uint8 (C, H, W) image datasets (``base``), turning ``--data``
into one (``resolve``), helpers for reading files (``disk``) and training's ``Prefetcher``.

The datasets themselves, built-in ones included, come from plugins (``register_datasets``);
the built-ins live in ``genae_builtins``. This layer uses numpy and Pillow (never Qt) and
never downloads anything. Importing it loads no torch: only ``Prefetcher``, which hands
training its batches as tensors, imports torch, when its thread starts.
"""
from .base import ArrayDataset, FileDataset, ImageDataset, cache_dir, preprocess, safe_name
from .prefetch import Prefetcher
from .resolve import binary_attribute, check_fits, default_dataset, resolve_dataset

__all__ = ["ArrayDataset", "FileDataset", "ImageDataset", "Prefetcher", "binary_attribute",
           "cache_dir", "check_fits", "default_dataset", "preprocess", "resolve_dataset",
           "safe_name"]
