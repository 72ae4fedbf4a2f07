"""Markdown tables of the eval JSON files that scripts/reproduce_results.sh writes.

    python scripts/results_tables.py out/results > docs/results-tables.md
    python scripts/results_tables.py docs/results > docs/results-tables.md  # the committed run

Reads eval JSON versions 1 to 5 (rows without a ``sampler`` are the prior's; files without
control rows or samplers simply lack those tables).

Main tables: for each dataset, model and step, ``mean ± sd [c]``: the mean and standard
deviation over training seeds of each trained model's value (itself the mean over chain
seeds), and in brackets the chain-seed spread (the mean over trained models of the standard
deviation over chain seeds). Below the chain from the prior: the floors and the control rows
(junk images scored like samples); a column marked ⚠ is junk-blind (eval's rule: some junk
control scored at least as data-like as the chain at t = 1 or the held-out data) and is never
evidence. Then the sampler comparison (the temperature sweep at t = 0, each sampler followed by
the chain), the stopping steps, the claims counted over the trained models, the interpolation
measures, the batch-norm study, the library versions and thread count.
"""
import json
import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

MAIN = ["mmd_data", "mmd_data_clean", "mmd_prior", "data_score", "fd", "kid", "precision",
        "recall", "density", "coverage", "fd_pca", "precision_pca", "recall_pca"]
SAMPLER_COLS = ["mmd_data_clean", "fd", "kid", "precision", "recall", "density", "coverage",
                "fd_pca", "recall_pca"]
CONTROLS = ["noise", "grey", "shuffled", "blurred"]
SHARE = "attribute share"  # stands for the column of the share predicted to have the attribute
INTERP = ["ambiguous", SHARE, "max_jump", "kept", "end_dist"]
LABELS = {"mmd_data": "MMD² to P^(Z) ↓", "mmd_data_clean": "MMD² to clean codes ↓",
          "mmd_prior": "MMD² to P(Z)", "data_score": "data score", "fd": "FD cnn ↓",
          "kid": "KID cnn ↓", "precision": "prec. cnn", "recall": "recall cnn",
          "density": "density cnn", "coverage": "coverage cnn", "fd_pca": "FD pca ↓",
          "precision_pca": "prec. pca", "recall_pca": "recall pca", "kid_pca": "KID pca ↓",
          "density_pca": "density pca", "coverage_pca": "coverage pca",
          "ambiguous": "ambiguous ↓", "max_jump": "largest jump ↓",
          "kept": "endpoints kept ↑", "end_dist": "endpoint distance ↓"}
MODELS = ["vae", "dvae", "aae", "daae"]
PRIOR = "prior"
FLAG = " ⚠"


def digits_for(col):
    return 4 if col.startswith("mmd") else 1 if col.startswith("fd") else \
        3 if col in INTERP or col.startswith("kid") else 2


def share_column(run):
    """The rows' key of the attribute-share column: since eval's JSON version 3 it is named
    after the attribute (``attribute_column``, e.g. sunglasses); before, ``glasses``."""
    return run.get("attribute_column") or "glasses"


def key_of(run, col):
    return share_column(run) if col == SHARE else col


def labels_for(doc):
    """Column labels; the attribute-share column is labelled with the attribute's name."""
    return {**LABELS, SHARE: doc["runs"][0].get("attribute") or "attribute"}


def load(out: Path, mode: str | None = None):
    """{data: {train_seed: {chain_seed: doc}}} for the main runs (DATA-trainS-chainC.json), or
    with ``mode`` the temperature-sweep runs in that batch-norm mode (...-chainC-MODE.json)."""
    docs = defaultdict(lambda: defaultdict(dict))
    tail = rf"-{re.escape(mode)}\.json" if mode else r"\.json"
    for path in sorted(out.glob("*-train*-chain*.json")):
        m = re.fullmatch(r"(.+)-train(\d+)-chain(\d+)" + tail, path.name)
        if m:
            docs[m[1]][int(m[2])][int(m[3])] = json.loads(path.read_text())
    return docs


