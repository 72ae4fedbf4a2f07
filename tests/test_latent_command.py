"""genae-studio latent: the figure and its numbers, end to end on the bundled runs."""
import json

import numpy as np
import pytest
from PIL import Image

from genae_studio.cli import main

SMALL = ["--heldout", "200", "--n", "12", "--device", "cpu"]


def test_latent_draws_the_view_and_writes_its_numbers(tmp_path, capsys):
    out, doc_path = tmp_path / "latent.png", tmp_path / "latent.json"
    assert main(["latent", "--model", "aae", "--steps", "0,1,5", *SMALL, "--out", str(out),
                 "--json", str(doc_path)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and f"wrote {doc_path}" in printed
    width, height = Image.open(out).size
    assert width > 1000 and height > 500
    doc = json.loads(doc_path.read_text())
    assert doc["model"] == "aae" and doc["data"] == "toyfaces" and doc["heldout"] == 200
    assert doc["steps"] == [0, 1, 5] and doc["requested"] == "auto"
    # auto is the view whose axes hold the most; its numbers are that view's.
    views = doc["views"]
    assert set(views) == {"means", "joint", "discriminant"}
    assert doc["method"] == max(views, key=lambda m: views[m]["held"])
    view = views[doc["method"]]
    for key in ("explained", "separation_auc", "active_units", "axis_auc"):
        assert doc[key] == view[key]
    assert len(doc["explained"]) == 2 and 0 < sum(doc["explained"]) <= 1
    assert 0.5 <= doc["separation_auc"] <= 1 and 0 < doc["active_units"] <= doc["latent_dim"]
    traj = np.array(doc["trajectories"])
    assert traj.shape == (3, 12, 2) and np.isfinite(traj).all()
    score = doc["data_score"]
    chains = np.array(score["chains"])
    assert chains.shape == (3, 12)
    np.testing.assert_allclose(score["mean"], chains.mean(axis=1), atol=1e-3)
    # The AAE's chain jumps from the prior to the data in one step.
    assert score["mean"][0] < 0.3 < 0.7 < score["mean"][1]
    assert score["cv_accuracy"] > 0.9


def test_latent_methods_colours_and_vector_output(tmp_path, capsys):
    out, doc_path = tmp_path / "latent.svg", tmp_path / "latent.json"
    assert main(["latent", "--model", "vae", "--method", "discriminant", "--color-by",
                 "sunglasses", *SMALL, "--out", str(out), "--json", str(doc_path)]) == 0
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()[:2000]
    doc = json.loads(doc_path.read_text())
    assert doc["method"] == "discriminant" and doc["axes"] == ["discriminant", "data PC⊥"]
    # The VAE's codes rise above the prior's level in one step.
    assert doc["data_score"]["mean"][1] > doc["data_score"]["mean"][0]


@pytest.mark.parametrize("argv, message", [
    (["--color-by", "moustache"], "--color-by moustache: toyfaces has only"),
    (["--out", "latent.gif"], "--out latent.gif: unknown extension '.gif'"),
    (["--json", "numbers.txt"], "--json numbers.txt: unknown extension '.txt'"),
    (["--n", "2"], "--n must be at least 3"),
    (["--checkpoint", "/nonexistent/run"], "/nonexistent/run"),
    (["--steps", "0,x"], "--steps must be comma-separated integers"),
    (["--model", "runs/vae"], "--model takes a bundled model name, got 'runs/vae'"),
])
def test_latent_bad_input_is_one_line_with_exit_code_2(argv, message, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["latent", "--heldout", "20", "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "error" in line]) == 1 and message in err[-1]
    assert not (tmp_path / "latent.png").exists()


def test_unknown_method_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["latent", "--method", "tsne"])
    assert exc.value.code == 2 and "invalid choice: 'tsne'" in capsys.readouterr().err


def test_latent_in_precise_mode_draws_chains_that_do_not_depend_on_their_batch(
        tmp_path, capsys, monkeypatch):
    """--bn-mode precise estimates the statistics first; then the first chains' paths are the
    same whether 6 or 12 chains run together (in batch mode they are not). The AAE, because its
    chain draws nothing: a stochastic chain's draws depend on n anyway."""
    import functools

    from genae_studio.sampling import _precise_bn as precise_bn

    monkeypatch.setattr(precise_bn, "PreciseSettings",
                        functools.partial(precise_bn.PreciseSettings, batches=4, batch_size=32))

    def first_chains(n, mode):
        doc_path = tmp_path / f"{mode}-{n}.json"
        assert main(["latent", "--model", "aae", "--steps", "0,2", "--heldout", "100",
                     "--n", str(n), "--device", "cpu", "--bn-mode", mode,
                     "--method", "means", "--out", str(tmp_path / f"{mode}-{n}.png"),
                     "--json", str(doc_path)]) == 0
        doc = json.loads(doc_path.read_text())
        assert doc["bn_mode"] == mode
        return np.array(doc["trajectories"])[:, :6]

    precise_6, precise_12 = first_chains(6, "precise"), first_chains(12, "precise")
    assert "precise" in capsys.readouterr().err  # the estimate is announced
    np.testing.assert_allclose(precise_6, precise_12, atol=2e-3)
    batch_6, batch_12 = first_chains(6, "batch"), first_chains(12, "batch")
    assert np.abs(batch_6[1] - batch_12[1]).max() > 0.01
