"""genae-studio eval (genae_studio.evaluation, genae_studio.commands.eval): the table, the JSON,
the cached feature network, decisiveness, fallbacks."""
import json
import re
import sys

import numpy as np
import pytest
from genae_builtins.toyfaces import load_toyfaces
from PIL import Image

from genae_studio import evaluation, features
from genae_studio.api import load_run
from genae_studio.cli import main
from genae_studio.data import ArrayDataset, resolve_dataset
from genae_studio.errors import UsageError
from genae_studio.evaluation import interpolations
from genae_studio.evaluation.reference import _pick_attribute
from genae_studio.features import FeatureSettings, heads_for, train_feature_net
from genae_studio.training import TrainSettings, train

TINY = dict(epochs=1, batch_size=32, width=8, latent_dim=8, device="cpu")
FAST = ["--feature-steps", "20", "--device", "cpu"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, host):
    out = tmp_path_factory.mktemp("digits-vae")
    train(TrainSettings(model="vae", data="digits", limit=128, **TINY), out, host=host)
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty cache for this test only."""
    path = tmp_path / "cache"
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(path))
    return path


def table_rows(text):
    lines = [line.split() for line in text.strip().splitlines()
             if line.strip() and not line.startswith("!")]  # "!": the junk-blind footnote
    header = [c.rstrip("!") for c in lines[0]]
    return header, [dict(zip(header, cells, strict=True)) for cells in lines[1:]
                    if cells != header]


def test_eval_prints_a_row_per_step_and_the_same_numbers_as_json(digits_run, tmp_path, cache,
                                                                  capsys):
    out = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(digits_run), "--steps", "3,0,1", "--n", "40",
                 "--json", str(out), *FAST]) == 0
    header, rows = table_rows(capsys.readouterr().out)
    assert header == ["run", "data", "kind", "sampler", "step", "n", "mmd_data",
                      "mmd_data_clean", "mmd_prior",
                      "data_score", "fd", "kid", "precision", "recall", "density", "coverage",
                      "fd_pca", "kid_pca", "precision_pca", "recall_pca", "density_pca",
                      "coverage_pca"]
    # no attribute columns for digits; the floors at the chain rows' n
    assert [(r["kind"], r["sampler"], r["step"], r["n"]) for r in rows] == [
        ("chain", "prior", "0", "40"), ("chain", "prior", "1", "40"),
        ("chain", "prior", "3", "40"), ("recon", "-", "-", "40"), ("data", "-", "-", "40"),
        *[(c, "-", "-", "40") for c in ("noise", "grey", "shuffled", "blurred")]]
    assert rows[3]["mmd_data"] == "-" and rows[4]["mmd_data"] != "-"
    assert all(r["mmd_data_clean"] == r["mmd_data"] for r in rows)  # no corruption: the same

    doc = json.loads(out.read_text())
    assert doc["settings"]["steps"] == [0, 1, 3] and doc["settings"]["k"] == 3
    (run,) = doc["runs"]
    assert run["data"] == "digits" and run["model"] == "vae" and run["n"] == 40
    assert run["feature_mode"] == "labels" and run["attribute"] is None
    for printed, stored in zip(rows, run["rows"], strict=True):
        assert printed["kind"] == stored.get("control", stored["kind"])
        for col in ("mmd_data", "mmd_prior", "data_score", "fd", "kid", "precision", "recall",
                    "density", "coverage"):
            if stored[col] is None:
                assert printed[col] == "-"
            else:
                digits = len(printed[col].split(".")[1])
                assert float(printed[col]) == pytest.approx(stored[col], abs=10 ** -digits)
    chain = [r for r in run["rows"] if r["kind"] == "chain"]
    assert all(0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["fd"] >= 0
               for r in chain)
    assert abs(chain[0]["mmd_prior"]) < 0.1  # z_0 is a prior draw
    # The data score: P(data) of z_t, 0..1; z_0 is a prior draw, so near the prior's level.
    score = run["data_score"]
    # Prior below data is pinned on separable codes in test_latent.py; this 4-step model
    # starts from DCGAN's small weights, so its codes may still look like prior draws.
    assert 0 <= score["prior_level"] <= 1 and 0 <= score["data_level"] <= 1
    assert 0 < score["cv_accuracy"]
    assert all(0 <= r["data_score"] <= 1 for r in chain)
    assert abs(chain[0]["data_score"] - score["prior_level"]) < 0.25
    # The data row scores n other held-out codes, which the score's fit never saw.
    data_row = run["rows"][-5]
    assert data_row["kind"] == "data" and 0 <= data_row["data_score"] <= 1
    assert doc["version"] == 5 and run["samplers"][0]["label"] == "prior"
    assert run["controls"]["junk"] == ["noise", "grey", "shuffled"]
    assert run["samplers"][0]["diagnostics"]["summaries"]["norm"]["rhat"] > 0


@pytest.mark.slow
def test_the_feature_network_is_cached_and_reused(digits_run, tmp_path, cache, capsys,
                                                  monkeypatch):
    def argv(name, *extra):
        return ["eval", "--checkpoint", str(digits_run), "--steps", "0,1", "--n", "20",
                "--json", str(tmp_path / name), *FAST, *extra]

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # the bar shows on terminals
    assert main(argv("a.json")) == 0
    err = capsys.readouterr().err
    assert "training the feature network on digits" in err  # the start line, and the end:
    assert re.search(r"feature network for digits: labels \(trained in \d+ s; held-out", err)
    assert "eval: feature network: 100%" in err and "20/20" in err  # the progress bar
    (weights,) = (cache / "features").glob("digits-32px-*.safetensors")
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["mode"] == "labels" and meta["settings"]["steps"] == 20
    stamp = weights.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the cached feature network should have been used")

    original = features.train_feature_net
    monkeypatch.setattr(features, "train_feature_net", no_training)
    assert main(argv("b.json")) == 0
    err = capsys.readouterr().err
    assert "loaded from cache" in err and "eval: feature network:" not in err
    assert weights.stat().st_mtime_ns == stamp
    first, second = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert second["runs"][0]["features"]["from_cache"] is True
    assert first["runs"][0]["rows"] == second["runs"][0]["rows"]  # same net, same numbers
    # Other training settings make another network; --retrain-features ignores the cache.
    monkeypatch.setattr(features, "train_feature_net", original)
    assert main(argv("c.json", "--feature-steps", "21")) == 0
    assert len(list((cache / "features").glob("*.safetensors"))) == 2
    assert main(argv("d.json", "--retrain-features")) == 0
    assert "(trained in " in capsys.readouterr().err


@pytest.fixture(scope="module")
def faces(tmp_path_factory, host):
    """A tiny AAE on 32 px toyfaces, a quick feature net and a small held-out set."""
    out = tmp_path_factory.mktemp("faces-aae")
    train(TrainSettings(model="aae", data="toyfaces", image_size=32, limit=64, **TINY), out,
          host=host)
    run = load_run(out, device="cpu", host=host)
    extractor = train_feature_net(load_toyfaces(split="train", limit=256, image_size=32),
                                  FeatureSettings(steps=20))
    heldout = load_toyfaces(split="test", limit=120, image_size=32)
    return run, extractor, heldout


def test_decisiveness_interpolates_between_faces_with_and_without_sunglasses(faces):
    run, extractor, heldout = faces
    assert extractor.mode == "attributes" and extractor.net.head("sunglasses").classes == 2
    ref = evaluation.build_reference(run, heldout, n=100, extractor=extractor)
    # n is capped at half the 120 held-out images: the other 60 give the floors
    assert ref.attribute == "sunglasses" and ref.codes.shape == (60, 8)
    assert ref.other_codes.shape == (60, 8) and len(ref.other) == 60

    result = evaluation.decisiveness(run, ref, [0, 2], points=5, pairs=6, seed=3)
    glasses = ref.heldout.attributes["sunglasses"]
    pairs = result["pairs"]
    assert pairs.shape == (6, 2) and len(set(pairs.ravel())) == 12
    assert (glasses[pairs[:, 0]] == 0).all() and (glasses[pairs[:, 1]] == 1).all()
    assert [(r["kind"], r["step"], r["n"]) for r in result["rows"]] == [
        ("interp", 0, 18), ("interp", 2, 18)]  # interior points only: 6 pairs x 3
    assert all(0 <= r["ambiguous"] <= 1 and 0 <= r["sunglasses"] <= 1 for r in result["rows"])
    assert result["images"].shape == (4, 2, 5, 3, 32, 32)
    for row in result["rows"]:
        # By the triangle inequality no path of 5 points has a largest jump below 1/4.
        assert row["max_jump"] >= 0.25 - 1e-9
        assert row["kept"] in {i / 12 for i in range(13)} and row["end_dist"] >= 0


def test_endpoint_faithfulness_is_measured_against_the_original_images(faces, monkeypatch):
    """Constructed chains: each path runs from one original image to the other in even pixel
    steps. Kept in place, the endpoints are at distance 0 and keep their label as often as
    the classifier is right; swapped, they sit on the other original and keep it as often as
    the classifier is wrong."""
    import numpy as np
    import torch

    run, extractor, heldout = faces
    ref = evaluation.build_reference(run, heldout, n=100, extractor=extractor)
    pairs = evaluation.pick_pairs(ref.heldout, "sunglasses", 6, seed=3)
    originals = torch.as_tensor(ref.heldout.batch(pairs.reshape(-1))).float() / 255
    originals = originals.reshape(6, 2, *originals.shape[1:])
    w = torch.linspace(0, 1, 5)[None, :, None, None, None]

    def fake_chains(swap):
        a, b = (originals[:, 1], originals[:, 0]) if swap else (originals[:, 0], originals[:, 1])
        x = ((1 - w) * a[:, None] + w * b[:, None]).reshape(-1, *a.shape[1:])

        def chains(run, z0, steps, **kwargs):
            for t in range(steps + 1):
                yield t, z0, x
        return chains

    p = extractor.probability(originals.reshape(-1, *originals.shape[2:]).numpy(),
                              "sunglasses").reshape(6, 2)
    right = np.mean((p > 0.5) == np.array([False, True]))
    feats = ref.feats[pairs]
    far = np.linalg.norm(feats[:, 0] - feats[:, 1], axis=1).mean() / ref.info["typical_distance"]
    for swap, kept, dist in ((False, right, 0.0), (True, 1 - right, far)):
        monkeypatch.setattr(interpolations, "run_chains", fake_chains(swap))
        row = evaluation.decisiveness(run, ref, [0], points=5, pairs=6, seed=3)["rows"][0]
        assert row["kept"] == pytest.approx(kept)
        assert row["end_dist"] == pytest.approx(dist, abs=1e-4)
        assert row["max_jump"] >= 0.25 - 1e-9  # at least the even path's 1/(points-1)


def test_a_toyfaces_run_gets_attribute_columns_interp_rows_and_figures(faces, tmp_path):
    run, extractor, heldout = faces
    ref = evaluation.build_reference(run, heldout, n=60, extractor=extractor)
    result = evaluation.evaluate_run(run, ref, [0, 1], points=4, label="aae", data="toyfaces")
    kinds = [(r["kind"], r["step"]) for r in result["rows"]]
    assert kinds == [("chain", 0), ("chain", 1), ("interp", 0), ("interp", 1),
                     ("recon", None), ("data", None), *[("control", None)] * 4]
    header = [c.rstrip("!") for c in evaluation.format_table([result]).splitlines()[0].split()]
    assert header[-5:] == ["ambiguous", "sunglasses", "max_jump", "kept", "end_dist"]
    assert all(0 <= r["ambiguous"] <= 1 and 0 <= r["sunglasses"] <= 1 for r in result["rows"])
    assert result["rows"][0]["mmd_data"] is not None and result["rows"][2]["fd"] is None
    # The share column is named after the dataset's attribute, in the JSON too.
    doc = json.loads(evaluation.json_document([result], {"n": 60}))
    (stored,) = doc["runs"]
    assert doc["version"] == 5 and stored["attribute_column"] == "sunglasses"
    assert all("sunglasses" in r and "glasses" not in r for r in stored["rows"])
    paths = evaluation.save_figures(result, tmp_path)
    assert [p.name for p in paths] == ["toyfaces-aae-chains.png", "toyfaces-aae-samplers.png",
                                       "toyfaces-aae-sunglasses.png"]
    assert Image.open(paths[0]).size == (12 * 34 + 2, 2 * 34 + 2)
    assert Image.open(paths[2]).size == (4 * 34 + 2, 4 * 2 * 34 + 2)  # 4 pairs x 2 steps


def test_heldout_codes_do_not_share_random_draws_with_the_chain(digits_run, host, cache):
    """A VAE's codes are mu + sigma * eps; drawn from the chain's seed, eps would equal the
    chain's z0 and the two samples would be paired (their MMD biased toward 0)."""
    import torch

    run = load_run(digits_run, device="cpu", host=host)
    with torch.no_grad():  # posterior = prior: mu = 0, sigma = 1, so codes are pure eps
        head = run.model.encoder.net[-1]
        head.weight.zero_()
        head.bias.zero_()
    heldout = resolve_dataset("digits", host.datasets, split="test", image_size=32)
    codes = evaluation.encode_heldout(run, heldout.batch(np.arange(64)), seed=0)
    z0 = next(run.chain(n=64, steps=0, seed=0)).z.numpy()
    assert np.abs(np.corrcoef(codes.ravel(), z0.ravel())[0, 1]) < 0.1