def sweep_modes(out: Path):
    """The batch-norm modes of the temperature-sweep runs present."""
    return sorted({m[1] for p in out.glob("*-train*-chain*-*.json")
                   if (m := re.fullmatch(r".+-train\d+-chain\d+-([a-z]+)\.json", p.name))})


def row_label(row):
    """A chain row's sampler (the prior in files before version 4), a control row's control,
    else None."""
    if row["kind"] == "chain":
        return row.get("sampler") or PRIOR
    if row["kind"] == "control":
        return row.get("control")
    return None


def value(doc, model, kind, step, col, label=None):
    label = label or (PRIOR if kind == "chain" else None)
    for run in doc["runs"]:
        if run["model"] == model:
            for row in run["rows"]:
                if row["kind"] == kind and row["step"] == step and row_label(row) == label:
                    v = row.get(key_of(run, col))
                    return None if v is None or v != v else v
    return None


def per_model(seeds, model, kind, step, col, label=None):
    """[mean over chain seeds for each training seed], [sd over chain seeds ...]."""
    means, spreads = [], []
    for chains in seeds.values():
        vals = [v for d in chains.values()
                if (v := value(d, model, kind, step, col, label)) is not None]
        if vals:
            means.append(statistics.fmean(vals))
            if len(vals) > 1:
                spreads.append(statistics.stdev(vals))
    return means, spreads


def cell(means, spreads, col):
    if not means:
        return ""
    d = digits_for(col)
    text = f"{statistics.fmean(means):.{d}f}"
    if len(means) > 1:
        text += f" ± {statistics.stdev(means):.{d}f}"
    if spreads:
        text += f" [{statistics.fmean(spreads):.{d}f}]"
    return text


def first_doc(seeds):
    return next(iter(next(iter(seeds.values())).values()))


def steps_of(seeds, kind="chain", label=None):
    label = label or (PRIOR if kind == "chain" else None)
    doc = first_doc(seeds)
    return sorted({r["step"] for r in doc["runs"][0]["rows"]
                   if r["kind"] == kind and row_label(r) == label})


def kinds_present(seeds, kind):
    return {row_label(r) for r in first_doc(seeds)["runs"][0]["rows"] if r["kind"] == kind}


def table(seeds, kind, cols, rows_for, labels=LABELS, flagged=()):
    """A Markdown table: a block of rows per model (``rows_for(kind)`` gives (text, kind,
    step, label) for each); columns with no value anywhere are left out, junk-blind ones
    (``flagged``) marked."""
    lines = []
    for model in MODELS:
        for text, k, step, label in rows_for(kind):
            cells = [cell(*per_model(seeds, model, k, step, c, label), c) for c in cols]
            if any(cells):
                lines.append((model, text, cells))
    keep = [i for i in range(len(cols)) if any(c[i] for _, _, c in lines)]
    print("| model | t | " + " | ".join(labels[cols[i]] + (FLAG if cols[i] in flagged else "")
                                       for i in keep) + " |")
    print("|---" * (2 + len(keep)) + "|")
    shown = None
    for model, text, cells in lines:
        name = model.upper() if model != shown else ""
        shown = model
        print(f"| {name} | {text} | " + " | ".join(cells[i] for i in keep) + " |")


def junk_blind(seeds):
    """{measure: Counter(model: number of evals in which it was junk-blind)}, and the number
    of evals per model."""
    found, evals = defaultdict(Counter), Counter()
    for chains in seeds.values():
        for doc in chains.values():
            for run in doc["runs"]:
                if "controls" not in run:
                    continue
                evals[run["model"]] += 1
                for col in run["controls"].get("junk_blind") or {}:
                    found[col][run["model"]] += 1
    return found, evals


