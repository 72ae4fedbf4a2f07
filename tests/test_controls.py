"""eval's control rows (genae_studio.evaluation.controls) and the second MMD reference of
denoising models (mmd_data_clean)."""
import numpy as np
import pytest

from genae_studio import evaluation
from genae_studio.api import load_run
from genae_studio.evaluation import controls
from genae_studio.features import FeatureSettings
from genae_studio.training import TrainSettings, train

TINY = dict(epochs=1, batch_size=32, width=8, latent_dim=8, device="cpu", limit=128)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    x = np.zeros((5, 3, 16, 16), np.uint8)
    x[:, :, 4:12, 4:12] = rng.integers(100, 256, (5, 3, 8, 8))  # structure: a bright square
    return x


def test_noise_and_grey_are_what_they_say(images):
    noise = controls.control_images("noise", images, seed=1)
    grey = controls.control_images("grey", images)
    assert noise.shape == grey.shape == images.shape and noise.dtype == grey.dtype == np.uint8
    assert noise.min() < 20 and noise.max() > 235 and 110 < noise.mean() < 145
    assert (grey == 128).all()
    np.testing.assert_array_equal(noise, controls.control_images("noise", images, seed=1))


def test_shuffling_permutes_each_images_pixels_and_keeps_their_colours(images):
    shuffled = controls.control_images("shuffled", images, seed=0)
    assert not np.array_equal(shuffled, images)
    for a, b in zip(images, shuffled, strict=True):
        pixels = {tuple(p) for p in a.reshape(3, -1).T}
        assert sorted(map(tuple, a.reshape(3, -1).T)) == sorted(map(tuple, b.reshape(3, -1).T))
        assert {tuple(p) for p in b.reshape(3, -1).T} == pixels  # RGB triplets kept together
    # one permutation per image, not one for all: equal images come out different
    same = controls.control_images("shuffled", np.repeat(images[:1], 2, axis=0), seed=0)
    assert not np.array_equal(same[0], same[1])


def test_blurring_smooths_and_keeps_the_mean(images):
    blurred = controls.control_images("blurred", images).astype(float)

    def roughness(x):
        return np.abs(np.diff(x, axis=-1)).mean()

    assert roughness(blurred) < 0.7 * roughness(images.astype(float))
    assert blurred.mean() == pytest.approx(images.mean(), rel=0.02)
    with pytest.raises(ValueError, match="unknown control"):
        controls.control_images("sepia", images)


def rows(**controls_at):
    """Rows of one run: chain t=0,1, the data row, and junk/blurred controls."""
    out = [{"kind": "chain", "sampler": "prior", "step": 0, "data_score": 0.1, "fd": 90.0,
            "mmd_data": 1.0, "mmd_prior": 0.0},
           {"kind": "chain", "sampler": "prior", "step": 1, "data_score": 0.9, "fd": 50.0,
            "mmd_data": 0.1, "mmd_prior": 1.0},
           {"kind": "chain", "sampler": "gmm", "step": 1, "data_score": 0.2, "fd": 40.0,
            "mmd_data": 0.1, "mmd_prior": 1.0},
           {"kind": "data", "step": None, "data_score": 0.7, "fd": 5.0, "mmd_data": 0.0,
            "mmd_prior": 1.0}]
    for name, values in controls_at.items():
        out.append({"kind": "control", "control": name, "step": None, **values})
    return out


def test_a_measure_that_scores_junk_like_data_is_junk_blind():
    found = controls.junk_blind(rows(
        grey={"data_score": 0.95, "fd": 300.0, "mmd_data": 0.8, "mmd_prior": 0.0},
        noise={"data_score": 0.3, "fd": 400.0, "mmd_data": 0.9, "mmd_prior": 0.0}))
    # grey beats the chain at t=1 (0.9) and the held-out data (0.7) on the data score
    assert set(found) == {"data_score"}
    assert found["data_score"] == ["grey 0.95 vs the chain at t = 1 (prior) 0.9",
                                   "grey 0.95 vs the held-out data 0.7"]


def test_junk_as_data_like_as_held_out_data_alone_is_enough_and_ties_count():
    found = controls.junk_blind(rows(shuffled={"data_score": 0.7, "fd": 50.0}))
    assert found == {"data_score": ["shuffled 0.7 vs the held-out data 0.7"],
                     "fd": ["shuffled 50 vs the chain at t = 1 (prior) 50"]}


def test_blurred_images_and_measures_without_a_direction_are_never_flagged():
    assert controls.junk_blind(rows(blurred={"data_score": 1.0, "fd": 1.0, "mmd_data": 0.0},
                                     grey={"mmd_prior": 5.0})) == {}
    assert controls.direction("fd_pca") == -1 and controls.direction("precision_inception") == 1
    assert controls.direction("mmd_prior") is None and controls.direction("ambiguous") is None


