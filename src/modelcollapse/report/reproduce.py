"""One-command reproductions of published results: bundled configs -> results, summary.csv, figures."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelcollapse.report import extras
from modelcollapse.report.figures import plot_folder
from modelcollapse.report.grid import grid_figures
from modelcollapse.report.samples import sample_figures
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
    effect: dict[str, str] | None = None  # {metric, worse, better}: the direction a neural reproduction shows
    scale: tuple[str, ...] = ()  # the fields that ``--scale`` multiplies


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
                raw["name"],
                raw["title"],
                raw["claim"],
                raw["experiments"],
                raw.get("test_replicates", 400),
                raw.get("effect"),
                tuple(raw.get("scale", ())),
            )
    return out


def scaled(cfg: dict[str, Any], fields: tuple[str, ...], factor: float) -> dict[str, Any]:
    """``cfg`` with each dotted field multiplied by ``factor`` (a width stays a multiple of the heads)."""
    cfg = copy.deepcopy(cfg)
    for path in fields:
        *parents, leaf = path.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        if leaf in node:
            value = max(1, round(node[leaf] * factor))
            heads = node.get("heads", 1) if leaf == "width" else 1
            node[leaf] = max(heads, value - value % heads)
    return cfg


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
    keys: set[str] = set()
    for exp in repro.experiments:
        cfg = scaled(exp, repro.scale, scale) if scale != 1.0 else dict(exp)
        if replicates is not None:  # a cap: smaller runs for tests and previews, never larger
            cfg["replicates"] = min(cfg["replicates"], replicates)
        if device is not None and "device" in cfg["model"]:
            cfg["model"] = {**cfg["model"], "device": device}
        run_experiment(cfg, out, progress, workers)
        keys |= {cell_key(e) for _, e in expand(cfg)}
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