def main_tables(docs):
    for data, seeds in docs.items():
        doc = first_doc(seeds)
        chain_seeds = sorted({c for chains in seeds.values() for c in chains})
        print(f"\n### {data}: {len(seeds)} training seed{'s' * (len(seeds) > 1)} "
              f"({', '.join(map(str, sorted(seeds)))}), chain seeds "
              f"{', '.join(map(str, chain_seeds))}, n = {doc['runs'][0]['n']}, "
              f"batch norm {doc['settings']['bn_mode']}\n")
        present = kinds_present(seeds, "control")
        flags, evals = junk_blind(seeds)

        def chain_rows(kind, seeds=seeds, present=present):
            return [(str(s), "chain", s, PRIOR) for s in steps_of(seeds)] + [
                ("recon.", "recon", None, None), ("held-out", "data", None, None)] + [
                (f"*{c}*", "control", None, c) for c in CONTROLS if c in present]

        table(seeds, "chain", MAIN, chain_rows, flagged=flags)
        if present:
            controls_note(doc, flags, evals)
        if any(r["kind"] == "interp" for r in doc["runs"][0]["rows"]):
            labels = labels_for(doc)
            print(f"\n{data}: interpolations between held-out images without and with "
                  f"{labels[SHARE]} ({doc['runs'][0].get('pairs')} pairs, "
                  f"{doc['settings']['points']} points)\n")
            table(seeds, "interp", INTERP,
                  lambda kind, seeds=seeds: [(str(s), "interp", s, None)
                                             for s in steps_of(seeds, "interp")], labels)


def controls_note(doc, flags, evals):
    info = next((r["controls"] for r in doc["runs"] if "controls" in r), {})
    print(f"\nRows in italics are controls, scored like samples: uniform noise, flat grey, "
          f"pixel-shuffled and blurred (Gaussian, sigma {info.get('blur_sigma', '?')} px) "
          "held-out images; image measures score the images, latent measures their codes. "
          f"MMD² to P^(Z) is against codes of corrupted held-out images for the denoising "
          f"models (Eq. 2), MMD² to clean codes against codes of clean ones for every model "
          f"(the same kind of reference for all four: the one to compare models with).")
    if not flags:
        print("\nNo measure is junk-blind here.")
        return
    print(f"\n⚠ junk-blind ({info.get('rule', 'see eval')}), never evidence: " + "; ".join(
        f"{LABELS.get(col, col)} in " + ", ".join(
            f"{m.upper()} {by[m]} of {evals[m]}" for m in MODELS if by[m])
        + " evals" for col, by in sorted(flags.items())) + ".")


def sweep_labels(seeds):
    """The temperature sweep's labels, sorted by temperature: [(temperature, label)]."""
    found = []
    for label in kinds_present(seeds, "chain"):
        m = re.fullmatch(rf"{PRIOR}:temperature=([0-9.eE+-]+)", label or "")
        if m:
            found.append((float(m[1]), label))
    return sorted(found)


def samplers_of(seeds):
    """The samplers followed by the chain (more than one step), in the eval's order."""
    doc = first_doc(seeds)
    order = doc["settings"].get("samplers") or [PRIOR]
    return [s for s in order if len(steps_of(seeds, "chain", s)) > 1 or s == PRIOR]


def sampler_tables(docs, mode=None):
    for data, seeds in docs.items():
        sweep = sweep_labels(seeds)
        samplers = samplers_of(seeds)
        if not sweep and samplers == [PRIOR]:
            continue
        flags, _ = junk_blind(seeds)
        bn = first_doc(seeds)["settings"]["bn_mode"]
        print(f"\n### {data}: " + (f"the temperature curve and the chain, batch norm {bn}\n"
                                   if mode else "samplers, each followed by the chain\n"))
        if mode:
            print("With batch statistics (the main tables) the decoder's first batch norm "
                  "cancels any global scale of z, so every temperature decodes to the same "
                  f"images; the curve is therefore measured with {bn} statistics, beside the "
                  "chain from the prior in the same mode.\n")
        print("The prior at lower temperatures (t = 0 only) traces what truncation alone does; "
              "`gmm` is a Gaussian mixture fitted on encoded training codes, `reweighted` prior "
              "draws resampled by a prior-vs-encoded-data classifier's tempered importance "
              "weights. Same n, seeds and reference for every row.\n")

        def rows(kind, seeds=seeds, sweep=sweep, samplers=samplers):
            out = [(f"τ = {t:g}, t = 0", "chain", 0, label) for t, label in sweep]
            for s in samplers:
                out += [(f"{s}, t = {t}", "chain", t, s) for t in steps_of(seeds, "chain", s)]
            return out

        table(seeds, "chain", SAMPLER_COLS, rows, flagged=flags)
        stopping_table(seeds, samplers)


