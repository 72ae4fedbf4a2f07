"""Markdown tables of the eval JSON files that scripts/reproduce_results.sh writes.

    python scripts/results_tables.py out/results > docs/results-tables.md
    python scripts/results_tables.py docs/results > docs/results-tables.md  # the committed run

Main tables: for each dataset, model and step, ``mean ± sd [c]``: the mean and standard
deviation over training seeds of each trained model's value (itself the mean over chain
seeds), and in brackets the chain-seed spread (the mean over trained models of the standard
deviation over chain seeds). Then the claims, counted over the trained models; the
interpolation measures; the batch-norm study; the library versions and thread count.
"""
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

MAIN = ["mmd_data", "mmd_prior", "fd", "precision", "recall", "fd_pca", "precision_pca",
        "recall_pca"]
SHARE = "attribute share"  # stands for the column of the share predicted to have the attribute
INTERP = ["ambiguous", SHARE, "max_jump", "kept", "end_dist"]
LABELS = {"mmd_data": "MMD² to P^(Z) ↓", "mmd_prior": "MMD² to P(Z)", "fd": "FD cnn ↓",
          "precision": "prec. cnn", "recall": "recall cnn", "fd_pca": "FD pca ↓",
          "precision_pca": "prec. pca", "recall_pca": "recall pca",
          "ambiguous": "ambiguous ↓", "max_jump": "largest jump ↓",
          "kept": "endpoints kept ↑", "end_dist": "endpoint distance ↓"}
MODELS = ["vae", "dvae", "aae", "daae"]


def digits_for(col):
    return 4 if col.startswith("mmd") else 1 if col.startswith("fd") else \
        3 if col in INTERP else 2


def share_column(run):
    """The rows' key of the attribute-share column: since eval's JSON version 3 it is named
    after the attribute (``attribute_column``, e.g. sunglasses); before, ``glasses``."""
    return run.get("attribute_column") or "glasses"


def key_of(run, col):
    return share_column(run) if col == SHARE else col


def labels_for(doc):
    """Column labels; the attribute-share column is labelled with the attribute's name."""
    return {**LABELS, SHARE: doc["runs"][0].get("attribute") or "attribute"}


def load(out: Path):
    """{data: {train_seed: {chain_seed: doc}}} for the main runs."""
    docs = defaultdict(lambda: defaultdict(dict))
    for path in sorted(out.glob("*-train*-chain*.json")):
        m = re.fullmatch(r"(.+)-train(\d+)-chain(\d+)\.json", path.name)
        if m:
            docs[m[1]][int(m[2])][int(m[3])] = json.loads(path.read_text())
    return docs


def value(doc, model, kind, step, col):
    for run in doc["runs"]:
        if run["model"] == model:
            for row in run["rows"]:
                if row["kind"] == kind and row["step"] == step:
                    v = row.get(key_of(run, col))
                    return None if v is None or v != v else v
    return None


def per_model(seeds, model, kind, step, col):
    """[mean over chain seeds for each training seed], [sd over chain seeds ...]."""
    means, spreads = [], []
    for chains in seeds.values():
        vals = [v for d in chains.values() if (v := value(d, model, kind, step, col)) is not None]
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


def steps_of(seeds, kind="chain"):
    doc = next(iter(next(iter(seeds.values())).values()))
    return sorted({r["step"] for r in doc["runs"][0]["rows"] if r["kind"] == kind})


def table(seeds, kind, cols, rows_for, labels=LABELS):
    print("| model | t | " + " | ".join(labels[c] for c in cols) + " |")
    print("|---" * (2 + len(cols)) + "|")
    for model in MODELS:
        first = True
        for label, k, step in rows_for(kind):
            cells = [cell(*per_model(seeds, model, k, step, c), c) for c in cols]
            if not any(cells):
                continue
            print(f"| {model.upper() if first else ''} | {label} | " + " | ".join(cells) + " |")
            first = False


