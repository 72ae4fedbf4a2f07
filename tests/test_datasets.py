"""The datasets layer: built-in sets, on-disk formats (from fixture files), errors, detection."""
from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from genae_builtins import toyfaces
from genae_builtins.celeba import detect_celeba, load_celeba
from genae_builtins.digits import load_digits
from genae_builtins.image_folder import detect_folder, load_folder
from genae_builtins.mnist import detect_mnist, load_mnist
from genae_builtins.svhn import detect_svhn, load_svhn
from genae_builtins.toyfaces import load_toyfaces
from PIL import Image

import genae_studio
from genae_studio.data import (
    ArrayDataset,
    FileDataset,
    cache_dir,
    preprocess,
    resolve_dataset,
)
from genae_studio.errors import DataError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(cache))
    return cache


@pytest.fixture
def specs():
    from genae_builtins.datasets import register_datasets

    found = {}
    register_datasets(register=lambda spec: found.__setitem__(spec.name, spec))
    return found


def save_png(path: Path, colour, size=(20, 24)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


# ---------------------------------------------------------------- basics

def test_cache_dir_follows_environment(private_cache):
    assert cache_dir() == private_cache
    assert private_cache.is_dir()


def test_preprocess_centre_crops_then_resizes():
    # 60x20: red | green | blue bands of 20 px; the centre square is the green band.
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20, 0] = wide[:, 20:40, 1] = wide[:, 40:, 2] = 255
    out = preprocess(Image.fromarray(wide), 8, 3)
    assert out.shape == (3, 8, 8) and out.dtype == np.uint8
    assert (out[1] == 255).all() and (out[0] == 0).all() and (out[2] == 0).all()
    # Tall image: the middle band wins again; 1 channel converts to grey.
    tall = np.zeros((90, 30), np.uint8)
    tall[30:60] = 200
    grey = preprocess(Image.fromarray(tall), 16, 1)
    assert grey.shape == (1, 16, 16) and (grey == 200).all()


def test_array_dataset_batch_and_subset_keep_metadata_aligned():
    images = np.arange(5, dtype=np.uint8)[:, None, None, None] * np.ones((1, 1, 4, 4), np.uint8)
    ds = ArrayDataset(images, labels=[0, 1, 2, 3, 4], attributes={"a": np.arange(5) * 10})
    assert ds.batch([4, 0]).shape == (2, 1, 4, 4)
    sub = ds.subset([3, 1])
    assert len(sub) == 2 and sub[0][0, 0, 0] == 3
    assert list(sub.labels) == [3, 1] and list(sub.attributes["a"]) == [30, 10]


# ---------------------------------------------------------------- toyfaces

def test_toyfaces_shape_dtype_and_determinism():
    a = load_toyfaces(limit=8, seed=1)
    b = load_toyfaces(limit=8, seed=1)
    c = load_toyfaces(limit=8, seed=2)
    assert a.batch(range(8)).shape == (8, 3, 64, 64) and a[0].dtype == np.uint8
    assert (a.channels, a.image_size, a.name) == (3, 64, "toyfaces")
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.std() > 20  # real pictures, not a flat colour


def test_toyfaces_subset_is_prefix_of_larger_set():
    small = load_toyfaces(limit=4, seed=5)
    large = load_toyfaces(limit=12, seed=5)
    assert np.array_equal(small.images, large.images[:4])
    for key in toyfaces.ATTRIBUTE_KEYS:
        assert np.array_equal(small.attributes[key], large.attributes[key][:4])
    # The test split starts where train ends: image n_train of the same seed.
    test = load_toyfaces(split="test", limit=2, seed=5, n=100)
    images, _ = toyfaces.generate([90, 91], seed=5)
    assert np.array_equal(test.images, images)


