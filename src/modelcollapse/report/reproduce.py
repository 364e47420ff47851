"""One-command reproductions of published results: run them (:mod:`modelcollapse.run.reproduce`), then write
summary.csv (simulated vs predicted, z), effect.csv, figures and optionally report.html."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelcollapse.analysis.summary import theory_comparison
from modelcollapse.report import extras
from modelcollapse.report.figures import plot_folder
from modelcollapse.report.grid import grid_figures
from modelcollapse.report.samples import sample_figures
from modelcollapse.run.reproduce import Reproduction, available, run_reproduction, scaled
from modelcollapse.run.runner import Progress
from modelcollapse.store import Store


@dataclass
class Outcome:
    summary: pd.DataFrame
    figures: list[Path]

    @property
    def worst_z(self) -> float:
        z = self.summary["z"].abs()
        return float(z.max()) if len(z) else float("nan")


def reproduce(
    name: str,
    out: str | Path,
    replicates: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    scale: float = 1.0,
    device: str | None = None,
    html: bool = False,
) -> Outcome:
    """Run a bundled reproduction into ``out``: results.duckdb, summary.csv and figures/.

    ``scale`` multiplies the reproduction's size fields (data, steps, width: for a GPU);
    ``device`` sets the device of its neural models; ``html`` also writes ``report.html``.
    """
    repro = available()[name]
    out = Path(out)
    keys = run_reproduction(name, out, replicates, workers, progress, scale, device)
    with Store.open(out, read_only=True) as store:  # only this run's cells, whatever else the folder holds
        summary = theory_comparison(store, reproduction=name, keys=keys)
        summary = pd.concat([summary, extras.summary(name, store)], ignore_index=True)
        if repro.effect:
            effect(store, keys, **repro.effect).to_csv(out / "effect.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    figures = plot_folder(out, keys=keys) + grid_figures(out, keys=keys) + extras.figures(name, out, keys)
    figures += sample_figures(out, keys)
    if html:
        from modelcollapse.report.html import write_html

        title = f"{repro.name}: {repro.title}"
        write_html(out, out / "report.html", keys, title=title, claim=repro.claim, theory=summary)
    return Outcome(summary, figures)


def worst_rows(summary: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    order = np.argsort(-summary["z"].abs().to_numpy())[:k]
    return summary.iloc[order]


def effect(store: Store, keys: set[str], metric: str, worse: str, better: str) -> pd.DataFrame:
    """Where no closed form exists, the direction of the effect: ``metric`` under ``worse`` minus under
    ``better`` at every generation, with the seed-to-seed spread (the larger replicate standard
    deviation of the two workflows) to compare the gap with."""
    values = store.table(
        "SELECT generation, workflow, value, config_hash FROM results WHERE metric = ? AND workflow IN (?, ?)",
        [metric, worse, better],
    )
    values = values[values["config_hash"].isin(keys)]
    stats = values.groupby(["generation", "workflow"])["value"].agg(["mean", "std", "count"]).unstack("workflow")
    out = pd.DataFrame(
        {
            "metric": metric,
            "generation": stats.index,
            worse: stats["mean"][worse].to_numpy(),
            better: stats["mean"][better].to_numpy(),
            "gap": (stats["mean"][worse] - stats["mean"][better]).to_numpy(),
            "spread": np.maximum(stats["std"][worse], stats["std"][better]).to_numpy(),
            "replicates": stats["count"][worse].to_numpy(),
        }
    )
    return out.reset_index(drop=True)


__all__ = ["Outcome", "Reproduction", "available", "effect", "reproduce", "scaled", "worst_rows"]