def main_tables(docs):
    for data, seeds in docs.items():
        doc = next(iter(next(iter(seeds.values())).values()))
        chain_seeds = sorted({c for chains in seeds.values() for c in chains})
        print(f"\n### {data}: {len(seeds)} training seed{'s' * (len(seeds) > 1)} "
              f"({', '.join(map(str, sorted(seeds)))}), chain seeds "
              f"{', '.join(map(str, chain_seeds))}, n = {doc['runs'][0]['n']}, "
              f"batch norm {doc['settings']['bn_mode']}\n")

        def chain_rows(kind, seeds=seeds):
            return [(str(s), "chain", s) for s in steps_of(seeds)] + [
                ("recon.", "recon", None), ("held-out", "data", None)]

        table(seeds, "chain", MAIN, chain_rows)
        if any(r["kind"] == "interp" for r in doc["runs"][0]["rows"]):
            labels = labels_for(doc)
            print(f"\n{data}: interpolations between held-out images without and with "
                  f"{labels[SHARE]} ({doc['runs'][0].get('pairs')} pairs, "
                  f"{doc['settings']['points']} points)\n")
            table(seeds, "interp", INTERP,
                  lambda kind, seeds=seeds: [(str(s), "interp", s)
                                             for s in steps_of(seeds, "interp")], labels)


def units(docs):
    """(data, training seed, model, {(kind, step, col): mean over chain seeds})."""
    for data, seeds in docs.items():
        for seed, chains in sorted(seeds.items()):
            for model in MODELS:
                vals = defaultdict(list)
                for d in chains.values():
                    for run in d["runs"]:
                        if run["model"] != model:
                            continue
                        for row in run["rows"]:
                            for col in MAIN + INTERP:
                                v = row.get(key_of(run, col))
                                if v is not None and v == v:
                                    vals[(row["kind"], row["step"], col)].append(v)
                if vals:
                    yield data, seed, model, {k: statistics.fmean(v) for k, v in vals.items()}