def test_toyfaces_attributes_present_and_varying():
    ds = load_toyfaces(limit=120, seed=0)
    attrs = ds.attributes
    assert set(attrs) == set(toyfaces.ATTRIBUTE_KEYS)
    assert all(len(v) == 120 for v in attrs.values())
    assert attrs["yaw"].min() >= -1 and attrs["yaw"].max() <= 1 and attrs["yaw"].std() > 0.3
    assert set(np.unique(attrs["sunglasses"])) == {0, 1}
    assert 0 <= attrs["smile"].min() and attrs["smile"].max() <= 1
    for key, count in (("skin", 5), ("hair", 6), ("background", 6)):
        assert set(np.unique(attrs[key])) == set(range(count)), key
    # Sunglasses really darken the eye band.
    eyes = ds.images[:, :, 26:36, 18:46].astype(float).mean(axis=(1, 2, 3))
    glasses = attrs["sunglasses"] == 1
    assert eyes[glasses].mean() < eyes[~glasses].mean() - 30
    # The background colour index matches the corner pixel.
    corner = ds.images[:, :, 1, 1]
    expected = np.array(toyfaces.BACKGROUNDS)[attrs["background"]]
    assert np.abs(corner.astype(int) - expected).max() <= 2


def test_toyfaces_image_size_and_bad_split():
    assert load_toyfaces(limit=2, image_size=32).batch([0, 1]).shape == (2, 3, 32, 32)
    with pytest.raises(DataError, match="split"):
        load_toyfaces(split="valid", limit=2)


def test_toyfaces_cache_written_reused_and_regenerated(private_cache, monkeypatch):
    # A limited load of an uncached set draws only what it needs and caches nothing.
    partial = load_toyfaces(limit=10, n=50, seed=3)
    assert not list(private_cache.glob("*.npz"))
    full = load_toyfaces(n=50, seed=3)  # full split: generated and cached
    path = toyfaces.cache_path(50, 3)
    assert path.is_file() and len(full) == 45
    assert np.array_equal(full.images[:10], partial.images)
    assert len(load_toyfaces(split="test", n=50, seed=3)) == 5

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of reading the cache")

    real_generate = toyfaces.generate
    monkeypatch.setattr(toyfaces, "generate", fail)
    again = load_toyfaces(n=50, seed=3)
    assert np.array_equal(again.images, full.images)
    assert np.array_equal(load_toyfaces(limit=10, n=50, seed=3).images, partial.images)

    # A corrupt cache file is regenerated (and rewritten).
    path.write_bytes(b"PK\x03\x04 not really a zip file")
    monkeypatch.setattr(toyfaces, "generate", real_generate)
    regenerated = load_toyfaces(n=50, seed=3)
    assert np.array_equal(regenerated.images, full.images)
    assert toyfaces._read_cache(path, 50) is not None
    assert not list(private_cache.glob("*.tmp"))


# ---------------------------------------------------------------- digits

