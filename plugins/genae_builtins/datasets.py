"""Plugin: the built-in datasets (toyfaces, digits) and on-disk formats.

Datasets come first (toyfaces first: the default dataset); formats are registered in
detection order, and the generic image folder is a fallback, tried last.
"""
from genae_studio.data.digits import load_digits
from genae_studio.data.disk import (
    detect_celeba,
    detect_folder,
    detect_mnist,
    detect_svhn,
    load_celeba,
    load_folder,
    load_mnist,
    load_svhn,
)
from genae_studio.data.toyfaces import load_toyfaces
from genae_studio.plugins import hookimpl
from genae_studio.registry import DatasetSpec


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="toyfaces",
        description="20000 procedural 64x64 cartoon faces with known attributes (yaw, "
                    "sunglasses, smile, skin, hair, background); generated offline, cached",
        load=load_toyfaces, channels=3, image_size=64, binary_attribute="sunglasses"))
    register(DatasetSpec(
        name="digits",
        description="scikit-learn's 1797 handwritten 8x8 digits, upscaled to 32x32, labels 0-9",
        load=load_digits, channels=1, image_size=32))
    register(DatasetSpec(
        name="celeba",
        description="CelebA aligned faces: a folder with img_align_celeba/*.jpg "
                    "(splits from list_eval_partition.txt when present)",
        load=load_celeba, detect=detect_celeba, channels=3, image_size=64))
    register(DatasetSpec(
        name="svhn",
        description="SVHN cropped digits: train_32x32.mat / test_32x32.mat or their folder",
        load=load_svhn, detect=detect_svhn, channels=3, image_size=64))
    register(DatasetSpec(
        name="mnist",
        description="MNIST-style idx files (train-images-idx3-ubyte[.gz] ...) or their folder",
        load=load_mnist, detect=detect_mnist, channels=1, image_size=32))
    register(DatasetSpec(
        name="folder",
        description="any folder of images (jpg, png, bmp, gif, webp, tiff), searched "
                    "recursively; subfolders become labels",
        load=load_folder, detect=detect_folder, channels=3, image_size=64, fallback=True))