def t_stars(doc, model, label):
    for run in doc["runs"]:
        if run["model"] == model:
            for s in run.get("samplers") or []:
                stop = (s.get("diagnostics") or {}).get("stopping") or {}
                if s["label"] == label and stop.get("t_star") is not None:
                    return stop["t_star"]
    return None


def stopping_table(seeds, samplers):
    print("\nRecommended stopping step t* (eval's diagnostics: the earliest measured step "
          "with FD within 5% of the lowest and not before the chains' summaries settle), "
          "counted over trained models x chain seeds:\n")
    print("| model | " + " | ".join(samplers) + " |")
    print("|---" * (1 + len(samplers)) + "|")
    for model in MODELS:
        cells = []
        for s in samplers:
            found = Counter(t for chains in seeds.values() for d in chains.values()
                            if (t := t_stars(d, model, s)) is not None)
            cells.append(", ".join(f"t* = {t}: {k}" for t, k in sorted(found.items())))
        if any(cells):
            print(f"| {model.upper()} | " + " | ".join(cells) + " |")


def units(docs):
    """(data, training seed, model, {(kind, label, step, col): mean over chain seeds, and
    ("t_star", label): the t* most often chosen over chain seeds (the smaller on a tie)})."""
    for data, seeds in docs.items():
        for seed, chains in sorted(seeds.items()):
            for model in MODELS:
                vals, stars = defaultdict(list), defaultdict(list)
                for d in chains.values():
                    for run in d["runs"]:
                        if run["model"] != model:
                            continue
                        for row in run["rows"]:
                            for col in MAIN + INTERP:
                                v = row.get(key_of(run, col))
                                if v is not None and v == v:
                                    vals[(row["kind"], row_label(row), row["step"], col)].append(v)
                        for s in run.get("samplers") or []:
                            if (t := t_stars(d, model, s["label"])) is not None:
                                stars[s["label"]].append(t)
                if vals:
                    v = {k: statistics.fmean(x) for k, x in vals.items()}
                    for label, ts in stars.items():
                        counts = Counter(ts)
                        v[("t_star", label)] = min(counts, key=lambda t: (-counts[t], t))
                    yield data, seed, model, v


def chain(v, step, col, label=PRIOR):
    return v[("chain", label, step, col)]


def equal_precision(v, step, col="fd"):
    """``col`` of the temperature curve at the chain's precision at ``step``: the curve is the
    prior at t = 0 at every swept temperature and at 1, in order of temperature; the value is
    interpolated linearly between the two neighbouring temperatures whose precisions bracket
    the chain's, taking the highest such temperatures. None when no temperatures bracket it
    (the chain is more precise than every temperature, or less than the prior itself)."""
    curve = sorted((float(k[1].split("=")[1]), k[1]) for k in v
                   if k[0] == "chain" and k[2] == 0 and k[3] == "precision"
                   and str(k[1]).startswith(f"{PRIOR}:temperature="))
    if not curve:
        raise KeyError("no temperature sweep")
    labels = [label for _, label in curve] + [PRIOR]
    points = [(v[("chain", lb, 0, "precision")], v[("chain", lb, 0, col)]) for lb in labels]
    target = chain(v, step, "precision")
    for (p0, c0), (p1, c1) in reversed(list(zip(points, points[1:], strict=False))):
        if min(p0, p1) <= target <= max(p0, p1):
            w = 0.5 if p0 == p1 else (target - p0) / (p1 - p0)
            return c0 + w * (c1 - c0)
    return None


