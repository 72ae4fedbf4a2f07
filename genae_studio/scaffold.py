"""``genae-studio plugins new KIND NAME``: a plugin package to start from.

It writes ``genae-NAME/``: the plugin module ``genae_NAME.py`` (a model, a dataset or a
sampler that already keeps the plugin contract), a ``pyproject.toml`` declaring it in the
``genae_studio`` entry-point group, a test using ``genae_studio.testing`` and a README. The
folder is written whole or not at all, and never over an existing one.
"""
from __future__ import annotations

import keyword
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UsageError
from .plugins import PROJECT

KINDS = ("model", "dataset", "sampler")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genae-{name}"
version = "0.1.0"
description = "A genae-studio plugin: the {kind} {name}"
requires-python = ">=3.11"
dependencies = ["genae-studio"]

# genae-studio finds installed plugins through this entry-point group.
[project.entry-points.{group}]
{name} = "genae_{name}"

[tool.setuptools]
py-modules = ["genae_{name}"]
'''

MODEL = '''\
"""genae-studio plugin: the model {name}, a VAE with the paper's DCGAN networks.

Change the networks in ``make_model``; every field of ``{cls}`` is a setting the user can
change (``genae-studio train --model {name} --set beta=4``, the studio's Training panel).
"""
from dataclasses import dataclass

from genae_studio import ModelConfig, ModelSpec, hookimpl


@dataclass(frozen=True)
class {cls}(ModelConfig):
    """{name}'s defaults: ModelConfig's fields, changed and extended."""

    latent_dim: int = 32
    width: int = 32  # filters of the first convolution
    beta: float = 1.0  # the weight of the KL term: 1.0 is the ELBO, > 1 a beta-VAE


def make_model(*, image_size, channels, latent_dim, width, beta, **hparams):
    # Import torch and the networks here, not at the top: listing plugins stays fast.
    from genae_studio import VAE, DCGANDecoder, DCGANEncoder

    # images (B, channels, S, S) -> 2 * latent_dim features: the mean, then the log-variance
    encoder = DCGANEncoder(channels, image_size, 2 * latent_dim, width)
    # codes (B, latent_dim) -> logits (B, channels, S, S): no sigmoid at the end
    decoder = DCGANDecoder(latent_dim, channels, image_size, width)
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               kl_weight=beta, encoder=encoder, decoder=decoder, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("{name}", "a VAE (plugin genae-{name})", make_model,
                       config={cls}(), image_sizes=(32, 64)))
'''

DATASET = '''\
"""genae-studio plugin: the dataset {name}, squares of random sizes drawn procedurally.

Replace ``draw`` (or the whole loader) with your data; ``load`` returns uint8 images shaped
(N, channels, S, S) at the size asked for.
"""
from genae_studio import DatasetSpec, hookimpl

SIZE = 1000  # images in all; the last 10% are the test split


