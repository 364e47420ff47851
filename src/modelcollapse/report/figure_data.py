"""The data behind the report's interactive figures: plain lists the page's script draws as SVG.

One chart per (cell, metric) with a series per workflow (its band, and theory where it is exact), and per
real-synthetic grid the heatmap's cells and its two cuts. Non-finite numbers become ``None`` (JSON null).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from modelcollapse.analysis.predictions import predict
from modelcollapse.analysis.summary import Cell
from modelcollapse.report import grid
from modelcollapse.report.figures import HEAVY_TAILED, LABELS
from modelcollapse.report.untrusted import LABEL, shorten

MAX_POINTS = 240  # generations drawn per series (evenly thinned beyond this; tables keep the chosen ones)


def num(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _ylabel(metric: object) -> str:
    """The axis label the script draws: a metric name is untrusted text, cut to fit beside the axis."""
    return shorten(LABELS.get(str(metric), str(metric)), LABEL)


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int))


def charts(group: list[Cell], stats: pd.DataFrame) -> list[dict[str, Any]]:
    """One chart per (cell, metric): a series per workflow with its band, and theory where it is exact."""
    out: list[dict[str, Any]] = []
    for cell in group:
        preds = predict(cell.exp)
        data = stats[(stats.config_hash == cell.key) & (stats.metric != "train_size")]
        for metric, m in data.groupby("metric", sort=True):
            series = []
            for workflow, s in m.groupby("workflow", sort=True):
                s = s.sort_values("generation").iloc[_thin(len(s))]
                pred = preds.get((str(workflow), str(metric)))
                robust = metric in HEAVY_TAILED and pred is None
                centre = s["median"] if robust else s["mean"]
                lo, hi = (s.q10, s.q90) if robust else (s["mean"] - 1.96 * s.se, s["mean"] + 1.96 * s.se)
                series.append(
                    {
                        "workflow": str(workflow),
                        "x": s.generation.astype(int).tolist(),
                        "y": [num(v) for v in centre],
                        "lo": [num(v) for v in lo],
                        "hi": [num(v) for v in hi],
                        "se": [num(v) for v in s.se],
                        "theory": None if pred is None else [num(pred[g - 1]) for g in s.generation.astype(int)],
                        "statistic": "median (10-90%)" if robust else "mean (95% CI)",
                    }
                )
            out.append(
                {
                    "id": f"chart-{len(out)}",
                    "title": f"{cell.label}: {metric}",
                    "experiment": cell.experiment,
                    "metric": str(metric),
                    "ylabel": _ylabel(metric),
                    "series": series,
                }
            )
    return out


def grids(t: pd.DataFrame, declared: dict[str, tuple[list[int], list[int]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if t.empty:
        return out
    for (experiment, facet, metric), part in t.groupby(["experiment", "facet", "metric"], sort=True):
        reals, syns = grid.axes_of(part, declared.get(str(experiment)))
        rows = [
            {
                "r": int(r["n_real"]),
                "s": int(r["n_syn"]),
                "mean": num(r["centre"]),
                "se": num(r["se"]),
                "pred": num(r["predicted"]),
                "z": num(r["z"]),
                "ratio": num(r["ratio"]),
                "base": num(r["real_only"]),
            }
            for r in part.to_dict("records")
        ]
        gid, ylabel = f"grid-{len(out)}", _ylabel(metric)
        share = part.assign(x=part.n_real / (part.n_real + part.n_syn), group=part.n_real + part.n_syn)
        by_syn = part[part.n_syn.isin(syns)].assign(x=part.n_syn, group=part.n_real)
        out.append(
            {
                "id": gid,
                "title": f"{experiment}{f' [{facet}]' if facet else ''}: {metric}",
                "metric": str(metric),
                "ylabel": ylabel,
                "ratio": metric not in grid.LOG_LOSSES and bool((part.centre > 0).all()),
                "reals": reals,
                "syns": syns,
                "cells": rows,
                "curves": [
                    _cut(f"{gid}-share", share, grid.totals(part), "N_real + N_syn", "share of real data", ylabel),
                    _cut(f"{gid}-syn", by_syn, reals, "N_real", "N_syn (synthetic points)", ylabel, "log1p"),
                ],
            }
        )
    return out


def _cut(
    cid: str, t: pd.DataFrame, groups: list[int], name: str, xlabel: str, ylabel: str, xscale: str = "linear"
) -> dict[str, Any]:
    """A grid's loss along one cut (a line per group, e.g. per fixed total), as a chart the script draws."""
    series = []
    for g in groups:
        s = t[t.group == g].sort_values("x")
        series.append(
            {
                "name": f"{name} = {g}",
                "x": [float(v) for v in s.x],
                "y": [num(v) for v in s.centre],
                "lo": [num(v) for v in s.centre - 1.96 * s.se],
                "hi": [num(v) for v in s.centre + 1.96 * s.se],
                "se": [num(v) for v in s.se],
                "theory": [num(v) for v in s.predicted] if s.predicted.notna().any() else None,
                "statistic": "mean (95% CI)",
            }
        )
    return {"id": cid, "title": "", "xlabel": xlabel, "xscale": xscale, "ylabel": ylabel, "series": series}
