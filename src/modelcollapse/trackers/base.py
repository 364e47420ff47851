"""What a sink logs, read from a results folder: one :class:`TrackedRun` per cell and workflow, and the files."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcollapse._rng import stable_hash
from modelcollapse.store import Store

PARAM_CHARS = 500  # a parameter's value is cut here (MLflow allows 6000; a long list reads badly anyway)
REPORT_FILES = ("report.html", "summary.csv", "effect.csv", "baselines.csv")


@dataclass(frozen=True)
class TrackedRun:
    """One cell under one workflow: its config as flat parameters and, per generation (the step), every
    metric's mean over replicates and its standard error (``se/METRIC``)."""

    experiment: str
    name: str
    run_id: str  # stable: the same folder, cell and workflow give the same id
    params: dict[str, str]
    steps: dict[int, dict[str, float]]


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"model.kind": "gaussian", ...}``; lists are written as JSON.

    >>> flatten({"model": {"kind": "gmm", "k": 3}, "workflow": ["replace"]})
    {'model.kind': 'gmm', 'model.k': '3', 'workflow': '["replace"]'}
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[f"{prefix}{key}"] = text[:PARAM_CHARS]
    return out


@dataclass(frozen=True)
class Snapshot:
    """What a sink logs of a folder, read in one pass: ``ident`` (what the folder holds, so that a relog
    finds its earlier runs), the runs, and the report files."""

    ident: str
    runs: list[TrackedRun]
    files: list[Path]


def read(folder: Path) -> Snapshot:
    """Every (cell, workflow) of the folder, in experiment and sweep order, with the folder's files."""
    with Store.open(folder, read_only=True) as store:
        identity = store.identity()
        cells = store.con.execute("SELECT config_hash, experiment, sweep, config FROM cells").fetchall()
        stats = store.summary().to_dict("records")
    ident = identity.hash if identity is not None else stable_hash(str(folder.resolve()))
    steps: dict[str, dict[str, dict[int, dict[str, float]]]] = {}  # cell -> workflow -> generation -> values
    for r in stats:
        values = steps.setdefault(r["config_hash"], {}).setdefault(r["workflow"], {})
        at = values.setdefault(int(r["generation"]), {})
        for name, value in ((r["metric"], r["mean"]), (f"se/{r['metric']}", r["se"])):
            if value is not None and math.isfinite(value):  # a tracker's chart has no NaN
                at[str(name)] = float(value)
    runs = []
    for key, experiment, sweep, config in sorted(cells, key=lambda c: (c[1], c[2])):
        setting = ", ".join(f"{k}={v}" for k, v in json.loads(sweep).items())
        for workflow, series in steps.get(key, {}).items():
            params = {**flatten(json.loads(config)), "workflow": workflow, "config_hash": key}
            name = workflow + (f" [{setting}]" if setting else "")
            run_id = stable_hash([ident, key, workflow])
            runs.append(TrackedRun(experiment, name, run_id, params, dict(sorted(series.items()))))
    return Snapshot(ident, runs, artifacts(folder))


def artifacts(folder: Path) -> list[Path]:
    """The folder's report files and figures (PNG), those that exist."""
    found = [folder / name for name in REPORT_FILES if (folder / name).is_file()]
    figures = folder / "figures"
    return found + (sorted(p for p in figures.rglob("*.png") if p.is_file()) if figures.is_dir() else [])