def test_the_chain_compared_with_is_the_named_samplers():
    junk = {"grey": {"fd": 45.0}}
    assert "fd" in controls.junk_blind(rows(**junk))  # 45 <= prior's 50
    assert controls.junk_blind(rows(**junk), sampler="gmm") == {}  # 45 > gmm's 40


@pytest.fixture(scope="module")
def dvae(tmp_path_factory, host):
    out = tmp_path_factory.mktemp("digits-dvae")
    train(TrainSettings(model="dvae", data="digits", **TINY), out, host=host)
    return load_run(out, device="cpu", host=host)


def test_denoising_models_get_a_clean_reference_and_control_rows_scored_like_chain_rows(
        dvae, host, tmp_path, monkeypatch):
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path / "cache"))
    ref = evaluation.build_reference(dvae, n=40, host=host,
                                     feature_settings=FeatureSettings(steps=5))
    images = ref.heldout.batch(np.arange(len(ref.codes)))
    # codes: corrupted images (Eq. 2's P^(Z)); clean_codes: the same images without noise
    np.testing.assert_array_equal(ref.codes, evaluation.encode_heldout(dvae, images, seed=0))
    np.testing.assert_array_equal(
        ref.clean_codes, evaluation.encode_heldout(dvae, images, seed=0, corrupt=False))
    assert not np.allclose(ref.codes, ref.clean_codes)
    result = evaluation.evaluate_run(dvae, ref, [0, 1], label="dvae", data="digits")
    chain = [r for r in result["rows"] if r["kind"] == "chain"]
    assert all(r["mmd_data_clean"] != r["mmd_data"] for r in chain)
    from genae_studio import metrics

    data = next(r for r in result["rows"] if r["kind"] == "data")
    assert data["mmd_data_clean"] == pytest.approx(
        metrics.mmd2_unbiased(ref.other_clean_codes, ref.clean_codes, ref.kernel))
    # Each control row is step_metrics of its images and of their codes (encoded as the
    # chain encodes: corrupted), at the chain rows' n.
    got = {r["control"]: r for r in result["rows"] if r["kind"] == "control"}
    assert list(got) == ["noise", "grey", "shuffled", "blurred"]
    other = ref.other.batch(np.arange(len(ref.other)))
    x = controls.control_images("grey", other, 0)
    z = evaluation.encode_heldout(dvae, x, seed=2)
    expected = evaluation.step_metrics(ref, z, x)
    assert got["grey"]["n"] == chain[0]["n"] == 40
    for col in ("mmd_data", "mmd_data_clean", "data_score", "fd", "kid", "precision"):
        assert got["grey"][col] == pytest.approx(expected[col], rel=1e-6, abs=1e-9)
    assert result["controls"]["junk_blind"] == controls.junk_blind(result["rows"], "prior")
    assert result["controls"]["blur_sigma"] == controls.BLUR_SIGMA
    assert "control" not in {r["kind"] for r in evaluation.evaluate_run(
        dvae, ref, [0], label="dvae", data="digits", controls=())["rows"]}


def test_in_batch_mode_every_temperature_decodes_to_the_same_images_and_eval_says_so(
        dvae, tmp_path, monkeypatch, capsys):
    """The decoder's first layer is followed by batch norm: with batch statistics, z and
    0.5 z decode to the same images, so a temperature sweep only means something with
    running or precise statistics."""
    from genae_studio.cli import main

    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "sweep.json"
    argv = ["eval", "--checkpoint", str(dvae.path), "--steps", "0", "--n", "40",
            "--temperatures", "0.5", "--features", "cnn", "--feature-steps", "5",
            "--device", "cpu", "--json", str(out)]
    assert main(argv) == 0
    assert "normalises away any global scale of z" in capsys.readouterr().err
    import json

    rows = {r["sampler"]: r for r in json.loads(out.read_text())["runs"][0]["rows"]
            if r["kind"] == "chain"}
    assert rows["prior:temperature=0.5"]["fd"] == pytest.approx(rows["prior"]["fd"], rel=1e-3)
    assert rows["prior:temperature=0.5"]["mmd_prior"] > rows["prior"]["mmd_prior"] + 0.05
    assert main([*argv, "--bn-mode", "eval"]) == 0
    assert "normalises away" not in capsys.readouterr().err
    import torch

    z = torch.randn(32, dvae.model.latent_dim, generator=torch.Generator().manual_seed(0))
    same = dvae.decode(z, bn_mode="batch") - dvae.decode(0.5 * z, bn_mode="batch")
    assert float(same.abs().max()) < 1e-3
