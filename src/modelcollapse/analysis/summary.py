"""Tables read from a results store: per-generation statistics and the theory comparison (z-scores)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelcollapse.analysis.predictions import predict
from modelcollapse.run.config import Experiment, stored
from modelcollapse.store import GRID_AXES, Store

SUMMARY_COLUMNS = ["reproduction", "metric", "workflow", "setting", "generation", "simulated", "se", "predicted", "z"]


@dataclass(frozen=True)
class Cell:
    key: str
    experiment: str
    point: dict[str, Any]
    exp: Experiment

    @property
    def setting(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.point.items())

    @property
    def is_grid(self) -> bool:
        """A real-synthetic grid cell: one model measured at its last generation, not a trajectory."""
        return all(k in self.point for k in GRID_AXES)

    @property
    def label(self) -> str:
        """The experiment and its sweep cell: the ``setting`` column of summaries and figure data."""
        return self.experiment + (f" [{self.setting}]" if self.point else "")


def cells(store: Store, keys: set[str] | None = None) -> list[Cell]:
    """The cells of a store (only those in ``keys`` when given), in experiment and sweep order."""
    rows = store.con.execute("SELECT config_hash, experiment, sweep, config FROM cells").fetchall()
    out = [
        Cell(key, name, json.loads(sweep), stored(json.loads(config)))
        for key, name, sweep, config in rows
        if keys is None or key in keys
    ]
    return sorted(out, key=lambda c: (c.experiment, tuple(_order(v) for v in c.point.values())))


def _order(v: Any) -> tuple[int, float, str]:
    """Sort numbers numerically and before strings."""
    return (0, float(v), "") if isinstance(v, int | float) else (1, 0.0, str(v))


def statistics(store: Store) -> pd.DataFrame:
    """Per (cell, workflow, metric, generation): mean, se, median, 10% and 90% quantiles, count."""
    return store.table(
        """SELECT config_hash, workflow, metric, generation, count(*) AS n,
                  avg(value) AS mean, stddev_samp(value) / sqrt(count(*)) AS se,
                  median(value) AS median, quantile_cont(value, 0.1) AS q10, quantile_cont(value, 0.9) AS q90
           FROM results WHERE isfinite(value)
           GROUP BY ALL ORDER BY config_hash, workflow, metric, generation"""
    )


def theory_comparison(store: Store, reproduction: str = "", keys: set[str] | None = None) -> pd.DataFrame:
    """One row per (cell, workflow, metric, generation) that has an exact prediction, with z = (sim - pred)/se."""
    stats = {
        (r["config_hash"], r["workflow"], r["metric"], int(r["generation"])): (
            float(r["mean"]),
            float(r["se"]),
            int(r["n"]),
        )
        for r in statistics(store).to_dict("records")
    }
    rows = []
    for cell in cells(store, keys):
        for (workflow, metric), curve in predict(cell.exp).items():
            for g, pred in enumerate(curve, start=1):
                key = (cell.key, workflow, metric, g)
                if not np.isfinite(pred) or key not in stats:
                    continue
                sim, se, n = stats[key]
                rows.append(
                    [
                        reproduction or cell.experiment,
                        metric,
                        workflow,
                        cell.label,
                        g,
                        sim,
                        se,
                        pred,
                        z_score(sim, se, pred, n),
                    ]
                )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def z_score(sim: float, se: float, pred: float, n: int) -> float:
    """(sim - pred) / se. When every replicate gave the same value (se = 0) of a 0/1 metric, the standard
    error implied by the prediction, sqrt(p (1 - p) / n), stands in for it."""
    if not se > 0 and 0 < pred < 1:
        se = float(np.sqrt(pred * (1 - pred) / n))
    if se > 0:
        return float((sim - pred) / se)
    return 0.0 if abs(sim - pred) <= 1e-12 * max(1.0, abs(pred)) else float(np.sign(sim - pred) * np.inf)