class Counts:
    """A claim counted over trained models: hits, misses, and the units it could not judge."""

    def __init__(self, all_units, flagged):
        self.units, self.flagged = all_units, flagged

    def count(self, name, test, cols=()):
        """Print ``name: hits of total`` (per dataset, and the exceptions); ``test(v)`` returns
        True, False or None (cannot be judged: counted apart)."""
        hits, misses, undecided = [], [], 0
        per_data, per_model = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for data, seed, model, v in self.units:
            try:
                ok = test(v)
            except (KeyError, TypeError, ValueError):  # a value or step not measured
                continue
            if ok is None:
                undecided += 1
                continue
            (hits if ok else misses).append(f"{data} {model.upper()} seed {seed}")
            for tally in (per_data[data], per_model[model]):
                tally[0] += bool(ok)
                tally[1] += 1
        total = len(hits) + len(misses)
        if not total and not undecided:
            return
        split = "; ".join(f"{d} {h} of {n}" for d, (h, n) in per_data.items())
        text = f"- {name}: {len(hits)} of {total}" + (f" ({split})" if split else "")
        if 0 < len(misses) <= len(hits) and len(misses) <= 6:
            text += f"; not: {', '.join(misses)}"
        elif 0 < len(hits) < len(misses) and len(hits) <= 6:
            text += f"; only: {', '.join(hits)}"
        elif hits and misses:
            text += "; by model: " + ", ".join(f"{m.upper()} {h} of {n}"
                                               for m, (h, n) in per_model.items())
        if undecided:
            text += f"; {undecided} could not be judged"
        blind = [LABELS.get(c, c) for c in cols if c in self.flagged]
        if blind:
            text += f" — ⚠ {', '.join(blind)} junk-blind: not evidence"
        print(text)


def claims(docs, sweeps=None):
    """Each claim counted over the trained models (values: mean over chain seeds); the
    equal-precision claims from the first temperature-sweep mode in ``sweeps`` if any."""
    all_units = list(units(docs))
    flagged = {c for seeds in docs.values() for c in junk_blind(seeds)[0]}
    print(f"\n### Claims, counted over {len(all_units)} trained models\n")
    counts = Counts(all_units, flagged)
    count = counts.count
    steps = sorted({k[2] for _, _, _, v in all_units for k in v
                    if k[0] == "chain" and k[1] == PRIOR})

    def best(v, col):
        return min((s for s in steps if ("chain", PRIOR, s, col) in v),
                   key=lambda s: chain(v, s, col))

    for space in ("fd", "fd_pca"):
        name = "cnn" if space == "fd" else "pca"
        count(f"FD ({name}) falls at t = 1", lambda v, s=space: chain(v, 1, s)
              < chain(v, 0, s), [space])
        count(f"FD ({name}) at t = 5 below t = 0", lambda v, s=space: chain(v, 5, s)
              < chain(v, 0, s), [space])
        count(f"FD ({name}) at t = 20 above its lowest value (drift)",
              lambda v, s=space: chain(v, 20, s) > chain(v, best(v, s), s), [space])
        count(f"FD ({name}) at t = 20 worse than at t = 0",
              lambda v, s=space: chain(v, 20, s) > chain(v, 0, s), [space])
        count(f"FD ({name}) lowest at t = 1 or 2", lambda v, s=space: best(v, s) in (1, 2),
              [space])
        count(f"FD ({name}) lowest at t = 3 to 10",
              lambda v, s=space: 3 <= best(v, s) <= 10, [space])
    count("FD falls at t = 1 in both spaces", lambda v: chain(v, 1, "fd") < chain(v, 0, "fd")
          and chain(v, 1, "fd_pca") < chain(v, 0, "fd_pca"), ["fd", "fd_pca"])
    for col in ("mmd_data", "mmd_data_clean"):
        label = LABELS[col].rstrip(" ↓")
        count(f"{label} falls at t = 1", lambda v, c=col: chain(v, 1, c) < chain(v, 0, c), [col])
        count(f"{label} at t = 5 below t = 0", lambda v, c=col: chain(v, 5, c)
              < chain(v, 0, c), [col])
        count(f"{label} at t = 20 above its lowest value",
              lambda v, c=col: chain(v, 20, c) > chain(v, best(v, c), c), [col])
        count(f"{label} at t = 20 above t = 0", lambda v, c=col: chain(v, 20, c)
              > chain(v, 0, c), [col])
    count("recall (cnn) at t = 20 below t = 1", lambda v: chain(v, 20, "recall")
          < chain(v, 1, "recall"), ["recall"])
    count("recall (pca) at t = 20 below t = 1", lambda v: chain(v, 20, "recall_pca")
          < chain(v, 1, "recall_pca"), ["recall_pca"])
    count("precision (cnn) at t = 5 above t = 0", lambda v: chain(v, 5, "precision")
          > chain(v, 0, "precision"), ["precision"])
    count("interpolations: ambiguous share falls from t = 0 to t = 5",
          lambda v: v[("interp", None, 5, "ambiguous")] < v[("interp", None, 0, "ambiguous")])
    count("interpolations: endpoints kept at t = 5 at least 90%",
          lambda v: v[("interp", None, 5, "kept")] >= 0.9)
    count("interpolations: largest jump at t = 5 above t = 0",
          lambda v: v[("interp", None, 5, "max_jump")] > v[("interp", None, 0, "max_jump")])
    mode, sweep_docs = next(iter((sweeps or {}).items()), (None, docs))
    sampler_claims(counts.flagged, all_units, list(units(sweep_docs)), mode)
    denoising_claims(all_units)