def test_chain_metrics_give_one_value_per_step_for_scripts(digits_run, host, cache):
    run = load_run(digits_run, device="cpu", host=host)
    ref = evaluation.build_reference(run, n=50, host=host,
                                     feature_settings=FeatureSettings(steps=5))
    rec = run.sample(16, [0, 1, 4], seed=0)
    curves = evaluation.chain_metrics(run, ref, rec.z, rec.x)
    assert set(curves) == set(evaluation.COLUMNS) and len(curves["fd"]) == 3
    assert curves["ambiguous"] == [None] * 3
    one = evaluation.step_metrics(ref, rec.z[1], rec.x[1])
    assert one["mmd_data"] == curves["mmd_data"][1] and one["fd"] == curves["fd"][1]
    assert one["data_score"] == pytest.approx(float(ref.score(rec.z[1]).mean()))
    # The reference's codes are the ones encode_heldout draws (one random stream for both).
    images = ref.heldout.batch(np.arange(len(ref.codes)))
    np.testing.assert_array_equal(ref.codes, evaluation.encode_heldout(run, images, seed=0))
    other = load_run(digits_run, device="cpu", host=host)
    other.model.latent_dim = 9
    with pytest.raises(UsageError, match="other latent"):
        evaluation.chain_metrics(other, ref, rec.z, rec.x)