def draw(index, image_size):
    """One uint8 (1, S, S) image, a white square on black, and the square's side."""
    import numpy as np

    rng = np.random.default_rng(index)
    side = int(rng.integers(image_size // 8, image_size // 2))
    top, left = rng.integers(0, image_size - side, 2)
    image = np.zeros((1, image_size, image_size), np.uint8)
    image[0, top:top + side, left:left + side] = 255
    return image, side


def load(source, *, split, image_size, limit, seed):
    """``source`` is None (a built-in dataset); the loader draws at ``image_size`` itself."""
    import numpy as np

    from genae_studio import ArrayDataset
    from genae_studio.data.disk import check_split, nonempty, tail_split

    check_split(split, "{name}")
    indices = range(SIZE)[tail_split(SIZE, split)]
    if limit is not None:
        indices = indices[:limit]
    drawn = [draw(i, image_size or 32) for i in nonempty(indices, split, "{name}")]
    return ArrayDataset(np.stack([image for image, _ in drawn]), name="{name}",
                        source="{name}",
                        attributes={{"side": np.array([s for _, s in drawn], np.float32)}})


@hookimpl
def register_datasets(register):
    register(DatasetSpec("{name}", "procedural squares (plugin genae-{name})", load,
                         channels=1, image_size=32))
'''

SAMPLER = '''\
"""genae-studio plugin: the sampler {name} of the chains' starting codes, a scaled prior.

Compare it with the built-ins: ``genae-studio eval --sampler prior,{name}:scale=0.5``.
"""
from genae_studio import SamplerSpec, hookimpl


class ScaledPrior:
    def __init__(self, latent_dim, scale):
        self.latent_dim, self.scale = latent_dim, scale
        self.info = {{"scale": scale}}  # reported by eval

    def sample(self, n, rng):
        return self.scale * rng.standard_normal((n, self.latent_dim))  # every draw from rng


def build(context, *, scale=0.8):
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {{scale}}")
    return ScaledPrior(context.latent_dim, scale)


@hookimpl
def register_samplers(register):
    register(SamplerSpec("{name}", "N(0, scale^2 I) (plugin genae-{name})", build,
                         options={{"scale": 0.8}}))
'''

TEST = '''\
"""The plugin keeps genae-studio's plugin contract (run: python -m pytest)."""
from pathlib import Path

from genae_studio.testing import {check}

PLUGIN = str(Path(__file__).with_name("genae_{name}.py"))


def test_{name}_keeps_the_plugin_contract():
    {call}
'''

CALLS = {"model": ("check_model", 'check_model("{name}", plugins=[PLUGIN], '
                                  'hparams={{"width": 8, "latent_dim": 8}})'),
         "dataset": ("check_dataset", 'check_dataset("{name}", plugins=[PLUGIN])'),
         "sampler": ("check_sampler", 'check_sampler("{name}", plugins=[PLUGIN])')}

README = '''\
# genae-{name}

A genae-studio plugin: the {kind} `{name}`.

    pip install -e .                      # registers it (entry point group "{group}")
    genae-studio plugins --check {name}   # the plugin contract, one line per check
    python -m pytest                      # the same checks from the test
'''


def files(kind: str, name: str) -> dict[str, str]:
    """The package's files: path in the folder -> text."""
    cls = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) + "Config"
    module = {"model": MODEL, "dataset": DATASET, "sampler": SAMPLER}[kind]
    check, call = CALLS[kind]
    fill = {"name": name, "kind": kind, "cls": cls, "group": PROJECT}
    return {"pyproject.toml": PYPROJECT.format(**fill),
            f"genae_{name}.py": module.format(**fill),
            f"test_genae_{name}.py": TEST.format(check=check, name=name,
                                                 call=call.format(name=name)),
            "README.md": README.format(**fill)}


def check_name(name: str) -> None:
    if not (name.isidentifier() and name.isascii()) or keyword.iskeyword(name):
        raise UsageError(f"plugins new: {name!r} is not a valid NAME (a Python identifier: "
                         "letters, numerals and _, not starting with a numeral, e.g. betavae)")


def write_package(kind: str, name: str, parent: Path = Path(".")) -> Path:
    """Write ``parent/genae-NAME/``; refuse a folder that exists (UsageError)."""
    if kind not in KINDS:
        raise UsageError(f"plugins new: unknown kind {kind!r} (use {', '.join(KINDS)})")
    check_name(name)
    target = Path(parent) / f"genae-{name}"
    if target.exists() or target.is_symlink():
        raise UsageError(f"plugins new: {target} already exists; remove it or choose "
                         "another NAME")
    if not Path(parent).is_dir():
        raise UsageError(f"plugins new: {parent} is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".genae-{name}.", dir=parent))
    try:
        for rel, text in files(kind, name).items():
            (tmp / rel).write_text(text)
        os.chmod(tmp, 0o777 & ~_umask())
        os.rename(tmp, target)  # the folder appears whole
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
