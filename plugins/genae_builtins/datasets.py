"""Plugin: the built-in datasets (toyfaces, digits) and on-disk formats (celeba, svhn, mnist,
folder), registered through the same hook as a third party's; each has a module here.

Datasets come first (toyfaces first: the default dataset); formats are registered in
detection order, and the generic image folder is a fallback, tried last.
"""
from genae_studio import DatasetSpec, hookimpl

from .celeba import detect_celeba, load_celeba
from .digits import load_digits
from .image_folder import detect_folder, load_folder
from .mnist import detect_mnist, load_mnist
from .svhn import detect_svhn, load_svhn
from .toyfaces import load_toyfaces


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