@pytest.mark.slow
def test_unlabelled_data_falls_back_to_rotation_features(host, digits_run, tmp_path, cache,
                                                         capsys):
    digits = resolve_dataset("digits", host.datasets, split="train", limit=300)
    unlabelled = ArrayDataset(digits.images, name="plain")
    mode, heads, targets = heads_for(unlabelled)
    assert mode == "rotation" and heads[0].classes == 4 and targets == {}
    extractor = train_feature_net(unlabelled, FeatureSettings(steps=10), heldout=unlabelled)
    assert extractor.mode == "rotation" and "rotation_acc" in extractor.info["heldout"]
    assert extractor.features(digits.images[:7]).shape == (7, features.FEATURE_DIM)
    # End to end: a flat folder of images has no labels and no attributes.
    folder = tmp_path / "plain"
    folder.mkdir()
    for i, img in enumerate(digits.images[:300]):  # a test split of 30: n = 15 and 15 more
        Image.fromarray(img[0]).convert("RGB").save(folder / f"{i:03d}.png")
    run_dir = tmp_path / "run"
    train(TrainSettings(model="vae", data=str(folder), image_size=32, limit=64, **TINY),
          run_dir, host=host)
    assert main(["eval", "--checkpoint", str(run_dir), "--steps", "0,1", "--n", "15",
                 "--json", str(tmp_path / "e.json"), *FAST]) == 0
    assert "feature network for" in capsys.readouterr().err
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["runs"][0]["feature_mode"] == "rotation" and doc["runs"][0]["n"] == 15


