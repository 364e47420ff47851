"""Log a results folder to Weights & Biases: a run per cell and workflow (config as its config, generation
as the step), grouped by experiment, and a ``report`` run per experiment holding the report and figures.

Offline by default: the runs are written under ``--log-to wandb:DIR``, else ``WANDB_DIR``, else the
results folder (``wandb sync OUT/wandb/offline-run-*`` uploads them later). ``WANDB_MODE=online`` (a user
who has logged in) sends them at once; ``WANDB_PROJECT`` names the project (default ``modelcollapse``).
"""

from __future__ import annotations

import os
import shutil
from itertools import groupby
from pathlib import Path
from typing import Any

from modelcollapse._rng import stable_hash
from modelcollapse.trackers.base import read


def log(folder: Path, directory: str | None = None) -> str:
    import wandb

    where = Path(directory or os.environ.get("WANDB_DIR") or folder).resolve()
    where.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "project": os.environ.get("WANDB_PROJECT", "modelcollapse"),
        "dir": str(where),
        "mode": os.environ.get("WANDB_MODE", "offline"),
        # no console capture or system metrics: the runs are logged after the fact, from the store
        "settings": wandb.Settings(console="off", x_disable_stats=True, save_code=False, silent=True),
    }
    snap = read(folder)
    ident, runs, files = snap.ident, snap.runs, snap.files
    for name, group in groupby(runs, key=lambda r: r.experiment):
        report = wandb.init(
            name=f"{name}: results folder",
            id=stable_hash([ident, name, "report"]),
            group=name,
            job_type="report",
            config={"folder": str(folder), "identity": ident},
            **common,
        )
        for path in files:  # copied, not linked (wandb.save's way): the run keeps what was logged
            copy = Path(report.dir) / path.relative_to(folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
            report.save(str(copy), base_path=report.dir, policy="now")
        report.finish()
        for run in group:
            tracked = wandb.init(name=run.name, id=run.run_id, group=name, job_type="cell", config=run.params, **common)
            for generation, values in run.steps.items():
                tracked.log(values, step=generation)
            tracked.finish()
    return str(where / "wandb")
