"""The plugin guide's and the README's examples are real files, and they run."""
import importlib.util
import re
from pathlib import Path

import pytest

from genae_studio.cli import main
from genae_studio.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]
FILE_BLOCK = re.compile(r"```python\n# file: (\S+)\n(.*?)```", re.S)
EXAMPLES = ["examples/fcdecoder/genae_fcdecoder.py", "examples/plainae/genae_plainae.py",
            "examples/stripes/genae_stripes.py", "examples/myencoder/genae_myencoder.py",
            "examples/kdesampler/genae_kdesampler.py"]


@pytest.mark.parametrize("doc", ["docs/plugins.md", "README.md"])
def test_every_example_in_the_docs_is_a_file_verbatim(doc):
    blocks = FILE_BLOCK.findall((ROOT / doc).read_text())
    assert blocks
    for path, text in blocks:
        assert text == (ROOT / path).read_text(), f"{doc}: the block for {path} is stale"


def test_the_guide_shows_every_example():
    shown = {path for path, _ in FILE_BLOCK.findall((ROOT / "docs/plugins.md").read_text())}
    assert set(EXAMPLES) <= shown


def test_every_example_plugin_loads_cleanly():
    host = load_plugins([str(ROOT / path) for path in EXAMPLES], autoload=False)
    assert not host.failures
    assert {"fcvae", "plainae", "myencoder"} <= set(host.models)
    assert "stripes" in host.datasets
    assert "kde" in host.samplers


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", ["examples/fcdecoder/test_fcdecoder.py",
                                  "examples/stripes/test_stripes.py"])
def test_the_authors_test_files_pass(path):
    module = _module(ROOT / path)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


def test_the_custom_model_example_keeps_the_contract():
    from genae_studio.testing import check_model

    check_model("plainae", plugins=[str(ROOT / EXAMPLES[1])], hparams={"width": 8})


def test_the_examples_train_and_sample_from_the_command_line(tmp_path, capsys):
    plugins = ["--plugin", str(ROOT / EXAMPLES[0]), "--plugin", str(ROOT / EXAMPLES[2])]
    run = tmp_path / "run"
    assert main(["train", *plugins, "--model", "fcvae", "--data", "stripes", "--epochs", "1",
                 "--limit", "64", "--batch-size", "32", "--width", "8", "--device", "cpu",
                 "--out", str(run)]) == 0
    assert main(["sample", *plugins, "--checkpoint", str(run), "--n", "4", "--steps", "0,2",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["interpolate", *plugins, "--checkpoint", str(run), "--points", "3",
                 "--pairs", "1", "--out", str(tmp_path / "i.png")]) == 0
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "i.png").is_file()


def test_the_sampler_example_passes_its_check_and_runs_through_eval(tmp_path, capsys):
    """As docs/plugins.md says: --plugin the file, plugins --check kde, eval --sampler kde."""
    import json

    from genae_studio.training import TrainSettings, train

    plugin = ["--plugin", str(ROOT / "examples/kdesampler/genae_kdesampler.py")]
    assert main([*plugin, "plugins", "--check", "kde"]) == 0
    assert "all checks passed" in capsys.readouterr().out
    run = tmp_path / "run"
    train(TrainSettings(model="vae", data="digits", limit=128, epochs=1, batch_size=32,
                        width=8, latent_dim=8, device="cpu"), run)
    out = tmp_path / "eval.json"
    assert main([*plugin, "eval", "--checkpoint", str(run), "--sampler",
                 "prior,kde:bandwidth=0.2", "--steps", "0,1", "--n", "20", "--features", "cnn",
                 "--feature-steps", "20", "--device", "cpu", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["runs"]
    kde = next(s for s in result["samplers"] if s["name"] == "kde")
    assert kde["label"] == "kde:bandwidth=0.2" and kde["info"]["bandwidth"] == 0.2
    assert kde["plugin"].endswith("genae_kdesampler.py") or kde["plugin"] == "genae_kdesampler"
    assert [r["step"] for r in result["rows"] if r.get("sampler") == kde["label"]] == [0, 1]
