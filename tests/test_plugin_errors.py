"""Issue 22, part B: a plugin's bug is reported as the plugin's (one line naming the plugin
and its model, dataset or sampler, exit code 2, the --check command), ``train`` refuses a
model that breaks the contract before its first step, and ``--check`` says how to fix a
failure and skips what depends on it."""
import pytest

from genae_studio import blame
from genae_studio.cli import main

# A VAE that raises where GENAE_BOOM says, once trained: train, encode or decode.
BOOM_PLUGIN = '''
import os

from genae_studio import VAE, ModelConfig, ModelSpec, hookimpl


class Boom(VAE):
    def training_step(self, x, step):
        if os.environ.get("GENAE_BOOM") == "train":
            raise RuntimeError("boom in training_step")
        return super().training_step(x, step)

    def encode(self, x, **kw):
        if os.environ.get("GENAE_BOOM") == "encode":
            raise RuntimeError("boom in encode")
        return super().encode(x, **kw)

    def decode(self, z):
        if os.environ.get("GENAE_BOOM") == "decode":
            raise ValueError("boom in decode")
        return super().decode(z)


def make(**hparams):
    return Boom(**hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("boom", "raises on demand", make,
                       config=ModelConfig(latent_dim=8, width=8)))
'''

# The tool's own VAE with the plugin's networks: a wrong-shaped encoder fails inside torch,
# where no frame is the plugin's.
SEQUENTIAL_PLUGIN = '''
from genae_studio import VAE, ModelConfig, ModelSpec, hookimpl


def make(*, image_size, channels, latent_dim, width, **hparams):
    from torch import nn

    encoder = nn.Sequential(nn.Flatten(), nn.Linear(channels * image_size ** 2, latent_dim))
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               encoder=encoder, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("halfenc", "an encoder with latent_dim outputs, not 2x", make,
                       config=ModelConfig(latent_dim=8, width=8)))
'''

SIGMOID_PLUGIN = '''
from genae_studio import VAE, DCGANDecoder, ModelConfig, ModelSpec, hookimpl


def make(*, image_size, channels, latent_dim, width, **hparams):
    from torch import nn

    decoder = nn.Sequential(DCGANDecoder(latent_dim, channels, image_size, width), nn.Sigmoid())
    return VAE(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width,
               decoder=decoder, **hparams)


@hookimpl
def register_models(register):
    register(ModelSpec("sigdec", "a decoder that ends in a sigmoid", make,
                       config=ModelConfig(latent_dim=8, width=8)))
'''

DATASET_PLUGIN = '''
from genae_studio import DatasetSpec, hookimpl


def load(source, *, split, image_size, limit, seed):
    raise OSError("cannot open the archive")


@hookimpl
def register_datasets(register):
    register(DatasetSpec("brokendata", "a loader that fails", load, channels=1, image_size=32))
'''

# A dataset whose own class fails while training reads its batches (in the prefetch thread).
FLAKY_DATASET_PLUGIN = '''
import numpy as np

from genae_studio import ArrayDataset, DatasetSpec, hookimpl


class Flaky(ArrayDataset):
    def batch(self, indices):
        if len(indices) > 4:
            raise IndexError("flaky batch")
        return super().batch(indices)


def load(source, *, split, image_size, limit, seed):
    return Flaky(np.zeros((64, 1, 32, 32), np.uint8))


@hookimpl
def register_datasets(register):
    register(DatasetSpec("flaky", "raises in batch", load, channels=1, image_size=32))
'''

TRAIN = ["--data", "digits", "--limit", "32", "--batch-size", "16", "--epochs", "1"]


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return str(path)


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def boom_run(tmp_path_factory):
    """A trained run of the boom plugin's model, and the plugin file."""
    folder = tmp_path_factory.mktemp("boom")
    plugin = write(folder, "boomplugin", BOOM_PLUGIN)
    run = folder / "run"
    assert main(["--plugin", plugin, "train", "--model", "boom", *TRAIN, "--out", str(run)]) == 0
    return plugin, run