@pytest.mark.parametrize("argv, message", [
    (["--model", "nope"], "no bundled run for model 'nope'"),
    (["--model", "runs/vae"], "--model takes a bundled model name, got 'runs/vae'"),
    (["--checkpoint", "/no/such/run"], "/no/such/run: no such run folder"),
    (["--steps", "0,x"], "--steps must be comma-separated integers"),
    (["--steps=-1,2"], "--steps must be non-negative"),
    (["--steps", ","], "--steps must be comma-separated integers"),
    (["--n", "3"], "--n must be at least 10"),
    (["--points", "2"], "--points must be at least 3"),
    (["--data", "/no/such/data"], "/no/such/data: no such dataset or path"),
    (["--attribute", "sunglasses"], "digits: no binary attribute 'sunglasses'"),
    (["--features", "cnn,inception"], "--features takes cnn and/or pca"),
    (["--chain-batch", "1"], "--chain-batch must be at least 2"),
])
def test_bad_input_is_one_line_with_exit_code_2(argv, message, digits_run, capsys):
    base = ["eval", *FAST, "--n", "20"]
    if "--model" not in argv and "--checkpoint" not in argv:
        base += ["--checkpoint", str(digits_run)]
    assert main(base + argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("eval: ")]
    assert len(err) == 1 and err[0].startswith("genae-studio: error:") and message in err[0]


