"""Log a results folder to MLflow: an experiment per experiment, a parent run holding the report and
figures, and a child run per cell and workflow (config as parameters, generation as the step).

The tracking URI is ``--log-to mlflow:URI``, else ``MLFLOW_TRACKING_URI``, else a SQLite store in the
results folder (``mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db``). Logging a folder again replaces
its earlier runs (found by the folder's identity tag), so a rerun after a resumed run leaves one copy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

from modelcollapse.trackers.base import TrackedRun, read

TAG = "modelcollapse.folder"
BATCH = 1000  # MLflow's limit on metrics per log_batch call (100 for parameters)


def default_uri(folder: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def artifact_root(uri: str) -> str | None:
    """Beside a SQLite database (MLflow's own default, ./mlruns, depends on the working directory)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow and its migrations log every table they create at INFO."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def log(folder: Path, uri: str | None = None) -> str:
    from mlflow.tracking import MlflowClient

    uri = uri or default_uri(folder)
    snap = read(folder)
    ident, runs, files = snap.ident, snap.runs, snap.files
    with _quiet():
        client = MlflowClient(uri)
        for name, group in groupby(runs, key=lambda r: r.experiment):
            found = client.get_experiment_by_name(name)
            exp_id = found.experiment_id if found else client.create_experiment(name, artifact_root(uri))
            for old in client.search_runs([exp_id], f"tags.`{TAG}` = '{ident}'"):  # ident is hex
                client.delete_run(old.info.run_id)
            parent = client.create_run(exp_id, run_name="results folder", tags={TAG: ident, "folder": str(folder)})
            for path in files:
                where = str(path.parent.relative_to(folder)) if path.parent != folder else None
                client.log_artifact(parent.info.run_id, str(path), where)
            for run in group:
                _log_run(client, exp_id, run, {TAG: ident, "mlflow.parentRunId": parent.info.run_id})
            client.set_terminated(parent.info.run_id)
    return uri


def _log_run(client: Any, exp_id: str, run: TrackedRun, tags: dict[str, str]) -> None:
    from mlflow.entities import Metric, Param

    made = client.create_run(exp_id, run_name=run.name, tags={**tags, "modelcollapse.run": run.run_id})
    rid = made.info.run_id
    params = [Param(k, v) for k, v in run.params.items()]
    for i in range(0, len(params), 100):
        client.log_batch(rid, params=params[i : i + 100])
    metrics = [Metric(k, v, 0, gen) for gen, values in run.steps.items() for k, v in values.items()]
    for i in range(0, len(metrics), BATCH):
        client.log_batch(rid, metrics=metrics[i : i + BATCH])
    client.set_terminated(rid)
