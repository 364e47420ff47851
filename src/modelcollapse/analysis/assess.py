"""Verdicts per definition of collapse, for every workflow of every cell in a results folder."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.analysis.definitions import ERRORS, PER_CELL, Thresholds, Verdict, scaling_law
from modelcollapse.analysis.summary import Cell, cells
from modelcollapse.store import Store

SIZE = "samples_per_generation"


def trajectories(store: Store, key: str) -> dict[str, dict[str, np.ndarray]]:
    """``{workflow: {metric: (replicates, generations)}}`` for one cell."""
    df = store.table(
        "SELECT workflow, metric, replicate, generation, value FROM results WHERE config_hash = ? "
        "ORDER BY workflow, metric, replicate, generation",
        [key],
    )
    out: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for (workflow, metric), part in df.groupby(["workflow", "metric"], sort=False):
        reps, gens = part.replicate.nunique(), part.generation.nunique()
        out[str(workflow)][str(metric)] = part.value.to_numpy(float).reshape(reps, gens)
    return dict(out)


def assess(folder: str | Path, thresholds: Thresholds | None = None) -> list[dict[str, Any]]:
    """One row per (cell, workflow, definition) with the verdict and its evidence.

    Real-synthetic grid cells are left out: each measures one model, not a trajectory to judge.
    """
    th = thresholds or Thresholds()
    rows = []
    with Store.open(folder, read_only=True) as store:
        all_cells = [c for c in cells(store) if not c.is_grid]
        traj = {c.key: trajectories(store, c.key) for c in all_cells}
    for cell in all_cells:
        for workflow, metrics in traj[cell.key].items():
            verdicts = [check(metrics, th) for check in PER_CELL.values()]
            verdicts.insert(3, _scaling(cell, workflow, all_cells, traj, th))
            rows += [_row(cell, workflow, v) for v in verdicts]
    return rows


def _scaling(cell: Cell, workflow: str, all_cells: list[Cell], traj: dict, th: Thresholds) -> Verdict:
    """Definition 4 across the cells that differ from this one only in the sample size."""
    others = {k: v for k, v in cell.point.items() if k != SIZE}
    group = [
        c
        for c in all_cells
        if c.experiment == cell.experiment
        and SIZE in c.point
        and {k: v for k, v in c.point.items() if k != SIZE} == others
    ]
    metric = next((m for m in ERRORS if m in traj[cell.key].get(workflow, {})), None)
    curves = {  # cells whose chunks all failed have no trajectory
        int(c.point[SIZE]): traj[c.key][workflow][metric]
        for c in group
        if metric is not None and metric in traj[c.key].get(workflow, {})
    }
    if metric is None or len(curves) < 3:
        return Verdict(
            4,
            "change in scaling law",
            "undetermined",
            metric,
            note="needs a sweep over samples_per_generation (>= 3 sizes) and an error metric",
        )
    return scaling_law(curves, metric, th)


def _row(cell: Cell, workflow: str, v: Verdict) -> dict[str, Any]:
    return {"experiment": cell.experiment, "setting": cell.label, "workflow": workflow, **v.as_dict()}