def test_the_eval_options_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from genae_studio.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_the_pixel_pca_finds_a_known_subspace_and_is_cached(cache):
    """Constructed data: images that vary along two fixed pixel patterns only. Two components
    hold all the variance, and the features are the coordinates along the patterns."""
    import numpy as np

    from genae_studio.pixel_pca import fit_pixel_pca, pixel_pca

    rng = np.random.default_rng(0)
    size, n = 8, 400
    p1, p2 = np.zeros((2, 1, size, size))
    p1[0, :4] = 1  # top half
    p2[0, :, :2] = 1  # left quarter
    p2 -= (p2 * p1).sum() / (p1 * p1).sum() * p1  # orthogonal to p1
    a, b = rng.uniform(-40, 40, n), rng.uniform(-20, 20, n)
    images = np.round(128 + a[:, None, None, None] * p1 + b[:, None, None, None] * p2)
    data = ArrayDataset(images.astype(np.uint8), name="two-patterns")
    pca = fit_pixel_pca(data, dim=2)
    assert pca.explained > 0.99  # rounding to uint8 adds a little noise
    feats = pca.features(data.images)
    coords = np.stack([a, b], axis=1)
    for j in range(2):  # each component is one pattern (up to sign) in [0, 1] pixel units
        norm = np.linalg.norm((p1, p2)[j]) / 255
        assert abs(np.corrcoef(feats[:, j], coords[:, j])[0, 1]) > 0.999
        assert np.std(feats[:, j]) == pytest.approx(np.std(coords[:, j]) * norm, rel=0.02)
    first = pixel_pca(data, dim=2)
    again = pixel_pca(data, dim=2)
    assert not first.info["from_cache"] and again.info["from_cache"]
    assert np.array_equal(first.features(data.images), again.features(data.images))


