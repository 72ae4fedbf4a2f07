"""scripts/results_tables.py reads eval's JSON: the attribute-share column by its name
(version 3, e.g. ``sunglasses``) and by its old name ``glasses`` (versions 1-2)."""
import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "results_tables.py"


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("results_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def eval_doc(version: int, share: float) -> dict:
    key = "glasses" if version < 3 else "sunglasses"
    run = {"model": "vae", "n": 40, "attribute": "sunglasses", "pairs": 3,
           "rows": [{"kind": "chain", "step": 0, "n": 40, "mmd_data": 0.5, "fd": 9.0},
                    {"kind": "interp", "step": 0, "n": 24, "ambiguous": 0.25, key: share,
                     "max_jump": 0.4, "kept": 1.0, "end_dist": 0.1}]}
    if version >= 3:
        run["attribute_column"] = key
    return {"version": version, "settings": {"bn_mode": "batch", "points": 10}, "runs": [run]}


@pytest.mark.parametrize("version", [2, 3])
def test_the_attribute_share_column_is_read_and_labelled_by_the_attribute(tables, tmp_path,
                                                                         version):
    (tmp_path / "faces-train0-chain0.json").write_text(json.dumps(eval_doc(version, 0.375)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tables.readme_tables(tables.load(tmp_path))
    text = out.getvalue()
    assert "**faces, sunglasses interpolations** (3 pairs x 10 points)" in text
    header = next(line for line in text.splitlines() if "ambiguous" in line)
    assert header.split(" | ")[3] == "sunglasses"
    row = next(line for line in text.splitlines() if line.startswith("| VAE | 0 | 0.250"))
    assert row.split(" | ")[3] == "0.375"


def test_the_committed_tables_are_what_the_committed_raw_output_gives(tables, monkeypatch):
    """docs/results-tables.md is generated from docs/results/, never edited by hand."""
    monkeypatch.chdir(SCRIPT.parents[1])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tables.main_for(Path("docs/results"))
    assert out.getvalue() == Path("docs/results-tables.md").read_text()


# ---- version 5: samplers, the temperature sweep, controls, both MMD references ----------

def chain_row(sampler, step, fd, precision, recall, mmd=0.1, score=0.5):
    return {"kind": "chain", "sampler": sampler, "step": step, "n": 40, "fd": fd,
            "precision": precision, "recall": recall, "fd_pca": fd / 10, "mmd_data": mmd,
            "mmd_data_clean": mmd * 2, "data_score": score}


def v5_run(model, shift=0.0, t_star=1):
    """One model's run: the prior chain gets better at t = 1 (FD 60 at precision 0.7), the
    curve runs from precision 0.5 (FD 100, tau 1) to 0.9 (FD 50, tau 0.5): at precision 0.7
    it gives FD 75; the GMM's samples have FD 70, the reweighted prior's 55."""
    rows = [chain_row("prior", 0, 100 + shift, 0.5, 0.6, 1.0, 0.1),
            chain_row("prior", 1, 60 + shift, 0.7, 0.5, 0.2, 0.9),
            chain_row("prior", 5, 65 + shift, 0.75, 0.4, 0.3, 0.9),
            chain_row("gmm", 0, 70, 0.6, 0.5), chain_row("gmm", 1, 65, 0.7, 0.5),
            chain_row("reweighted", 0, 55, 0.6, 0.5), chain_row("reweighted", 1, 58, 0.7, 0.5),
            {"kind": "recon", "step": None, "n": 40, "fd": 30.0},
            {"kind": "data", "step": None, "n": 40, "fd": 5.0, "mmd_data": 0.0,
             "mmd_data_clean": 0.0, "data_score": 0.7, "precision": 0.9, "recall": 0.9},
            {"kind": "control", "control": "grey", "step": None, "n": 40, "fd": 900.0,
             "mmd_data": 2.0, "mmd_data_clean": 2.0, "data_score": 0.99, "precision": 0.0},
            {"kind": "control", "control": "blurred", "step": None, "n": 40, "fd": 40.0,
             "mmd_data": 0.05, "data_score": 0.8}]
    samplers = [{"label": s, "diagnostics": {"stopping": {"t_star": t_star}}}
                for s in ("prior", "gmm", "reweighted")]
    return {"model": model, "n": 40, "rows": rows, "samplers": samplers,
            "controls": {"blur_sigma": 1.5, "rule": "junk-blind: the rule",
                         "junk_blind": {"data_score": ["grey 0.99 vs the held-out data 0.7"]}}}


def sweep_run(model):
    rows = [chain_row("prior:temperature=0.5", 0, 50, 0.9, 0.2),
            chain_row("prior:temperature=0.8", 0, 80, 0.6, 0.5),
            chain_row("prior", 0, 100, 0.5, 0.6), chain_row("prior", 1, 60, 0.7, 0.5),
            chain_row("prior", 5, 90, 0.95, 0.1)]
    samplers = [{"label": "prior", "diagnostics": {"stopping": {"t_star": 1}}}]
    return {"model": model, "n": 40, "rows": rows, "samplers": samplers}


def write_v5(folder, train_seeds=(0, 1), chain_seeds=(0, 1, 2)):
    settings = {"bn_mode": "batch", "points": 10, "samplers": ["prior", "gmm", "reweighted"]}
    for s in train_seeds:
        for c in chain_seeds:
            doc = {"version": 5, "settings": settings,
                   "runs": [v5_run("vae", shift=c), v5_run("dvae", shift=c - 20)]}
            (folder / f"d-train{s}-chain{c}.json").write_text(json.dumps(doc))
            sweep = {"version": 5, "settings": {**settings, "bn_mode": "precise",
                                                "samplers": ["prior"]},
                     "runs": [sweep_run("vae"), sweep_run("dvae")]}
            (folder / f"d-train{s}-chain{c}-precise.json").write_text(json.dumps(sweep))


def generated(tables, folder):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tables.main_for(folder)
    return out.getvalue()


def test_equal_precision_reads_the_temperature_curve_between_bracketing_temperatures(tables):
    v = {("chain", "prior:temperature=0.5", 0, "precision"): 0.9,
         ("chain", "prior:temperature=0.5", 0, "fd"): 50.0,
         ("chain", "prior", 0, "precision"): 0.5, ("chain", "prior", 0, "fd"): 100.0,
         ("chain", "prior", 1, "precision"): 0.7, ("chain", "prior", 1, "fd"): 60.0,
         ("chain", "prior", 5, "precision"): 0.95, ("chain", "prior", 5, "fd"): 40.0}
    assert tables.equal_precision(v, 1) == pytest.approx(75.0)
    assert tables.equal_precision(v, 5) is None  # more precise than every temperature
    with pytest.raises(KeyError):
        tables.equal_precision({("chain", "prior", 1, "precision"): 0.7}, 1)


def test_v5_tables_have_controls_samplers_both_references_and_counted_claims(tables, tmp_path):
    write_v5(tmp_path)
    text = generated(tables, tmp_path)
    main = text[text.index("### d: 2 training seeds"):text.index("### d: samplers")]
    assert "chain seeds 0, 1, 2" in main
    header = next(line for line in main.splitlines() if line.startswith("| model"))
    assert "data score ⚠" in header and "MMD² to clean codes ↓" in header
    assert "FD cnn ↓ ⚠" not in header
    assert "| *grey* |" in main and "| *blurred* |" in main
    assert "data score in VAE 6 of 6, DVAE 6 of 6 evals" in main
    # mean ± sd over training seeds [chain-seed sd]: FD at t=0 is 100 + chain seed (0, 1, 2)
    assert "| VAE | 0 | 1.0000 [0.0000] | 2.0000 [0.0000] |" in main.replace(" ± 0.0000", "")
    assert "101.0 ± 0.0 [1.0]" in main
    samplers = text[text.index("### d: samplers"):text.index("### d: the temperature curve")]
    assert "| gmm, t = 1 |" in samplers and "| reweighted, t = 0 |" in samplers
    assert "| VAE | t* = 1: 6 | t* = 1: 6 | t* = 1: 6 |" in samplers
    curve = text[text.index("### d: the temperature curve"):text.index("### Claims")]
    assert "batch norm precise" in curve and "| τ = 0.5, t = 0 |" in curve
    claims = text[text.index("### Claims"):]
    vae = claims[claims.index("**VAE**"):claims.index("**DVAE**")]
    # the chain at t* = 1: FD 60 against 75 on the curve at its precision 0.7 (recall 0.5
    # against 0.35 there)
    assert "the chain at t* beats the prior at equal precision on FD cnn: 2 of 2" in vae
    assert "on recall cnn: 2 of 2" in vae
    # VAE chain at t* (FD 61 on average) against the GMM (70) and the reweighted prior (55)
    assert "lower FD cnn than gmm samples (t = 0): 2 of 2" in vae
    assert "lower FD cnn than reweighted samples (t = 0): 0 of 2" in vae
    assert "- t* of the chain from the prior: t* = 1 in 2 of 2" in vae
    # denoising: DVAE falls from 81 to 41 (49%), VAE from 101 to 61 (40%)
    assert ("- FD cnn, t = 0 to 1: DVAE falls by more than VAE in 2 of 2 (dataset, training "
            "seed) pairs (d 2 of 2); median fall DVAE 49%, VAE 40%") in claims
    assert "MMD² to clean codes falls at t = 1: 4 of 4" in claims
    flagged = next(line for line in claims.splitlines() if "data score" in line) \
        if "data score" in claims else ""
    assert flagged == "" or "not evidence" in flagged


def test_a_claim_on_a_junk_blind_measure_says_it_is_not_evidence(tables, tmp_path):
    write_v5(tmp_path, train_seeds=(0,), chain_seeds=(0,))
    for path in tmp_path.glob("d-train0-chain0.json"):
        doc = json.loads(path.read_text())
        for run in doc["runs"]:
            run["controls"]["junk_blind"] = {"fd": ["grey 1 vs the held-out data 5"]}
        path.write_text(json.dumps(doc))
    text = generated(tables, tmp_path)
    line = next(x for x in text.splitlines() if x.startswith("- FD (cnn) falls at t = 1"))
    assert line.endswith("— ⚠ FD cnn ↓ junk-blind: not evidence")


def test_version_4_files_without_controls_or_clean_codes_still_make_tables(tables, tmp_path):
    doc = {"version": 4, "settings": {"bn_mode": "batch", "points": 10, "samplers": ["prior"]},
           "runs": [{"model": "aae", "n": 40, "rows": [
               {"kind": "chain", "sampler": "prior", "step": 0, "n": 40, "fd": 9.0,
                "mmd_data": 0.5},
               {"kind": "chain", "sampler": "prior", "step": 1, "n": 40, "fd": 7.0,
                "mmd_data": 0.25}], "samplers": []}]}
    (tmp_path / "d-train0-chain0.json").write_text(json.dumps(doc))
    text = generated(tables, tmp_path)
    assert "| AAE | 0 | 0.5000 | 9.0 |\n|  | 1 | 0.2500 | 7.0 |" in text and "⚠" not in text
    assert "- FD (cnn) falls at t = 1: 1 of 1 (d 1 of 1)" in text
    assert "MMD² to clean codes" not in text
