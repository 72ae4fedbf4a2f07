"""Example plugin: a procedural dataset of stripes, with labels and an attribute.

Load it with ``genae-studio --plugin examples/stripes/genae_stripes.py train --data
stripes``; check it with ``... plugins --check stripes``.
"""
from genae_studio import DatasetSpec, hookimpl

ANGLES = ("horizontal", "vertical", "diagonal")
SIZE = 2000  # images in all; the last 10% are the test split


def draw(index: int, image_size: int):
    """One uint8 (1, S, S) image: stripes at one of three angles, with a random period."""
    import numpy as np

    rng = np.random.default_rng(index)
    label = index % len(ANGLES)
    period = rng.uniform(4, 12) * image_size / 32
    y, x = np.mgrid[0:image_size, 0:image_size]
    coordinate = (y, x, x + y)[label]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * coordinate / period + rng.uniform(0, 2 * np.pi))
    return (wave * 255).astype(np.uint8)[None], label, period


def load_stripes(source, *, split, image_size, limit, seed):
    """``source`` is None (a built-in dataset); the loader draws at ``image_size`` itself."""
    import numpy as np

    from genae_studio import ArrayDataset, DataError

    if split not in ("train", "test"):
        raise DataError(f"stripes: unknown split {split!r} (use train or test)")
    image_size = image_size or 32
    n_test = SIZE // 10
    indices = range(SIZE - n_test) if split == "train" else range(SIZE - n_test, SIZE)
    if limit is not None:
        indices = indices[:limit]
    drawn = [draw(i, image_size) for i in indices]
    return ArrayDataset(
        np.stack([image for image, _, _ in drawn]),
        name="stripes", source="stripes",
        labels=np.array([label for _, label, _ in drawn]), label_names=list(ANGLES),
        attributes={"period": np.array([period for _, _, period in drawn], np.float32)})


@hookimpl
def register_datasets(register):
    register(DatasetSpec("stripes", "procedural stripes at three angles (example plugin)",
                         load_stripes, channels=1, image_size=32))