def test_chains_in_batches_equal_one_batch_only_without_batch_statistics(digits_run, host):
    import torch

    run = load_run(digits_run, device="cpu", host=host)
    whole = {t: z for t, z, _ in evaluation.run_chains(run, 12, 2, bn_mode="eval", seed=4)}
    # One batch is exactly run.chain with the seed (z0 drawn first from the same stream).
    for step in run.chain(n=12, steps=2, bn_mode="eval", seed=4):
        assert torch.equal(step.z, whole[step.t])
    # Deterministic codes (the posterior mean), so only batch norm can couple the chains.
    encode = run.model.encode
    run.model.encode = lambda x, sample=True, generator=None: encode(x, sample=False)

    def zs(mode, batch):
        return [z for _, z, _ in evaluation.run_chains(run, 12, 2, bn_mode=mode, seed=4,
                                                     batch=batch)]

    for a, b in zip(zs("eval", None), zs("eval", 4), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    one, split = zs("batch", None), zs("batch", 4)
    assert torch.equal(one[0], split[0])  # the same z0...
    assert not torch.allclose(one[1], split[1], atol=1e-3)  # ...but batches of 4 couple


def test_a_plugin_datasets_binary_attribute_gets_the_interpolation_metrics():
    """The attribute comes from DatasetSpec.binary_attribute, not from a name in the core."""
    from types import SimpleNamespace

    from genae_studio.data import binary_attribute
    from genae_studio.features import Head
    from genae_studio.registry import DatasetSpec

    specs = {"smiles": DatasetSpec("smiles", "faces", load=dict, binary_attribute="smile")}
    heads = [Head("smile", "class", 2), Head("yaw", "reg")]
    extractor = SimpleNamespace(net=SimpleNamespace(
        head=lambda name: next((h for h in heads if h.name == name), None)))
    data = SimpleNamespace(name="smiles", attributes={"smile": [0, 1], "yaw": [0.1, 0.2]})
    default = binary_attribute(specs, "smiles")
    assert default == "smile"
    assert _pick_attribute(data, extractor, None, default) == "smile"
    assert _pick_attribute(data, extractor, None, None) is None  # nothing declared
    with pytest.raises(UsageError, match="no binary attribute 'yaw'"):
        _pick_attribute(data, extractor, "yaw", default)


def test_the_attribute_share_column_is_named_after_the_attribute():
    assert evaluation.columns(None) == evaluation.COLUMNS and "glasses" not in evaluation.COLUMNS
    cols = evaluation.columns("smile")
    assert cols[cols.index("ambiguous") + 1] == "smile" and len(cols) == len(evaluation.COLUMNS) + 1
    # A name that is already a column (or a row key) gets a suffix instead of clobbering it.
    assert evaluation.attribute_column("kept") == "kept_share"
    assert evaluation.attribute_column("step") == "step_share"
    assert evaluation.attribute_column(None) is None


def test_feature_spaces_builds_the_network_and_pca_from_the_training_split(host, cache,
                                                                          monkeypatch):
    spaces = evaluation.feature_spaces("digits", host, image_size=32,
                                       settings=FeatureSettings(steps=3), with_pca=True)
    train_split = resolve_dataset("digits", host.datasets, split="train", image_size=32)
    assert spaces.extractor.mode == "labels"
    assert spaces.extractor.info["train_images"] == len(train_split)
    assert spaces.pca is not None and spaces.pca.info["from_cache"] is False
    assert spaces.pca.info["cache"].split("/")[-1].startswith("digits-32px-")
    # A given network is used as it is; without with_pca there is no PCA.
    monkeypatch.setattr(features, "train_feature_net", lambda *a, **k: pytest.fail("trained"))
    again = evaluation.feature_spaces("digits", host, image_size=32,
                                      extractor=spaces.extractor)
    assert again.extractor is spaces.extractor and again.pca is None