def star(v):
    return v[("t_star", PRIOR)]


def sampler_claims(flagged, all_units, sweep_units, mode=None):
    """The chain against the alternatives, per model: against the temperature curve (from
    ``sweep_units``, measured in batch-norm ``mode``) at the chain's t* and at t = 1, in the
    same mode; against the GMM and the reweighted prior (main runs) at t*."""
    if not any(k[0] == "t_star" or "temperature=" in str(k[1]) or k[1] in ("gmm", "reweighted")
               for _, _, _, v in all_units + sweep_units for k in v):
        return
    where = f"batch norm {mode}, the chain from the prior in the same mode" if mode else \
        "the main runs' batch norm"
    print("\nThe chain against the other samplers. *Equal precision*: the temperature curve "
          f"(the prior at t = 0 at each swept temperature and at 1; {where}) is read at the "
          "chain's precision (cnn) by linear interpolation between the neighbouring "
          "temperatures that bracket it; a trained model whose chain is more precise than "
          "every temperature, or less than the prior, cannot be judged. Precision only places "
          "the chain on the curve; the evidence is FD (and recall). t*: the prior chain's "
          "recommended stopping step, the one chosen most often over chain seeds.\n")
    for model in MODELS:
        mine = [u for u in all_units if u[2] == model]
        swept = [u for u in sweep_units if u[2] == model]
        if not mine and not swept:
            continue
        print(f"**{model.upper()}**\n")
        equal_precision_claims(Counts(swept, flagged))
        sub = Counts(mine, flagged)
        for other in ("gmm", "reweighted"):
            for col in ("fd", "fd_pca"):
                name = LABELS[col].rstrip(" ↓")
                sub.count(f"the chain from the prior at t* has lower {name} than {other} "
                          f"samples (t = 0)", lambda v, c=col, o=other: chain(v, star(v), c)
                          < chain(v, 0, c, o), [col])
            sub.count(f"{other} followed by 1 chain step has lower FD (cnn) than {other} alone",
                      lambda v, o=other: chain(v, 1, "fd", o) < chain(v, 0, "fd", o), ["fd"])
        found = Counter(star(v) for *_, v in mine if ("t_star", PRIOR) in v)
        if found:
            print("- t* of the chain from the prior: " + ", ".join(
                f"t* = {t} in {k}" for t, k in sorted(found.items())) + f" of {len(mine)}")
        print()


