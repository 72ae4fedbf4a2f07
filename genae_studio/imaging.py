"""Image arrays to grids and PNG files (Pillow)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8(x) -> np.ndarray:
    """Images in [0, 1] (numpy or torch) to uint8, same shape."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def grid(images, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """(rows, cols, C, H, W) images -> one (H', W', C) uint8 mosaic with ``pad`` pixels between."""
    images = to_uint8(images)
    rows, cols, c, h, w = images.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, np.uint8)
    for r in range(rows):
        for k in range(cols):
            y, x = pad + r * (h + pad), pad + k * (w + pad)
            out[y:y + h, x:x + w] = images[r, k].transpose(1, 2, 0)
    return out


# Pillow's writers for the extensions the commands accept.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".gif": "GIF"}


def save_png(mosaic: np.ndarray, path: Path) -> Path:
    """Write a (H, W, C) uint8 mosaic atomically, in the format its extension names
    (PNG for an unknown one)."""
    from PIL import Image

    from .fileio import atomic_file

    path = Path(path)
    image = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
    with atomic_file(path) as f:
        image.save(f, format=IMAGE_FORMATS.get(path.suffix.lower(), "PNG"))
    return path


def to_float(x):
    """uint8 images (0..255) to float32 in [0, 1]; float images to float32, unscaled.

    The inverse of ``to_uint8``: numpy stays numpy, a torch tensor stays a tensor on its
    device (convert after moving uint8 to a GPU: a quarter of the bytes travel).
    """
    if hasattr(x, "detach"):  # a tensor: torch is loaded already
        import torch

        return x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.divide(x, 255, dtype=np.float32)
    return x.astype(np.float32, copy=False)


def to_float_tensor(images, device=None):
    """uint8 or float images (numpy or torch) as a float32 tensor in [0, 1] on ``device``."""
    import torch

    x = images if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    return to_float(x.to(device) if device is not None else x)
