"""One-command reproductions of published results: bundled configs -> results, summary.csv, figures."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelcollapse.report import extras
from modelcollapse.report.figures import plot_folder
from modelcollapse.report.summary import theory_comparison
from modelcollapse.run.loading import expand
from modelcollapse.run.runner import Progress, cell_key
from modelcollapse.run.runner import run as run_experiment
from modelcollapse.store import Store


@dataclass(frozen=True)
class Reproduction:
    name: str
    title: str
    claim: str
    experiments: list[dict[str, Any]]
    test_replicates: int = 400  # what the test suite runs (|z| < 4 on every point)


@dataclass
class Outcome:
    summary: pd.DataFrame
    figures: list[Path]

    @property
    def worst_z(self) -> float:
        z = self.summary["z"].abs()
        return float(z.max()) if len(z) else float("nan")


def available() -> dict[str, Reproduction]:
    """The bundled reproductions, by name."""
    out = {}
    folder = resources.files("modelcollapse") / "configs" / "reproductions"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            raw = yaml.safe_load(item.read_text())
            out[raw["name"]] = Reproduction(
                raw["name"], raw["title"], raw["claim"], raw["experiments"], raw.get("test_replicates", 400)
            )
    return out


def reproduce(
    name: str, out: str | Path, replicates: int | None = None, workers: int = 1, progress: Progress | None = None
) -> Outcome:
    """Run a bundled reproduction into ``out``: results.duckdb, summary.csv and figures/."""
    repro = available()[name]
    out = Path(out)
    keys: set[str] = set()
    for exp in repro.experiments:
        cfg = dict(exp)
        if replicates is not None:  # a cap: smaller runs for tests and previews, never larger
            cfg["replicates"] = min(cfg["replicates"], replicates)
        run_experiment(cfg, out, progress, workers)
        keys |= {cell_key(e) for _, e in expand(cfg)}
    with Store.open(out, read_only=True) as store:  # only this run's cells, whatever else the folder holds
        summary = theory_comparison(store, reproduction=name, keys=keys)
        summary = pd.concat([summary, extras.summary(name, store)], ignore_index=True)
    summary.to_csv(out / "summary.csv", index=False)
    figures = plot_folder(out, keys=keys) + extras.figures(name, out, keys)
    return Outcome(summary, figures)


def worst_rows(summary: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    order = np.argsort(-summary["z"].abs().to_numpy())[:k]
    return summary.iloc[order]