def test_digits_shapes_labels_and_disjoint_stratified_split():
    train, test = load_digits(split="train"), load_digits(split="test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.batch([0, 1]).shape == (2, 1, 32, 32) and train.channels == 1
    assert set(np.unique(train.labels)) == set(range(10))
    assert np.bincount(test.labels).min() >= 35  # stratified: about 36 per class
    # Train and test together are exactly the whole set (each image once).
    whole = load_digits(split="train", image_size=8).images.tolist() + \
        load_digits(split="test", image_size=8).images.tolist()
    from sklearn.datasets import load_digits as sk_digits

    raw = np.rint(sk_digits().images * 255 / 16).astype(np.uint8)[:, None].tolist()
    assert sorted(map(str, whole)) == sorted(map(str, raw))
    assert np.array_equal(load_digits(split="test").images, test.images)
    assert len(load_digits(limit=7)) == 7
    assert load_digits(limit=2, image_size=16)[0].shape == (1, 16, 16)


# ---------------------------------------------------------------- CelebA

def make_celeba(root: Path, n=10, partition=True):
    img_dir = root / "img_align_celeba"
    for i in range(1, n + 1):
        img_dir.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (178, 218), (i * 20, 100, 50)).save(img_dir / f"{i:06d}.jpg")
    if partition:  # 6 train, 2 valid, 2 test
        parts = [0] * 6 + [1] * 2 + [2] * 2
        (root / "list_eval_partition.txt").write_text(
            "".join(f"{i:06d}.jpg {p}\n" for i, p in enumerate(parts, 1)))
    lines = [str(n), "Eyeglasses Smiling"]
    lines += [f"{i:06d}.jpg  {1 if i % 2 else -1} {-1 if i % 3 else 1}" for i in range(1, n + 1)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def test_celeba_with_partition_file(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    assert detect_celeba(root) and detect_celeba(root / "img_align_celeba")
    train = load_celeba(root, split="train")
    assert isinstance(train, FileDataset)
    assert (len(train), len(load_celeba(root, split="valid")),
            len(load_celeba(root, split="test"))) == (6, 2, 2)
    first = train[0]
    assert first.shape == (3, 64, 64) and first.dtype == np.uint8
    assert abs(int(first[0].mean()) - 20) <= 3  # image 000001: red 20
    test = load_celeba(root, split="test", image_size=32)
    assert test[1].shape == (3, 32, 32) and abs(int(test[1][0].mean()) - 200) <= 3
    assert list(train.attributes["Eyeglasses"]) == [1, 0, 1, 0, 1, 0]
    assert list(test.attributes["Smiling"]) == [1, 0]  # images 9 and 10
    assert len(load_celeba(root, limit=4)) == 4
    sub = train.subset([5, 0])
    assert list(sub.attributes["Eyeglasses"]) == [0, 1] and np.array_equal(sub[1], first)


def test_celeba_without_partition_file(tmp_path):
    root = make_celeba(tmp_path / "celeba", partition=False)
    # The image folder itself is accepted too.
    for path in (root, root / "img_align_celeba"):
        train, test = load_celeba(path, split="train"), load_celeba(path, split="test")
        assert (len(train), len(test)) == (9, 1)
        assert Path(test.paths[0]).name == "000010.jpg"
    with pytest.raises(DataError, match="split"):
        load_celeba(root, split="valid")


# ---------------------------------------------------------------- SVHN

def make_svhn(folder: Path, n_train=12, n_test=5):
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


def test_svhn_folder_and_file(tmp_path):
    data = make_svhn(tmp_path / "svhn")
    assert detect_svhn(tmp_path / "svhn") and detect_svhn(tmp_path / "svhn" / "test_32x32.mat")
    train = load_svhn(tmp_path / "svhn", split="train", image_size=32)
    test = load_svhn(tmp_path / "svhn", split="test", image_size=32)
    assert (len(train), len(test)) == (12, 5)
    x, y = data["train"]
    assert np.array_equal(train[3], x[..., 3].transpose(2, 0, 1))
    assert list(train.labels[:10]) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]  # 10 -> 0
    assert load_svhn(tmp_path / "svhn")[0].shape == (3, 64, 64)  # paper size by default
    # A file path picks its sibling for the other split.
    by_file = load_svhn(tmp_path / "svhn" / "train_32x32.mat", split="test", image_size=32)
    assert np.array_equal(by_file.images, test.images)


def test_svhn_wrong_layout_names_the_path(tmp_path):
    import scipy.io

    bad = tmp_path / "digits.mat"
    scipy.io.savemat(bad, {"images": np.zeros((4, 4), np.uint8)})
    with pytest.raises(DataError, match="digits.mat.*X and y"):
        load_svhn(bad)
    wrong_shape = tmp_path / "shape.mat"
    scipy.io.savemat(wrong_shape, {"X": np.zeros((32, 32, 5), np.uint8), "y": np.zeros((5, 1))})
    with pytest.raises(DataError, match=r"shape\.mat.*\(32, 32, 3, N\)"):
        load_svhn(wrong_shape)
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match="garbage.mat"):
        load_svhn(garbage)


# ---------------------------------------------------------------- MNIST

def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_mnist(folder: Path, n_train=15, n_test=6):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        data[prefix] = (x, y)
        if prefix == "train":  # gzipped, official names
            (folder / "train-images-idx3-ubyte.gz").write_bytes(
                gzip.compress(idx_bytes(x, 2051)))
            (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y, 2049)))
        else:  # plain, with the "." spelling some mirrors use
            (folder / "t10k-images.idx3-ubyte").write_bytes(idx_bytes(x, 2051))
            (folder / "t10k-labels.idx1-ubyte").write_bytes(idx_bytes(y, 2049))
    return data


