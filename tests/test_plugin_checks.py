"""The plugin checker: genae_studio.testing and ``genae-studio plugins --check``."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_datasets import make_celeba, make_mnist, make_svhn

from genae_studio import DatasetSpec, ImageDataset, ModelSpec
from genae_studio.cli import main
from genae_studio.testing import (
    PluginCheckFailed,
    check_dataset,
    check_model,
    run_dataset_checks,
    run_model_checks,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "myencoder" / "genae_myencoder.py"
SMALL = {"width": 8, "latent_dim": 8}  # the checks do not depend on the width; this is faster
MODEL_CHECKS = ["build", "shapes 32x32", "shapes 64x64", "shapes 1 channel", "decoder logits",
                "training step", "chain", "checkpoint round trip"]


def failed(results):
    return [r.check for r in results if r.status == "FAIL"]


@pytest.mark.parametrize("name", ["vae", "dvae", "aae", "daae"])
def test_every_builtin_model_passes(host, name):
    results = check_model(host.models[name], hparams=SMALL)
    assert [r.check for r in results] == MODEL_CHECKS
    assert all(r.status == "ok" for r in results)


def test_the_example_plugin_passes():
    results = check_model("myencoder", plugins=[str(EXAMPLE)], hparams=SMALL)
    assert all(r.status == "ok" for r in results)


@pytest.mark.parametrize("name", ["toyfaces", "digits"])
def test_every_builtin_dataset_passes(name):
    results = check_dataset(name)
    assert [r.check for r in results] == ["load train", "load test", "images 32x32",
                                          "images 64x64", "labels and attributes",
                                          "unknown split"]


@pytest.mark.parametrize("name, make", [
    ("celeba", lambda root: make_celeba(root)),
    ("svhn", lambda root: make_svhn(root) and root),
    ("mnist", lambda root: make_mnist(root) and root),
    ("folder", lambda root: make_celeba(root)),
])
def test_every_builtin_format_passes(tmp_path, name, make):
    source = make(tmp_path / name)
    results = check_dataset(name, source, limit=8)
    assert results[0].check == "detect" and all(r.status == "ok" for r in results)


def test_an_on_disk_format_needs_a_path():
    with pytest.raises(PluginCheckFailed, match="on-disk format: give a path"):
        check_dataset("celeba")


# --- deliberately broken models: each fails on its named check -------------------------------

def sigmoid_decoder(*, image_size, channels, latent_dim, width, **hparams):
    from torch import nn

    from genae_studio import VAE, DCGANDecoder

    decoder = nn.Sequential(DCGANDecoder(latent_dim, channels, image_size, width), nn.Sigmoid())
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               decoder=decoder, **hparams)


def decoder_for_32_only(*, image_size, channels, latent_dim, width, **hparams):
    from genae_studio import VAE, DCGANDecoder

    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               decoder=DCGANDecoder(latent_dim, channels, 32, width), **hparams)


def nan_loss(**hparams):
    from genae_studio import VAE

    class NanVAE(VAE):
        def training_step(self, x, step):
            losses = super().training_step(x, lambda name, loss: step(name, loss * float("nan")))
            return losses

    return NanVAE(**hparams)


def frozen(**hparams):
    from genae_studio import VAE

    class FrozenVAE(VAE):
        def training_step(self, x, step):
            loss = self.decode(self.encode(x)).mean().detach().requires_grad_()
            step("model", loss)
            return {"loss": loss.detach()}

    return FrozenVAE(**hparams)


def unsaved_state(**hparams):
    import torch

    from genae_studio import VAE

    class ShiftedVAE(VAE):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.register_buffer("shift", torch.randn(self.latent_dim), persistent=False)

        def decode(self, z):
            return super().decode(z + self.shift)

    return ShiftedVAE(**hparams)


def no_generator(**hparams):
    from genae_studio import VAE

    class OldVAE(VAE):
        def encode(self, x, *, sample=True):  # lacks generator=: the chain passes one
            return super().encode(x, sample=sample)

    return OldVAE(**hparams)


def not_a_model(**hparams):
    return "a string"


@pytest.mark.parametrize("factory, failing", [
    (sigmoid_decoder, ["decoder logits"]),
    (decoder_for_32_only, ["shapes 64x64"]),  # the checks at 64x64 after it are skipped
    (nan_loss, ["training step"]),
    (frozen, ["training step"]),
    (unsaved_state, ["checkpoint round trip"]),
    (no_generator, ["chain"]),
    (not_a_model, ["build"]),
])
def test_a_broken_model_fails_on_its_named_check(factory, failing):
    spec = ModelSpec("broken", "broken on purpose", factory, plugin="test")
    results = run_model_checks(spec, hparams=SMALL)
    assert failed(results) == failing, [str(r) for r in results]
    with pytest.raises(PluginCheckFailed, match=f"model 'broken' failed: {failing[0]}"):
        check_model(spec, hparams=SMALL)


def test_the_logits_check_names_the_fix():
    spec = ModelSpec("sig", "", sigmoid_decoder, plugin="test")
    (result,) = [r for r in run_model_checks(spec, hparams=SMALL) if r.check == "decoder logits"]
    assert "stays inside [0, 1]" in result.detail and "must return logits" in result.detail


def test_a_model_that_fails_to_build_skips_the_rest():
    results = run_model_checks(ModelSpec("x", "", not_a_model, plugin="test"))
    assert [r.status for r in results] == ["FAIL"] + ["skip"] * (len(MODEL_CHECKS) - 1)
    assert "returned str, not a genae_studio.GenerativeAutoencoder" in results[0].detail


# --- deliberately broken datasets ------------------------------------------------------------

class FloatImages(ImageDataset):
    def __init__(self, n, size):
        self.images, self.image_size, self.channels = np.zeros((n, 1, size, size)), size, 1

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


class ShortLabels(FloatImages):
    def __init__(self, n, size):
        self.images = np.zeros((n, 1, size, size), np.uint8)
        self.image_size, self.channels, self.labels = size, 1, np.zeros(n - 1, np.int64)


def loader(make):
    from genae_studio.data.disk import check_split

    def load(source, *, split, image_size, limit, seed):
        check_split(split, "broken")
        return make(split, image_size or 32)
    return load


def _array(n, size):
    from genae_studio import ArrayDataset

    return ArrayDataset(np.zeros((n, 1, size, size), np.uint8))


@pytest.mark.parametrize("make, failing", [
    (lambda split, size: FloatImages(8, size), ["images 32x32", "images 64x64"]),
    (lambda split, size: _array(8 if split == "train" else 0, size), ["load test"]),
    (lambda split, size: ShortLabels(8, size), ["labels and attributes"]),
    (lambda split, size: _array(8, 32), ["images 64x64"]),
    (lambda split, size: np.zeros((8, 1, size, size), np.uint8),
     ["load train", "load test", "images 32x32", "images 64x64"]),
])
def test_a_broken_dataset_fails_on_its_named_check(make, failing):
    spec = DatasetSpec("broken", "broken on purpose", loader(make), plugin="test")
    results = run_dataset_checks(spec)
    assert failed(results) == failing, [str(r) for r in results]


def ignores_split(source, *, split, image_size, limit, seed):
    return _array(8, image_size or 32)


def unnamed_split_error(source, *, split, image_size, limit, seed):
    if split not in ("train", "test"):
        raise KeyError(3)
    return _array(8, image_size or 32)


@pytest.mark.parametrize("load, detail", [
    (ignores_split, "load(split='no-such-split') returned ArrayDataset instead of refusing "
                    "the split: call genae_studio.data.disk.check_split(split, where) first"),
    (unnamed_split_error, "load(split='no-such-split') raised KeyError: 3, which does not "
                          "name the split"),
])
def test_a_dataset_must_refuse_an_unknown_split_by_name(load, detail):
    results = run_dataset_checks(DatasetSpec("broken", "broken on purpose", load))
    assert failed(results) == ["unknown split"]
    assert detail in results[-1].detail


# --- the command line ------------------------------------------------------------------------

BROKEN_PLUGIN = '''
from genae_studio import hookimpl, ModelSpec


def make(*, image_size, channels, latent_dim, width, **hparams):
    from torch import nn
    from genae_studio import VAE, DCGANDecoder

    decoder = nn.Sequential(DCGANDecoder(latent_dim, channels, image_size, width), nn.Sigmoid())
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               decoder=decoder, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("sigmoid", "a decoder that ends in a sigmoid", make,
                       defaults={"latent_dim": 8, "width": 8}))
'''


def test_check_on_the_command_line_prints_a_line_per_check_and_exits_1(tmp_path, capsys):
    plugin = tmp_path / "sigmoid_plugin.py"
    plugin.write_text(BROKEN_PLUGIN)
    assert main(["plugins", "--plugin", str(plugin), "--check", "sigmoid"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "checking model sigmoid (plugin sigmoid_plugin)"
    assert [line.split()[0] for line in lines[1:-1]] == ["ok"] * 4 + ["FAIL"] + ["ok"] * 3
    assert lines[-1] == "FAILED: model sigmoid: decoder logits"


def test_check_on_the_command_line_passes_a_builtin(capsys):
    assert main(["plugins", "--check", "digits"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "checking dataset digits (plugin datasets)" and len(out) == 8
    assert out[-1] == "all checks passed"


def test_check_of_a_format_takes_data(tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (40, 30), (i * 50, 0, 0)).save(folder / f"{i}.png")
    assert main(["plugins", "--check", "folder", "--data", str(folder)]) == 0
    assert main(["plugins", "--check", "folder"]) == 1
    assert "FAILED: dataset folder: source" in capsys.readouterr().out


def test_check_of_an_unknown_name_is_a_usage_error(capsys):
    assert main(["plugins", "--check", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--check nope: no model, dataset or sampler of that name" in err[0]
