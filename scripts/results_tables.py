"""Markdown tables (mean ± std over seeds) of the eval JSON files in an output folder.

    python scripts/results_tables.py out/results 0 1 2 > docs/results-tables.md
    python scripts/results_tables.py --readme out/results 0 1 2   # the README's tables
"""
import json
import statistics
import sys
from pathlib import Path

readme = "--readme" in sys.argv
args = [a for a in sys.argv[1:] if a != "--readme"]
out, seeds = Path(args[0]), args[1:]
COLS = ["mmd_data", "mmd_prior", "fd", "precision", "recall", "ambiguous", "glasses"]


def fmt(values, col):
    values = [v for v in values if v is not None]
    if not values:
        return ""
    digits = 4 if col.startswith("mmd") else 1 if col == "fd" else \
        3 if col in ("ambiguous", "glasses") else 2
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"




def full_tables():
    for stem in ("digits", "digits-bneval", "digits-long", "toyfaces", "toyfaces-bneval",
                 "toyfaces-long"):
        docs = [json.loads(p.read_text()) for s in seeds
                if (p := out / f"{stem}-seed{s}.json").is_file()]
        if not docs:
            continue
        print(f"\n### {stem} ({len(docs)} seed{'s' if len(docs) > 1 else ''}, "
              f"n = {docs[0]['runs'][0]['n']})\n")
        cols = [c for c in COLS if any(r[c] is not None for r in docs[0]["runs"][0]["rows"])]
        print("| model | rows | step | " + " | ".join(cols) + " |")
        print("|---" * (3 + len(cols)) + "|")
        for i, run in enumerate(docs[0]["runs"]):
            for j, row in enumerate(run["rows"]):
                cells = [fmt([d["runs"][i]["rows"][j][c] for d in docs], c) for c in cols]
                step = "" if row["step"] is None else row["step"]
                print(f"| {run['model']} | {row['kind']} | {step} | " + " | ".join(cells) + " |")


def readme_tables():
    """Steps 0, 1, 5, 10 and the reference rows, one table per dataset."""
    for stem in ("toyfaces", "digits"):
        docs = [json.loads(p.read_text()) for s in seeds
                if (p := out / f"{stem}-seed{s}.json").is_file()]
        if not docs:
            continue
        faces = stem == "toyfaces"
        head = ["model", "t", "MMD² to P^(Z) ↓", "MMD² to P(Z)", "FD ↓", "precision", "recall"]
        head += ["ambiguous interp. ↓"] if faces else []
        print(f"\n**{stem}** (n = {docs[0]['runs'][0]['n']} chains, {len(docs)} seeds)\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for i, run in enumerate(docs[0]["runs"]):
            def values(kind, step, col, i=i, docs=docs):
                return [r[col] for d in docs for r in d["runs"][i]["rows"]
                        if r["kind"] == kind and r["step"] == step]

            for step in (0, 1, 5, 10):
                cells = [run["model"].upper() if step == 0 else "", str(step)]
                cells += [fmt(values("chain", step, c), c) for c in COLS[:5]]
                if faces:
                    cells.append(fmt(values("interp", step, "ambiguous"), "ambiguous"))
                print("| " + " | ".join(cells) + " |")
            for kind, label in (("recon", "reconstructions"), ("data", "held-out halves")):
                cells = ["", label] + [fmt(values(kind, None, c), c) for c in COLS[:5]]
                print("| " + " | ".join(cells + ([""] if faces else [])) + " |")


readme_tables() if readme else full_tables()
