"""Markdown tables (mean ± std over seeds) of the eval JSON files in an output folder.

    python scripts/results_tables.py out/results 0 1 2 > docs/results-tables.md
"""
import json
import statistics
import sys
from pathlib import Path

out, seeds = Path(sys.argv[1]), sys.argv[2:]
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
