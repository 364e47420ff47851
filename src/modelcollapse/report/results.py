"""A results folder for notebooks: ``mc.open(DIR)`` and its tables, a figure, the verdicts.

Everything is read from the folder's DuckDB store, read-only and afresh on every call (a run may still be
writing to it), and comes back as pandas or matplotlib objects:

>>> import tempfile, modelcollapse as mc
>>> folder = tempfile.mkdtemp()
>>> _ = mc.run_experiment({"name": "demo", "source": {"kind": "gaussian", "dim": 1},
...     "model": {"kind": "gaussian"}, "samples_per_generation": 20, "workflow": ["replace", "accumulate"],
...     "generations": 4, "replicates": 8}, folder)
>>> res = mc.open(folder)
>>> res.metrics()[:3]
['cov_logdet_change', 'cov_trace_ratio', 'mean_sq_error']
>>> res.summary(["train_size"]).query("workflow == 'accumulate'")["mean"].tolist()
[20.0, 40.0, 60.0, 80.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from modelcollapse.analysis.assess import assess
from modelcollapse.report.untrusted import plain
from modelcollapse.store import Store

ORDER = ["experiment", "config_hash", "workflow", "metric", "generation", "replicate"]


class Results:
    """The results of one folder. ``frame`` (every value, tidy), ``summary`` (mean, standard error and count
    per generation), ``plot`` (a metric against generation, one line per workflow), ``assess`` (collapse by
    each definition)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        with Store.open(self.folder, read_only=True):  # fails now, naming the folder, if it holds no results
            pass

    def __repr__(self) -> str:
        return f"Results({str(self.folder)!r})"

    def _table(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        with Store.open(self.folder, read_only=True) as store:
            return store.table(query, params)

    def metrics(self) -> list[str]:
        """Every metric measured, sorted."""
        return self._table("SELECT DISTINCT metric FROM results ORDER BY metric")["metric"].tolist()

    def experiments(self) -> list[str]:
        """Every experiment's name, sorted."""
        return self._table("SELECT DISTINCT experiment FROM results ORDER BY experiment")["experiment"].tolist()

    def _known(self, metrics: list[str] | None) -> list[str] | None:
        if metrics is not None:
            allowed = self.metrics()
            unknown = [m for m in metrics if m not in allowed]
            if unknown:
                raise ValueError(f"unknown metric {unknown[0][:60]!r}; measured here: {', '.join(allowed)}")
        return metrics

    def frame(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """One row per (cell, workflow, metric, generation, replicate) with its value, sweep columns included."""
        chosen = self._known(metrics) or []
        where = f"WHERE metric IN ({', '.join('?' * len(chosen))})" if chosen else ""
        return self._table(f"SELECT * FROM results {where} ORDER BY {', '.join(ORDER)}", list(chosen))

    def summary(self, metrics: list[str] | None = None, generations: list[int] | None = None) -> pd.DataFrame:
        """Mean, standard error (``se``), replicates (``n``) and non-finite count per cell, workflow, metric and
        generation."""
        with Store.open(self.folder, read_only=True) as store:
            return store.summary(generations, self._known(metrics))

    def plot(self, metric: str, experiment: str | None = None, ax: Any = None) -> Any:
        """``metric`` against generation, mean ± 2 standard errors, one line per (cell, workflow); returns the Axes."""
        data = self.summary([metric])
        if experiment is not None:
            if experiment not in set(data.experiment):
                here = ", ".join(self.experiments())
                raise ValueError(f"no experiment {experiment[:60]!r} measured {metric}; experiments here: {here}")
            data = data[data.experiment == experiment]
        if ax is None:
            import matplotlib.pyplot as plt  # lazy: only a figure needs it

            ax = plt.subplots(figsize=(5, 3.5))[1]
        several = data.config_hash.nunique() > 1
        for (name, key, workflow), part in data.groupby(["experiment", "config_hash", "workflow"], sort=False):
            label = f"{name} {str(key)[:8]}: {workflow}" if several else str(workflow)
            yerr = 2 * part["se"].fillna(0)
            ax.errorbar(part.generation, part["mean"], yerr=yerr, marker="o", ms=3, label=plain(label))
        ax.set(xlabel="generation", ylabel=metric)
        ax.legend(fontsize=7, frameon=False)
        return ax

    def assess(self) -> pd.DataFrame:
        """One row per (cell, workflow, definition of collapse): the verdict and its evidence (``modelcollapse
        assess``)."""
        return pd.DataFrame(assess(self.folder))