def test_a_plugin_models_error_in_training_names_the_plugin(boom_run, tmp_path, capsys,
                                                             monkeypatch):
    plugin, _ = boom_run
    monkeypatch.setenv("GENAE_BOOM", "train")
    code = main(["--plugin", plugin, "train", "--model", "boom", *TRAIN,
                 "--out", str(tmp_path / "run")])
    line = one_error_line(capsys)
    assert code == 2
    assert "plugin boomplugin, model 'boom': RuntimeError: boom in training_step" in line
    assert f"genae-studio --plugin {plugin} plugins --check boom" in line
    assert "internal error" not in line
    assert not (tmp_path / "run").exists()  # nothing but a lock would have been left


@pytest.mark.parametrize("command, where", [
    (["sample", "--n", "2", "--steps", "0,1"], "decode"),
    (["interpolate", "--pairs", "1", "--points", "3", "--data", "digits"], "encode"),
    (["latent", "--n", "16", "--data", "digits", "--heldout", "32"], "encode"),
    (["eval", "--n", "16", "--steps", "0,1", "--features", "pca", "--data", "digits"], "decode"),
])
def test_a_plugin_models_error_while_sampling_names_the_plugin(boom_run, tmp_path, capsys,
                                                               monkeypatch, command, where):
    plugin, run = boom_run
    monkeypatch.setenv("GENAE_BOOM", where)
    out = ["--json", str(tmp_path / "out.json")] if command[0] == "eval" \
        else ["--out", str(tmp_path / "out.png")]
    code = main(["--plugin", plugin, *command, "--checkpoint", str(run), *out])
    line = one_error_line(capsys)
    assert code == 2, line
    assert "plugin boomplugin, model 'boom': " in line and f"boom in {where}" in line
    assert "plugins --check boom" in line


def test_an_error_inside_torch_under_a_plugin_model_names_the_plugin(tmp_path):
    """No frame of the traceback is the plugin's: the model the plugin built is."""
    import torch

    from genae_studio.plugins import load_plugins

    host = load_plugins([write(tmp_path, "halfplugin", SEQUENTIAL_PLUGIN)], autoload=False)
    spec = host.model("halfenc")
    model = spec.build({**spec.defaults, "image_size": 32, "channels": 1})
    x = torch.rand(2, 1, 32, 32)
    with pytest.raises(RuntimeError) as caught:
        model.decode(model.encode(x))
    assert blame.find(caught.value) == blame.Subject("halfplugin", "model", "halfenc")
    assert blame.describe(caught.value).startswith("plugin halfplugin, model 'halfenc': "
                                                   "RuntimeError: ")


def test_a_builtin_models_error_stays_an_internal_error(host):
    import torch
    from helpers import tiny_model

    model, _ = tiny_model(host)
    with pytest.raises(RuntimeError) as caught:
        model.decode(torch.zeros(2, 3))  # a code of the wrong size
    assert blame.find(caught.value) is None


def test_a_builtin_models_error_on_the_command_line_is_internal(tmp_path, capsys,
                                                                monkeypatch):
    from genae_studio.models import VAE

    def broken(self, x, step):
        raise RuntimeError("the tool's own bug")

    monkeypatch.setattr(VAE, "training_step", broken)
    code = main(["train", "--model", "vae", "--width", "8", "--latent-dim", "8", *TRAIN,
                 "--out", str(tmp_path / "run")])
    assert code == 1
    assert "internal error: RuntimeError: the tool's own bug" in capsys.readouterr().err


def test_a_plugin_datasets_error_names_the_plugin_and_dataset(tmp_path, capsys):
    plugin = write(tmp_path, "dataplugin", DATASET_PLUGIN)
    code = main(["--plugin", plugin, "train", "--data", "brokendata", "--out",
                 str(tmp_path / "run")])
    line = one_error_line(capsys)
    assert code == 2
    assert "plugin dataplugin, dataset 'brokendata': OSError: cannot open the archive" in line
    assert "plugins --check brokendata" in line