def test_mnist_gz_and_plain_idx(tmp_path):
    data = make_mnist(tmp_path / "mnist")
    assert detect_mnist(tmp_path / "mnist")
    train = load_mnist(tmp_path / "mnist", split="train", image_size=28)
    test = load_mnist(tmp_path / "mnist", split="test", image_size=28)
    assert (len(train), len(test)) == (15, 6)
    assert np.array_equal(train.images[:, 0], data["train"][0])
    assert np.array_equal(test.labels, data["t10k"][1])
    assert train.channels == 1 and load_mnist(tmp_path / "mnist")[0].shape == (1, 32, 32)
    # torchvision's layout: ROOT/MNIST/raw/...
    make_mnist(tmp_path / "tv" / "MNIST" / "raw")
    assert detect_mnist(tmp_path / "tv") and len(load_mnist(tmp_path / "tv", split="test")) == 6
    # A single images file with its own name: split last 10%, labels from beside it.
    single = tmp_path / "mine-images-idx3-ubyte"
    single.write_bytes(idx_bytes(data["train"][0], 2051))
    (tmp_path / "mine-labels-idx1-ubyte").write_bytes(idx_bytes(data["train"][1], 2049))
    assert detect_mnist(single)
    ds = load_mnist(single, split="test", image_size=28)
    assert len(ds) == 1 and np.array_equal(ds.images[0, 0], data["train"][0][14])
    assert ds.labels[0] == 4


def test_mnist_bad_magic(tmp_path):
    make_mnist(tmp_path / "mnist")
    bad = tmp_path / "mnist" / "t10k-images.idx3-ubyte"
    bad.write_bytes(idx_bytes(np.zeros((2, 28, 28)), 1234))
    with pytest.raises(DataError, match="t10k-images.idx3-ubyte: bad magic number 1234"):
        load_mnist(tmp_path / "mnist", split="test")
    assert not detect_mnist(bad)


# ---------------------------------------------------------------- image folder

def test_folder_recursive_with_corrupt_file_skipped_and_counted(tmp_path):
    root = tmp_path / "pics"
    for i in range(9):
        save_png(root / "sub" / f"img{i}.png", (i * 25, 0, 0))
    save_png(root / "z_last.jpg", (0, 0, 255))
    (root / "sub" / "img3b.png").write_bytes(b"this is not a png")  # corrupt, sorted after img3
    (root / "notes.txt").write_text("not an image")
    assert detect_folder(root) and not detect_folder(tmp_path / "nothing_here")
    train = load_folder(root)
    assert len(train) == 10 and len(load_folder(root, split="test")) == 1
    assert train.labels is None  # images are not all in class subfolders
    assert train.skipped == 0
    images = [train[i] for i in range(len(train))]
    assert train.skipped == 1
    assert images[0].shape == (3, 64, 64)
    assert np.array_equal(images[4], images[5])  # the corrupt file gave the next image
    assert train.batch([0, 4]).shape == (2, 3, 64, 64)
    assert len(load_folder(root, limit=3)) == 3


def test_folder_class_subfolders_become_labels(tmp_path):
    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        for i in range(10):
            save_png(tmp_path / "pets" / cls / f"{i}.png", colour)
    train, test = load_folder(tmp_path / "pets"), load_folder(tmp_path / "pets", split="test")
    assert train.label_names == ["cats", "dogs"]
    assert list(np.bincount(train.labels)) == [9, 9] and list(test.labels) == [0, 1]
    assert test[1][2].mean() == 255  # the dog is blue


# ---------------------------------------------------------------- errors

def test_errors_name_the_path(tmp_path, specs):
    missing = tmp_path / "does-not-exist"
    for load in (load_celeba, load_svhn, load_mnist, load_folder):
        with pytest.raises(DataError, match=re.escape(f"{missing}: no such file or folder")):
            load(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=re.escape(f"{empty}: no images found")):
        load_folder(empty)
    with pytest.raises(DataError, match=re.escape(f"{empty}: no MNIST idx files")):
        load_mnist(empty)
    with pytest.raises(DataError, match=re.escape(f"{empty}: not a dataset in any known format")):
        resolve_dataset(str(empty), specs)


# ---------------------------------------------------------------- resolve_dataset