def claims(docs):
    """Each claim counted over the trained models (values: mean over chain seeds)."""
    all_units = list(units(docs))
    print(f"\n### Claims, counted over {len(all_units)} trained models\n")

    def count(name, test):
        hits, misses = [], []
        per_data, per_model = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for data, seed, model, v in all_units:
            try:
                ok = bool(test(v))
            except (KeyError, TypeError):
                continue
            (hits if ok else misses).append(f"{data} {model.upper()} seed {seed}")
            for tally in (per_data[data], per_model[model]):
                tally[0] += ok
                tally[1] += 1
        total = len(hits) + len(misses)
        if not total:
            return
        split = "; ".join(f"{d} {h} of {n}" for d, (h, n) in per_data.items())
        text = f"- {name}: {len(hits)} of {total} ({split})"
        if 0 < len(misses) <= len(hits) and len(misses) <= 6:
            text += f"; not: {', '.join(misses)}"
        elif 0 < len(hits) < len(misses) and len(hits) <= 6:
            text += f"; only: {', '.join(hits)}"
        elif hits and misses:
            text += "; by model: " + ", ".join(f"{m.upper()} {h} of {n}"
                                               for m, (h, n) in per_model.items())
        print(text)

    def c(kind, step, col):
        return lambda v: v[(kind, step, col)]

    def best(v, col):
        steps = sorted(s for (k, s, cc) in v if k == "chain" and cc == col)
        return min(steps, key=lambda s: v[("chain", s, col)])

    for space in ("fd", "fd_pca"):
        name = "cnn" if space == "fd" else "pca"
        count(f"FD ({name}) falls at t = 1", lambda v, s=space: c("chain", 1, s)(v)
              < c("chain", 0, s)(v))
        count(f"FD ({name}) at t = 5 below t = 0", lambda v, s=space: c("chain", 5, s)(v)
              < c("chain", 0, s)(v))
        count(f"FD ({name}) at t = 20 above its lowest value (drift)",
              lambda v, s=space: c("chain", 20, s)(v) > min(
                  v[("chain", t, s)] for t in (0, 1, 2, 3, 5, 10, 20)))
        count(f"FD ({name}) at t = 20 worse than at t = 0",
              lambda v, s=space: c("chain", 20, s)(v) > c("chain", 0, s)(v))
        count(f"FD ({name}) lowest at t = 1 or 2", lambda v, s=space: best(v, s) in (1, 2))
        count(f"FD ({name}) lowest at t = 3 to 10",
              lambda v, s=space: 3 <= best(v, s) <= 10)
    count("FD falls at t = 1 in both spaces", lambda v: v[("chain", 1, "fd")]
          < v[("chain", 0, "fd")] and v[("chain", 1, "fd_pca")] < v[("chain", 0, "fd_pca")])
    count("MMD² to P^(Z) falls at t = 1", lambda v: c("chain", 1, "mmd_data")(v)
          < c("chain", 0, "mmd_data")(v))
    count("MMD² to P^(Z) at t = 5 below t = 0", lambda v: c("chain", 5, "mmd_data")(v)
          < c("chain", 0, "mmd_data")(v))
    count("MMD² to P^(Z) at t = 20 above its lowest value",
          lambda v: c("chain", 20, "mmd_data")(v) > min(
              v[("chain", t, "mmd_data")] for t in (0, 1, 2, 3, 5, 10, 20)))
    count("MMD² to P^(Z) at t = 20 above t = 0", lambda v: c("chain", 20, "mmd_data")(v)
          > c("chain", 0, "mmd_data")(v))
    count("recall (cnn) at t = 20 below t = 1", lambda v: c("chain", 20, "recall")(v)
          < c("chain", 1, "recall")(v))
    count("recall (pca) at t = 20 below t = 1", lambda v: c("chain", 20, "recall_pca")(v)
          < c("chain", 1, "recall_pca")(v))
    count("precision (cnn) at t = 5 above t = 0", lambda v: c("chain", 5, "precision")(v)
          > c("chain", 0, "precision")(v))
    count("interpolations: ambiguous share falls from t = 0 to t = 5",
          lambda v: c("interp", 5, "ambiguous")(v) < c("interp", 0, "ambiguous")(v))
    count("interpolations: endpoints kept at t = 5 at least 90%",
          lambda v: c("interp", 5, "kept")(v) >= 0.9)
    count("interpolations: largest jump at t = 5 above t = 0",
          lambda v: c("interp", 5, "max_jump")(v) > c("interp", 0, "max_jump")(v))
    # Denoising: the denoising model against its plain twin of the same dataset and seed.
    by = {(d, s, m): v for d, s, m, v in all_units}
    for plain, noisy in (("vae", "dvae"), ("aae", "daae")):
        for col in ("mmd_data", "fd", "fd_pca"):
            for t in (1, 5):
                per_data = defaultdict(lambda: [0, 0])
                for (d, s, m), v in by.items():
                    if m == noisy and (d, s, plain) in by:
                        twin = by[(d, s, plain)]
                        per_data[d][0] += v[("chain", t, col)] < twin[("chain", t, col)]
                        per_data[d][1] += 1
                if per_data:
                    hits, total = (sum(c[i] for c in per_data.values()) for i in (0, 1))
                    split = "; ".join(f"{d} {h} of {n}" for d, (h, n) in per_data.items())
                    print(f"- {noisy.upper()} below {plain.upper()} on {LABELS[col]} at "
                          f"t = {t}: {hits} of {total} (dataset, training seed) pairs ({split})")


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
    cols = ["mmd_data", "fd", "recall", "fd_pca", "recall_pca"]
    for data, seeds in docs.items():
        doc = next(iter(next(iter(seeds.values())).values()))
        chain_seeds = sorted({c for chains in seeds.values() for c in chains})
        print(f"\n**{data}** ({len(seeds)} training seed{'s' * (len(seeds) > 1)} x "
              f"{len(chain_seeds)} chain seed{'s' * (len(chain_seeds) > 1)}, "
              f"n = {doc['runs'][0]['n']} chains)\n")
        wanted = [s for s in steps_of(seeds) if s in (0, 1, 2, 5, 10, 20)]

        def rows(kind, seeds=seeds, wanted=wanted):
            return [(str(s), "chain", s) for s in wanted] + [("recon.", "recon", None),
                                                             ("held-out", "data", None)]
        table(seeds, "chain", cols, rows)
        if any(r["kind"] == "interp" for r in doc["runs"][0]["rows"]):
            labels = labels_for(doc)
            print(f"\n**{data}, {labels[SHARE]} interpolations** "
                  f"({doc['runs'][0].get('pairs')} pairs x {doc['settings']['points']} "
                  "points)\n")
            table(seeds, "interp", INTERP,
                  lambda kind, seeds=seeds: [(str(s), "interp", s) for s in
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
    main_tables(docs)
    claims(docs)
    bn_study(out)
    environment(out)


if __name__ == "__main__":
    main()