def equal_precision_claims(counts):
    for when, step in (("t*", star), ("t = 1", lambda v: 1)):
        for col in ("fd", "recall"):
            better = (lambda a, b: a < b) if col == "fd" else (lambda a, b: a > b)
            counts.count(f"the chain at {when} beats the prior at equal precision on "
                         f"{LABELS[col].rstrip(' ↓')}",
                         lambda v, st=step, c=col, b=better: None
                         if (e := equal_precision(v, st(v), c)) is None
                         else b(chain(v, st(v), c), e), [col])


def denoising_claims(all_units):
    """Denoising as changes from each model's own t = 0, against its plain twin of the same
    dataset and training seed; MMD² against clean codes, the same kind of reference for
    both."""
    by = {(d, s, m): v for d, s, m, v in all_units}
    cols = [c for c in ("fd", "fd_pca", "mmd_data_clean")
            if any(("chain", PRIOR, 0, c) in v for v in by.values())]
    lines = []
    for plain, noisy in (("vae", "dvae"), ("aae", "daae")):
        for col in cols:
            for t in (1, 5):
                rel = {m: [] for m in (plain, noisy)}
                per_data = defaultdict(lambda: [0, 0])
                for (d, s, m), v in by.items():
                    twin = by.get((d, s, plain))
                    if m != noisy or twin is None:
                        continue
                    try:
                        drops = [1 - chain(u, t, col) / chain(u, 0, col) for u in (v, twin)]
                    except (KeyError, ZeroDivisionError):
                        continue
                    rel[noisy].append(drops[0])
                    rel[plain].append(drops[1])
                    per_data[d][0] += drops[0] > drops[1]
                    per_data[d][1] += 1
                if per_data:
                    larger, pairs = (sum(c[i] for c in per_data.values()) for i in (0, 1))
                    split = "; ".join(f"{d} {h} of {n}" for d, (h, n) in per_data.items())
                    lines.append(
                        f"- {LABELS[col].rstrip(' ↓')}, t = 0 to {t}: {noisy.upper()} falls "
                        f"by more than {plain.upper()} in {larger} of {pairs} (dataset, "
                        f"training seed) pairs ({split}); median fall {noisy.upper()} "
                        f"{statistics.median(rel[noisy]):.0%}, {plain.upper()} "
                        f"{statistics.median(rel[plain]):.0%}")
    if lines:
        print("\nDenoising, as changes from each model's own t = 0 (fall = 1 - value at t / "
              "value at 0; MMD² against codes of clean held-out images for both models):\n")
        print("\n".join(lines))


def bn_study(out: Path):
    files = sorted(out.glob("*-bn-*.json"))
    if not files:
        return
    print("\n### Batch norm: batch size, running and precise statistics (training seed 0, "
          "chain seed 0)\n")
    print("`batch nN`: n = N chains in one batch (the operator and the metrics' sample size "
          "change); `batch bB`: the full n in independent batches of B (only the operator "
          "changes); `eval`: running statistics from training; `precise`: statistics "
          "re-estimated on 200 training batches (batch-independent).\n")
    cols = ["mmd_data", "fd", "fd_pca", "recall"]
    for data in sorted({p.name.split("-bn-")[0] for p in files}):
        variants = []
        for p in files:
            if p.name.startswith(f"{data}-bn-"):
                variants.append((p.stem.split("-bn-")[1], json.loads(p.read_text())))
        main = out / f"{data}-train0-chain0.json"
        if main.is_file():
            variants.append(("batch (main table)", json.loads(main.read_text())))
        order = {"batch-n16": 0, "batch-n64": 1, "batch-n256": 2, "batch (main table)": 3,
                 "batch-b16": 4, "batch-b64": 5, "batch-b256": 6, "eval": 7, "precise": 8}
        variants.sort(key=lambda v: order.get(v[0], 99))
        for t in (0, 1, 5, 10):
            print(f"\n**{data}, t = {t}** (each cell: {', '.join(LABELS[c] for c in cols)})\n")
            print("| setting | n | batch | " + " | ".join(m.upper() for m in MODELS) + " |")
            print("|---|---|---|" + "---|" * len(MODELS))
            for name, doc in variants:
                run0 = doc["runs"][0]
                cells = []
                for m in MODELS:
                    vals = [value(doc, m, "chain", t, c) for c in cols]
                    cells.append("" if all(v is None for v in vals) else " / ".join(
                        "" if v is None else f"{v:.{digits_for(c)}f}"
                        for v, c in zip(vals, cols, strict=True)))
                print(f"| {name.replace('-', ' ')} | {run0['n']} | "
                      f"{run0.get('chain_batch', run0['n'])} | " + " | ".join(cells) + " |")


