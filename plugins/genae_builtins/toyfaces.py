"""Built-in dataset toyfaces: procedural 64x64 RGB cartoon faces with known attributes.

Each face i is drawn from ``np.random.default_rng([seed, i])`` alone, so any
prefix of a set equals a smaller set with the same seed. Faces are drawn at
128x128 with Pillow's ImageDraw and downsampled with antialiasing.

Attributes (arrays aligned with the images):
    yaw         float in [-1, 1]: head turn (-1 = facing the viewer's left)
    sunglasses  0/1
    smile       float in [0, 1]: 0 slightly sad, 0.5 neutral, 1 broad smile
    skin        index into SKIN_TONES
    hair        index into HAIR_COLOURS
    background  index into BACKGROUNDS

Full sets are cached as .npz in ``cache_dir()``; partial sets (``limit``) are
generated on the fly and not cached.
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from genae_studio import ArrayDataset, DataError, resize_images
from genae_studio.data import cache_dir
from genae_studio.data.base import apply_limit, split_sizes

VERSION = 1  # bump when the drawing changes, so old caches are not reused
SIZE = 64
SCALE = 2  # drawn at SCALE * SIZE, then downsampled
ATTRIBUTE_KEYS = ("yaw", "sunglasses", "smile", "skin", "hair", "background")

SKIN_TONES = [(255, 224, 196), (241, 194, 150), (214, 160, 118), (165, 114, 76), (105, 70, 48)]
HAIR_COLOURS = [(30, 25, 25), (95, 60, 35), (200, 160, 80), (170, 70, 35), (150, 150, 155),
                (60, 90, 190)]
BACKGROUNDS = [(120, 170, 220), (140, 200, 140), (235, 225, 150), (215, 150, 160),
               (175, 160, 215), (205, 205, 205)]
#: Names of the attributes' values, for people (the studio's gallery filters).
VALUE_NAMES = {
    "sunglasses": ["no sunglasses", "sunglasses"],
    "skin": ["very light", "light", "medium", "brown", "dark"],
    "hair": ["black", "brown", "blond", "red", "grey", "blue"],
    "background": ["blue", "green", "yellow", "pink", "lilac", "grey"],
}
SHIRTS = [(200, 60, 60), (60, 100, 170), (70, 140, 90), (240, 240, 240), (60, 60, 70),
          (220, 170, 50)]


def _sample(seed: int, i: int) -> dict:
    """Attributes and nuisance parameters of face i (depends only on seed and i)."""
    rng = np.random.default_rng([seed, i])
    return dict(
        yaw=float(rng.uniform(-1, 1)),
        sunglasses=int(rng.random() < 0.3),
        smile=float(rng.uniform(0, 1)),
        skin=int(rng.integers(len(SKIN_TONES))),
        hair=int(rng.integers(len(HAIR_COLOURS))),
        background=int(rng.integers(len(BACKGROUNDS))),
        # nuisance: not reported, gives some natural variety
        long_hair=bool(rng.random() < 0.4),
        parting=float(rng.uniform(-1, 1)),
        scale=float(rng.uniform(0.92, 1.06)),
        dx=float(rng.uniform(-3, 3)),
        dy=float(rng.uniform(-3, 3)),
        shirt=int(rng.integers(len(SHIRTS))),
        eye_colour=int(rng.integers(3)),
    )


def _shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * factor))) for c in colour)


def _hair_outline(hx, hy, hw, hh, yaw, parting, face_x, ry):
    """Polygon of the hair cap (image coordinates, y down)."""
    back = max(0.0, yaw), max(0.0, -yaw)  # how far the left / right side is turned away
    a_left = math.radians(195 - 45 * back[0])  # where the hair meets the head outline
    a_right = math.radians(345 + 45 * back[1])
    arc = [(hx + hw * math.cos(a), hy + hh * math.sin(a))
           for a in np.linspace(a_left, a_right, 24)]
    # Fringe from the right temple to the left one, tilted by the parting.
    fringe = []
    for theta in np.linspace(1.25, -1.25, 11):
        y = hy - ry * (0.42 + 0.12 * math.cos(theta) ** 2) + parting * theta * 0.06 * ry
        fringe.append((face_x(theta), y))
    return arc + fringe


def draw_face(p: dict) -> np.ndarray:
    """Draw one face from its parameters; returns uint8 (3, 64, 64)."""
    from PIL import Image, ImageDraw

    s = SIZE * SCALE
    u = s / 128  # drawing units are for a 128 canvas
    img = Image.new("RGB", (s, s), BACKGROUNDS[p["background"]])
    d = ImageDraw.Draw(img)
    skin = SKIN_TONES[p["skin"]]
    hair = HAIR_COLOURS[p["hair"]]
    k = p["scale"]
    cx, cy = 64 * u + p["dx"] * u, 60 * u + p["dy"] * u  # head centre
    rx, ry = 29 * k * u, 36 * k * u  # head half-width and half-height
    phi = p["yaw"] * 0.6  # yaw angle in radians (about 34 degrees at most)

    def face_x(theta: float, depth: float = 1.0) -> float:
        """x of a point at angle theta around the (roughly spherical) head, after the turn."""
        return cx + rx * depth * math.sin(theta + phi)

    def ellipse(x, y, hw, hh, **kw):
        d.ellipse((x - hw, y - hh, x + hw, y + hh), **kw)

    # Long hair hangs behind the head and the shoulders.
    if p["long_hair"]:
        lx = cx + 2 * p["yaw"] * u
        ellipse(lx, cy - 2 * u, rx + 8 * u, ry + 6 * u, fill=hair)
        d.rectangle((lx - rx - 8 * u, cy, lx + rx + 8 * u, cy + ry + 16 * u), fill=hair)
    # Shoulders and neck.
    ellipse(cx, 138 * u, 50 * u, 30 * u, fill=SHIRTS[p["shirt"]])
    d.rectangle((cx - 11 * k * u, cy + 20 * u, cx + 11 * k * u, 112 * u), fill=_shade(skin, 0.85))
    # Ears at the head's sides: the one on the far side slides behind the head.
    for side in (-1, 1):
        ex = face_x(side * 1.45)
        ellipse(ex, cy + 4 * u, 6 * u, 9 * u, fill=_shade(skin, 0.9))
    # Head: narrows a little and shifts towards the turn.
    hx = cx + 3 * p["yaw"] * u
    hw = rx * (1 - 0.08 * abs(p["yaw"]))
    ellipse(hx, cy, hw, ry, fill=skin)
    # Hair: the top of a slightly larger ellipse, closed by a fringe across the
    # forehead; on the side away from the turn it reaches down to the ear.
    d.polygon(_hair_outline(hx, cy, hw + 3 * u, ry + 4 * u, p["yaw"], p["parting"], face_x,
                            ry), fill=hair)
    # Eyes and eyebrows.
    eye_y = cy + 2 * u
    eye_colours = [(60, 40, 20), (40, 90, 160), (50, 110, 60)]
    eyes = []
    for side in (-1, 1):
        theta = side * 0.42
        ex = face_x(theta)
        width = 7 * u * max(0.35, math.cos(theta + phi))  # foreshortened on the far side
        eyes.append((ex, width))
        brow = _shade(hair, 0.7)
        d.line((ex - width, eye_y - 10 * u, ex + width, eye_y - 11 * u), fill=brow,
               width=int(3 * u))
        if not p["sunglasses"]:
            ellipse(ex, eye_y, width, 4.5 * u, fill=(250, 250, 250))
            pupil_x = ex + 2.5 * u * math.sin(phi)
            ellipse(pupil_x, eye_y, min(width, 3.5 * u), 3.5 * u,
                    fill=eye_colours[p["eye_colour"]])
            ellipse(pupil_x, eye_y, 1.5 * u, 1.5 * u, fill=(10, 10, 10))
    if p["sunglasses"]:
        dark = (20, 20, 28)
        for ex, width in eyes:
            d.rounded_rectangle((ex - width - 3 * u, eye_y - 6 * u, ex + width + 3 * u,
                                 eye_y + 6 * u), radius=int(4 * u), fill=dark)
        (lx, lw), (rx_, rw) = eyes
        d.line((lx + lw + 2 * u, eye_y - 3 * u, rx_ - rw - 2 * u, eye_y - 3 * u), fill=dark,
               width=int(3 * u))
        for side, (ex, width) in zip((-1, 1), eyes, strict=True):  # temples towards the ears
            end = face_x(side * 1.35)
            start = ex + side * (width + 2 * u)
            if (end - start) * side > 0:
                d.line((start, eye_y - 3 * u, end, eye_y - 4 * u), fill=dark, width=int(2 * u))
    # Nose: sticks out, so it moves further than the eyes when the head turns.
    nx = face_x(0, depth=1.15)
    ny = cy + 16 * u
    tip = nx + 5 * u * math.sin(phi)
    d.polygon([(nx - 1 * u, ny - 12 * u), (tip + 3 * u * math.copysign(1, phi + 1e-9), ny),
               (nx - 3 * u, ny + 1 * u)], fill=_shade(skin, 0.8))
    # Mouth: a parabola whose bend follows the smile; a broad smile opens.
    mx, my = face_x(0), cy + 25 * u
    half = 10 * u * max(0.5, math.cos(phi))
    bend = (p["smile"] - 0.4) * 12 * u  # > 0: corners up
    pts = [(mx + half * t, my - bend * t * t + bend * 0.3) for t in np.linspace(-1, 1, 13)]
    lip = (150, 40, 50)
    if p["smile"] > 0.75:
        lower = [(x, y + (1 - ((x - mx) / half) ** 2) * 7 * u) for x, y in pts]
        d.polygon(pts + lower[::-1], fill=(110, 20, 30))
        d.polygon(pts + [(x, y + 3.5 * u) for x, y in pts[::-1]], fill=(250, 250, 250))
    d.line(pts, fill=lip, width=int(3 * u), joint="curve")
    img = img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def generate(indices, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw faces ``indices`` of the set with this seed: (images (N,3,64,64), attributes)."""
    indices = list(indices)
    images = np.empty((len(indices), 3, SIZE, SIZE), dtype=np.uint8)
    attrs: dict[str, list] = {k: [] for k in ATTRIBUTE_KEYS}
    for k, i in enumerate(indices):
        p = _sample(seed, int(i))
        images[k] = draw_face(p)
        for key in ATTRIBUTE_KEYS:
            attrs[key].append(p[key])
    return images, _attr_arrays(attrs)


