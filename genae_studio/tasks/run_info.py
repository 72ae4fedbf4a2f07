"""What the studio's Run panel shows of a run: its settings and its loss history (Qt-free)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

SECTIONS = ("model", "data", "training", "versions")


@dataclass
class RunSummary:
    """A run's settings as (section, key, value) rows, and its losses per epoch."""

    name: str
    path: str | None
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)  # per epoch, NaN if missing

    @property
    def title(self) -> str:
        return f"{self.name} — {self.path}" if self.path else self.name


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return "—" if value is None else str(value)


def run_summary(run) -> RunSummary:
    """The summary of ``run`` (a genae_studio Run: its name, path and RunConfig)."""
    config = run.config
    history = [h for h in config.progress.get("history", []) if isinstance(h, dict)]
    done = config.progress.get("epoch", len(history))
    planned = config.training.get("epochs")
    rows = [("model", "model", config.model), ("model", "plugin", config.plugin)]
    rows += [("model", k, _text(v)) for k, v in sorted(config.hparams.items())]
    rows += [("data", k, _text(v)) for k, v in config.data.items()]
    rows.append(("training", "epochs trained", f"{done}" + (f" of {planned}" if planned
                                                           else "")))
    rows += [("training", k, _text(v)) for k, v in config.training.items()]
    if history:
        last = history[-1]
        rows += [("training", f"last {k}", _text(v)) for k, v in last.items() if k != "epoch"]
    rows += [("versions", k, _text(v)) for k, v in config.versions.items()]
    names = [k for k in (history[0] if history else {}) if k != "epoch"]
    losses = {k: [float(h[k]) if isinstance(h.get(k), (int, float)) else math.nan
                  for h in history] for k in names}
    epochs = [int(h.get("epoch", i + 1)) for i, h in enumerate(history)]
    return RunSummary(run.name, str(run.path) if run.path is not None else None, rows,
                      epochs, losses)