def test_resolve_builtins_and_detection(tmp_path, specs):
    assert list(specs) == ["toyfaces", "digits", "celeba", "svhn", "mnist", "folder"]
    assert resolve_dataset("toyfaces", specs, limit=3).name == "toyfaces"
    assert resolve_dataset("digits", specs, split="test").name == "digits"
    make_celeba(tmp_path / "celeba")
    make_svhn(tmp_path / "svhn")
    make_mnist(tmp_path / "mnist")
    save_png(tmp_path / "pics" / "a.png", (1, 2, 3))
    save_png(tmp_path / "pics" / "b.png", (1, 2, 3))
    for folder, name in (("celeba", "celeba"), ("svhn", "svhn"), ("mnist", "mnist"),
                         ("pics", "folder")):
        ds = resolve_dataset(str(tmp_path / folder), specs, limit=2)
        assert ds.name == name and len(ds) > 0
    ds = resolve_dataset(str(tmp_path / "svhn" / "train_32x32.mat"), specs, image_size=16)
    assert ds.name == "svhn" and ds[0].shape == (3, 16, 16)


def test_resolve_format_override_and_errors(tmp_path, specs):
    make_celeba(tmp_path / "celeba")
    forced = resolve_dataset(str(tmp_path / "celeba"), specs, data_format="folder")
    assert forced.name == "folder" and forced.attributes is None
    assert resolve_dataset("anything", specs, data_format="digits").name == "digits"
    with pytest.raises(DataError, match="unknown data format 'nope'.*celeba, svhn"):
        resolve_dataset(str(tmp_path / "celeba"), specs, data_format="nope")
    with pytest.raises(DataError, match="no-such: no such dataset or path "
                       r"\(built-in datasets: toyfaces, digits\)"):
        resolve_dataset("no-such", specs)
    with pytest.raises(DataError, match="tried: celeba, svhn, mnist, folder"):
        resolve_dataset(str(tmp_path / "celeba" / "list_attr_celeba.txt"), specs)
    # The folder format goes last even when registered first.
    reordered = {"folder": specs["folder"], **specs}
    assert resolve_dataset(str(tmp_path / "celeba"), reordered).name == "celeba"


# ---------------------------------------------------------------- layering

def test_importing_the_data_layer_does_not_import_torch():
    roots = {str(Path(genae_studio.__file__).parents[1])}
    import genae_builtins

    roots.add(str(Path(genae_builtins.__file__).parents[1]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sorted(roots)))
    code = ("import sys, genae_studio.data, genae_builtins.datasets; "
            "bad = [m for m in ('torch', 'PyQt6', 'pyqtgraph') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_safe_name_keeps_letters_digits_dashes_and_underscores():
    from genae_studio.data import safe_name

    assert safe_name("my data/v1.2 (x)") == "my_data_v1_2__x_"
    assert safe_name("toyfaces-run_3") == "toyfaces-run_3" and safe_name("") == "data"


def test_check_fits_names_the_data_and_what_the_model_expects():
    from genae_studio.data import ArrayDataset, check_fits
    from genae_studio.errors import DataError

    rgb = ArrayDataset(np.zeros((2, 3, 32, 32), np.uint8), name="faces")
    check_fits(rgb, 3)
    check_fits(rgb, 3, 32)
    with pytest.raises(DataError, match="faces: 3-channel images, but the model expects 1; hm"):
        check_fits(rgb, 1, hint="; hm")
    with pytest.raises(DataError, match="mine: 3x32px images, but the model expects 3x64px"):
        check_fits(rgb, 3, 64, name="mine")


def test_the_default_dataset_is_the_first_registered_one_that_needs_no_path(specs):
    from genae_studio.data import default_dataset

    assert default_dataset(specs) == "toyfaces"
    assert resolve_dataset(None, specs, limit=3).name == "toyfaces"
    formats_only = {k: v for k, v in specs.items() if v.detect is not None}
    assert default_dataset(formats_only) is None
    with pytest.raises(DataError, match="no dataset named"):
        resolve_dataset(None, formats_only)


def test_fallback_formats_are_tried_after_the_others(tmp_path, specs):
    """A plugin format that accepts anything, registered first, still loses to svhn etc."""
    from genae_studio.data.resolve import _formats_in_order
    from genae_studio.registry import DatasetSpec

    greedy = DatasetSpec("greedy", "accepts any path", load=dict, detect=lambda p: True,
                         fallback=True)
    order = [s.name for s in _formats_in_order({"greedy": greedy, **specs})]
    assert order == ["celeba", "svhn", "mnist", "greedy", "folder"]
    assert specs["folder"].fallback and not specs["celeba"].fallback