def environment(out: Path):
    envs = defaultdict(list)
    for p in sorted(out.glob("*.json")):
        env = json.loads(p.read_text()).get("environment")
        if env:
            envs[json.dumps(env, sort_keys=True)].append(p.stem)
    if envs:
        print("\n### Environment\n")
        for env, stems in envs.items():
            e = json.loads(env)
            print(f"- genae-studio {e['genae_studio']}, torch {e['torch']}, numpy {e['numpy']}, "
                  f"scipy {e['scipy']}, Python {e['python']}, {e['threads']} thread(s), "
                  f"{e['processor']}: {len(stems)} eval file(s)")


def readme_tables(docs):
    """Fewer steps and columns: what the README shows."""
    cols = ["mmd_data", "mmd_data_clean", "fd", "recall", "fd_pca", "recall_pca"]
    for data, seeds in docs.items():
        doc = first_doc(seeds)
        chain_seeds = sorted({c for chains in seeds.values() for c in chains})
        print(f"\n**{data}** ({len(seeds)} training seed{'s' * (len(seeds) > 1)} x "
              f"{len(chain_seeds)} chain seed{'s' * (len(chain_seeds) > 1)}, "
              f"n = {doc['runs'][0]['n']} chains)\n")
        wanted = [s for s in steps_of(seeds) if s in (0, 1, 2, 5, 10, 20)]

        def rows(kind, wanted=wanted):
            return [(str(s), "chain", s, PRIOR) for s in wanted] + [
                ("recon.", "recon", None, None), ("held-out", "data", None, None)]
        table(seeds, "chain", cols, rows, flagged=junk_blind(seeds)[0])
        if any(r["kind"] == "interp" for r in doc["runs"][0]["rows"]):
            labels = labels_for(doc)
            print(f"\n**{data}, {labels[SHARE]} interpolations** "
                  f"({doc['runs'][0].get('pairs')} pairs x {doc['settings']['points']} "
                  "points)\n")
            table(seeds, "interp", INTERP,
                  lambda kind, seeds=seeds: [(str(s), "interp", s, None) for s in
                                             steps_of(seeds, "interp") if s in (0, 1, 5, 10, 20)],
                  labels)


def main():
    args = [a for a in sys.argv[1:] if a != "--readme"]
    main_for(Path(args[0] if args else "out/results"), readme="--readme" in sys.argv)


def main_for(out: Path, readme: bool = False):
    docs = load(out)
    if readme:
        readme_tables(docs)
        return
    print(f"Generated by `python scripts/results_tables.py {out.as_posix()}` from the eval "
          "JSON files of `scripts/reproduce_results.sh`. Cells: mean ± sd over training seeds "
          "[mean chain-seed sd].")
    sweeps = {mode: load(out, mode) for mode in sweep_modes(out)}
    main_tables(docs)
    sampler_tables(docs)
    for mode, sweep_docs in sweeps.items():
        sampler_tables(sweep_docs, mode)
    claims(docs, sweeps)
    bn_study(out)
    environment(out)


if __name__ == "__main__":
    main()