def test_a_plugin_datasets_error_while_training_names_the_plugin(tmp_path, capsys):
    plugin = write(tmp_path, "flakyplugin", FLAKY_DATASET_PLUGIN)
    code = main(["--plugin", plugin, "train", "--model", "vae", "--width", "8", "--latent-dim",
                 "8", "--data", "flaky", "--batch-size", "16", "--epochs", "1",
                 "--out", str(tmp_path / "run")])
    line = one_error_line(capsys)
    assert code == 2
    assert "plugin flakyplugin, dataset 'flaky': IndexError: flaky batch" in line
    assert "plugins --check flaky" in line


# --- train runs the cheap contract checks before its first step ----------------------------

@pytest.mark.parametrize("text, name, problem", [
    (SIGMOID_PLUGIN, "sigdec", "the decoder must return logits (remove its final sigmoid"),
    (SEQUENTIAL_PLUGIN, "halfenc", "a VAE's encoder returns 2 x latent_dim = 16 values"),
])
def test_train_refuses_a_model_that_breaks_the_contract_before_a_step(tmp_path, capsys, text,
                                                                       name, problem):
    plugin = write(tmp_path, "contract", text)
    out = tmp_path / "run"
    code = main(["--plugin", plugin, "train", "--model", name, *TRAIN, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"plugin contract, model '{name}': refused before training" in captured.err
    assert problem in captured.err and f"plugins --check {name}" in captured.err
    assert "batch/s" not in captured.err  # no step ran
    assert not out.exists()  # no folder holding only a lock


def test_a_refused_training_keeps_a_folder_that_was_there(tmp_path, capsys):
    plugin = write(tmp_path, "contract", SIGMOID_PLUGIN)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["--plugin", plugin, "train", "--model", "sigdec", *TRAIN,
                 "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_the_contract_check_keeps_trainings_random_state(host):
    import torch
    from helpers import tiny_model

    from genae_studio.testing import contract_problem

    model, _ = tiny_model(host)
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    assert contract_problem(model) is None
    assert torch.equal(torch.rand(3), expected)


# --- --check explains the fix and skips what depends on a failure ---------------------------

def test_check_explains_a_vae_encoder_of_the_wrong_width(tmp_path):
    from genae_studio.plugins import load_plugins
    from genae_studio.testing import run_model_checks

    spec = load_plugins([write(tmp_path, "halfplugin", SEQUENTIAL_PLUGIN)],
                        autoload=False).model("halfenc")
    results = {r.check: r for r in run_model_checks(spec, image_sizes=[32])}
    shapes = results["shapes 32x32"]
    assert shapes.status == "FAIL"
    assert "expected (batch, latent_dim) = (4, 8)" in shapes.detail
    assert "a VAE's encoder returns 2 x latent_dim = 16 values per image (mean then " \
           "log-variance)" in shapes.detail
    for check in ("decoder logits", "training step", "chain", "checkpoint round trip"):
        assert results[check].status == "skip", results[check]
        assert results[check].detail == "skipped (needs: shapes 32x32, which failed)"


def test_check_says_to_flatten_a_4d_code(host):
    import torch
    from torch import nn

    from genae_studio import VAE
    from genae_studio.testing import _Failed, model_shapes

    class Unflat(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 16, 1, 1)

    model = VAE(image_size=32, channels=1, latent_dim=8, width=8, encoder=Unflat())
    with pytest.raises(_Failed, match=r"gave shape \(4, 8, 1, 1\).*flatten the encoder's 4-D "
                                      r"output to \(B, K\)"):
        model_shapes(model, 32, 1)


def test_check_explains_a_decoder_of_the_wrong_size(host):
    from torch import nn

    from genae_studio import VAE, DCGANDecoder
    from genae_studio.testing import _Failed, model_shapes

    model = VAE(image_size=64, channels=1, latent_dim=8, width=8,
                decoder=nn.Sequential(DCGANDecoder(8, 1, 32, 8)))
    with pytest.raises(_Failed, match="must give 64x64 images for image_size 64"):
        model_shapes(model, 64, 1)


def test_check_of_a_name_whose_plugin_failed_to_register_names_the_plugin(tmp_path, capsys):
    plugin = write(tmp_path, "badreg", '''
from genae_studio import ModelConfig, ModelSpec, hookimpl


@hookimpl
def register_models(register):
    register(ModelSpec("x", "d", print, ModelConfig()))
''')
    assert main(["--plugin", plugin, "plugins", "--check", "x"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  loading plugins: plugin badreg: register_models raised TypeError" in out
    assert "(at badreg.py:7)" in out  # the line of the plugin that raised


SAMPLER_PLUGIN = '''
from genae_studio import SamplerSpec, hookimpl


class Broken:
    def sample(self, n, rng):
        raise RuntimeError("boom in sample")


def build(context):
    return Broken()


@hookimpl
def register_samplers(register):
    register(SamplerSpec("brokensampler", "raises when drawing", build))
'''


def test_a_plugin_samplers_error_names_the_plugin_and_sampler(boom_run, tmp_path, capsys):
    plugin, run = boom_run
    sampler = write(tmp_path, "samplerplugin", SAMPLER_PLUGIN)
    code = main(["--plugin", plugin, "--plugin", sampler, "eval", "--checkpoint", str(run),
                 "--n", "16", "--steps", "0,1", "--features", "pca", "--data", "digits",
                 "--sampler", "brokensampler", "--json", str(tmp_path / "e.json")])
    line = one_error_line(capsys)
    assert code == 2
    assert "plugin samplerplugin, sampler 'brokensampler': sample() raised RuntimeError: " \
           "boom in sample" in line
    assert f"genae-studio --plugin {sampler} plugins --check brokensampler" in line


def test_check_skips_what_needs_a_split_that_failed():
    import numpy as np

    from genae_studio import ArrayDataset, DatasetSpec
    from genae_studio.data.disk import check_split
    from genae_studio.testing import run_dataset_checks

    def load(source, *, split, image_size, limit, seed):
        check_split(split, "halfempty")
        n = 8 if split == "train" else 0
        return ArrayDataset(np.zeros((n, 1, image_size or 32, image_size or 32), np.uint8))

    results = {r.check: r for r in run_dataset_checks(DatasetSpec("halfempty", "", load))}
    assert results["load test"].status == "FAIL"
    assert results["labels and attributes"].status == "skip"
    assert results["labels and attributes"].detail == "skipped (needs: load test, which failed)"


def test_a_zero_initialised_last_layer_is_not_taken_for_a_sigmoid(host):
    """Its logits are all 0 before training: inside [0, 1], but no sigmoid gives one value
    for every code, so neither --check nor train refuses it."""
    import torch
    from torch import nn

    from genae_studio import VAE
    from genae_studio.testing import contract_problem

    class ZeroLast(nn.Module):
        def __init__(self):
            super().__init__()
            self.last = nn.Linear(8, 32 * 32)
            nn.init.zeros_(self.last.weight)
            nn.init.zeros_(self.last.bias)

        def forward(self, z):
            return self.last(z).reshape(-1, 1, 32, 32)

    model = VAE(image_size=32, channels=1, latent_dim=8, width=8, decoder=ZeroLast())
    assert contract_problem(model) is None
    with torch.no_grad():
        model.decoder.last.bias.fill_(0.5)
        model.decoder.last.weight.normal_(0, 1e-5)  # varied, inside [0, 1]: refused
    assert contract_problem(model).startswith("decoder logits: the raw decoder output stays")
