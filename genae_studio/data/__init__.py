"""Datasets: uint8 (C, H, W) images from built-in generators or on-disk formats.

This layer uses numpy, Pillow, scipy and scikit-learn only (never torch or Qt)
and never downloads anything.
"""
from .base import ArrayDataset, FileDataset, ImageDataset, cache_dir, preprocess
from .resolve import resolve_dataset

__all__ = ["ArrayDataset", "FileDataset", "ImageDataset", "cache_dir", "preprocess",
           "resolve_dataset"]