def _attr_arrays(attrs: dict[str, list]) -> dict[str, np.ndarray]:
    out = {}
    for key in ATTRIBUTE_KEYS:
        dtype = np.float32 if key in ("yaw", "smile") else np.int64
        out[key] = np.asarray(attrs[key], dtype=dtype)
    return out


def cache_path(n: int, seed: int) -> Path:
    return cache_dir() / f"toyfaces-v{VERSION}-n{n}-seed{seed}.npz"


def _read_cache(path: Path, n: int):
    """The cached set, or None when the file is missing or unusable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            images = f["images"]
            attrs = {k: f[k] for k in ATTRIBUTE_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if images.shape != (n, 3, SIZE, SIZE) or images.dtype != np.uint8 \
            or any(len(v) != n for v in attrs.values()):
        return None
    return images, attrs


def _write_cache(path: Path, images: np.ndarray, attrs: dict) -> None:
    """Written atomically: a crash never leaves half a file."""
    from genae_studio.fileio import atomic_file

    with atomic_file(path) as f:
        np.savez_compressed(f, images=images, **attrs)


def load_full(n: int = 20000, seed: int = 0):
    """All n faces, from the cache or generated (and then cached)."""
    path = cache_path(n, seed)
    cached = _read_cache(path, n)
    if cached is not None:
        return cached
    images, attrs = generate(range(n), seed)  # about 7 s for 20k on one core
    try:
        _write_cache(path, images, attrs)
    except OSError:  # fileio.OutputError is one
        pass  # a read-only cache only costs time
    return images, attrs


def load_toyfaces(source=None, *, split: str = "train", image_size: int | None = None,
                  limit: int | None = None, seed: int = 0, n: int = 20000) -> ArrayDataset:
    """The toyfaces set of ``n`` faces: "train" is the first 90%, "test" the last 10%.

    ``limit`` keeps the first ``limit`` faces of the split; then only those are
    drawn (unless the full set is already cached). ``source`` is ignored.
    """
    n_train, n_test = split_sizes(int(n))
    if split == "train":
        start, count = 0, n_train
    elif split == "test":
        start, count = n_train, n_test
    else:
        raise DataError(f"toyfaces: unknown split {split!r} (use train or test)")
    count = apply_limit(count, limit)
    if count == 0:
        raise DataError(f"toyfaces: the {split} split of {n} faces is empty")
    full = _read_cache(cache_path(n, seed), n) if limit is not None else load_full(n, seed)
    if full is not None:
        images, attrs = full
        images = images[start:start + count]
        attrs = {k: v[start:start + count] for k, v in attrs.items()}
    else:
        images, attrs = generate(range(start, start + count), seed)
    if image_size is not None and image_size != SIZE:
        images = resize_images(images, int(image_size))
    dataset = ArrayDataset(np.ascontiguousarray(images), name="toyfaces", attributes=attrs,
                           source="toyfaces")
    dataset.value_names = VALUE_NAMES
    return dataset
